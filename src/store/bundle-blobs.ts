/**
 * Where the SQLite engine keeps the public entries: a full entry bundle (256 entries) as ONE
 * blob, one gzip member of exactly the tlog-tiles bundle bytes (core/bundle.ts), served
 * verbatim to HTTP clients that accept gzip, and only the entries of the partial rightmost
 * bundle as rows of `entries`. The commit that fills a bundle writes its blob and deletes its
 * rows in the same transaction, so a commit of 10,000 leaves writes 39 rows instead of 10,000
 * (issue 11: fewer, larger rows), `/tile/entries/<N>` of a full bundle is one point read, and
 * no entry is stored twice. A log written before this table existed keeps its old entries as
 * rows (read as before, no backfill); its partial bundle becomes a blob when it fills like any
 * other. Blobs written before BUNDLE_ENCODING_MIGRATION (below its `gzip_from`) stay raw bundle
 * bytes and are read as before (no backfill either).
 */
import { gzipSync } from 'node:zlib';
import { decodeEntryBundle, encodeEntryBundle } from '../core/bundle.js';
import { Lru } from '../core/lru.js';
import { TILE_WIDTH } from '../core/tiles.js';
import { type BlobFile, type RowOrPlace, rowOrPlaceBytes } from './blob-file.js';
import type { Db } from './db.js';
import { rawBundleBytes, type StoredBundle } from './log-storage.js';
import { PLACE_CHUNK, PlaceChunks } from './place-chunks.js';

/**
 * The migration that adds the table (in db.ts's MIGRATIONS). One row per full bundle, keyed by
 * the bundle index; never updated or deleted (entries are public and never erased).
 */
export const BUNDLE_BLOBS_MIGRATION = `
  -- Full entry bundles (C2SP tlog-tiles tile/entries/<N>), exactly the bundle bytes, written in
  -- the transaction that appends their 256th entry, which also deletes their rows from entries
  -- (src/store/bundle-blobs.ts). Bundles filled before this migration keep their rows.
  CREATE TABLE IF NOT EXISTS entry_bundles (
    idx  INTEGER PRIMARY KEY,
    data BLOB NOT NULL
  );
  `;

/**
 * The migration that makes a blob's stored form explicit (appended to db.ts's MIGRATIONS): the
 * index from which blobs are gzip, fixed once at the bundle after the last blob written before
 * it. Constant time (a max() on the primary key), and harmless to re-run, which ALTER TABLE ADD
 * COLUMN would not be (see the SQL comment).
 */
export const BUNDLE_ENCODING_MIGRATION = `
  -- How entry_bundles blobs are stored (src/store/bundle-blobs.ts): a blob with idx >= gzip_from
  -- is one gzip member of exactly the tlog-tiles bundle bytes (~70 B per leaf instead of ~192
  -- for OPA decisions, and the very bytes an HTTP client that accepts gzip is sent); one below
  -- it, written before this migration, is the raw bundle bytes (no backfill: start-up stays
  -- constant time). One boundary rather than a column per row: blobs are written in index
  -- order, one commit after another, and never rewritten or deleted, so every row's form
  -- follows from its idx, never from sniffing its bytes; and unlike ALTER TABLE ADD COLUMN
  -- this re-runs harmlessly (IF NOT EXISTS / OR IGNORE) on a database whose user_version was
  -- set back, as the other migrations do. One row.
  CREATE TABLE IF NOT EXISTS entry_bundle_encoding (
    one       INTEGER PRIMARY KEY CHECK (one = 0),
    gzip_from INTEGER NOT NULL
  );
  INSERT OR IGNORE INTO entry_bundle_encoding (one, gzip_from)
    SELECT 0, coalesce(max(idx) + 1, 0) FROM entry_bundles;
  `;

/**
 * zlib level of stored bundles: on OPA decision bundles level 1 is within 1 % of level 6 in
 * size (70.3 vs 69.7 B per leaf) at ~70 % of its CPU, which the writer thread pays per bundle.
 * Also the level tiles.ts used for on-demand gzip, so the gzip form of a bundle is the same
 * bytes whether it was stored or compressed when asked for.
 */
const BUNDLE_GZIP_LEVEL = 1;

/**
 * Decoded bundles kept for entry reads (dedup confirmations read recent entries one by one;
 * each miss inflates a whole bundle, ~100-200 us). Memory: 8 raw bundles and their entry
 * views, ~0.4 MiB for OPA decisions (~49 KiB a bundle), at most 8 x 16 MiB for 64 KiB entries.
 */
const DECODED_CACHE = 8;

/** The entries and entry_bundles tables: every read and write of public entries. */
export class EntryBundles {
  readonly #q;
  /** Recently decoded full bundles: immutable, so a stale copy cannot exist. */
  readonly #decoded = new Lru<number, Uint8Array[]>(DECODED_CACHE);

  /** Blobs of bundles from this index on are gzip, those below raw (BUNDLE_ENCODING_MIGRATION). */
  readonly #gzipFrom: number;

  /** Where full bundles completed since the blob-file migration are (blob-file.ts). */
  readonly #file: BlobFile | undefined;
  /** Their places, read in chunks (place-chunks.ts); none without a file. */
  readonly #places: PlaceChunks | undefined;

  constructor(db: Db, file?: BlobFile) {
    this.#file = file;
    const places = db.prepare('SELECT idx, off, len FROM bundle_places WHERE idx >= ? AND idx < ?').raw();
    this.#places =
      file &&
      new PlaceChunks(db, (_, first) => places.all(first, first + PLACE_CHUNK) as [number, number, number][]);
    this.#gzipFrom = db.prepare('SELECT gzip_from FROM entry_bundle_encoding').pluck().get() as number;
    this.#q = {
      row: db.prepare('SELECT data FROM entries WHERE idx = ?').pluck(),
      rows: db.prepare('SELECT data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').pluck(),
      maxRow: db.prepare('SELECT max(idx) FROM entries').pluck(),
      maxBundle: db.prepare('SELECT max(idx) FROM entry_bundles').pluck(),
      insertRow: db.prepare('INSERT INTO entries (idx, data) VALUES (?, ?)'),
      deleteRows: db.prepare('DELETE FROM entries WHERE idx >= ? AND idx < ?'),
      insertBundle: db.prepare('INSERT INTO entry_bundles (idx, data) VALUES (?, ?)'),
      // The blob row or its place in the blob file in one statement (see LogStore's tile reads).
      bundle: db.prepare(
        'SELECT data, NULL AS off, NULL AS len FROM entry_bundles WHERE idx = ? UNION ALL SELECT NULL, off, len FROM bundle_places WHERE idx = ?',
      ),
    };
  }

  /** Number of entries stored: one more than the highest index, in rows or in full bundles. */
  size(): number {
    const row = this.#q.maxRow.get() as number | null;
    const bundle = Math.max((this.#q.maxBundle.get() as number | null) ?? -1, this.#file?.maxBundle() ?? -1);
    return Math.max(row === null ? 0 : row + 1, (bundle + 1) * TILE_WIDTH);
  }

  /**
   * The entry at `index`, or undefined. Rows are read before blobs: a concurrent commit that
   * fills the bundle inserts the blob and deletes the rows at once, so a reader that missed
   * the rows finds the blob.
   */
  entry(index: number): Uint8Array | undefined {
    const row = this.#q.row.get(index) as Buffer | undefined;
    if (row) return row;
    return this.#decodedBundle(Math.floor(index / TILE_WIDTH))?.[index % TILE_WIDTH];
  }

  /** Entries [lo, hi) in index order (fewer if some are missing). */
  range(lo: number, hi: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let b = Math.floor(lo / TILE_WIDTH); b * TILE_WIDTH < hi; b++) {
      const from = Math.max(lo, b * TILE_WIDTH);
      const to = Math.min(hi, (b + 1) * TILE_WIDTH);
      const rows = this.#q.rows.all(from, to) as Buffer[];
      if (rows.length === to - from) {
        out.push(...rows);
        continue;
      }
      const full = this.#decodedBundle(b);
      if (!full) {
        out.push(...rows);
        return out;
      }
      out.push(...full.slice(from - b * TILE_WIDTH, to - b * TILE_WIDTH));
    }
    return out;
  }

  /**
   * The blob of full bundle `index` as stored (gzip member or raw bytes, and which), or
   * undefined (not full yet, or filled before blobs).
   */
  stored(index: number): StoredBundle | undefined {
    const place = this.#places?.place(0, index);
    const r = place ? undefined : (this.#q.bundle.get(index, index) as RowOrPlace | undefined);
    if (r) this.#places?.learn(0, index, r);
    const bytes = place ? this.#file!.read(place) : r && rowOrPlaceBytes(r, this.#file);
    return bytes && { bytes, gzip: index >= this.#gzipFrom };
  }

  /**
   * Stores entries [from, from + entries.length), inside the commit transaction that appends
   * them: every bundle they fill becomes one blob (with the rows earlier commits left for it,
   * which are deleted), and the rest, the new partial bundle, becomes rows.
   */
  write(from: number, entries: readonly Uint8Array[]): void {
    const to = from + entries.length;
    let next = from;
    for (let b = Math.floor(from / TILE_WIDTH); (b + 1) * TILE_WIDTH <= to; b++) {
      const start = b * TILE_WIDTH;
      // Only the first bundle can have entries from earlier commits (rows below `from`).
      const earlier = start < from ? (this.#q.rows.all(start, from) as Buffer[]) : [];
      if (earlier.length !== Math.max(0, from - start))
        throw new Error(
          `bundle ${b} has ${earlier.length} stored entries before ${from}, not ${from - start}`,
        );
      const mine = entries.slice(next - from, start + TILE_WIDTH - from);
      const bundle = encodeEntryBundle([...earlier, ...mine]);
      // Always at or past gzip_from (blobs only ever fill the next bundles); were it not, the
      // blob would be stored as that boundary says it is, raw.
      const gzip = b >= this.#gzipFrom;
      const blob = gzip ? gzipSync(bundle, { level: BUNDLE_GZIP_LEVEL }) : bundle;
      if (this.#file) this.#file.appendBundle(b, blob);
      else this.#q.insertBundle.run(b, blob);
      if (earlier.length > 0) this.#q.deleteRows.run(start, from);
      next = start + TILE_WIDTH;
    }
    for (let i = next; i < to; i++) this.#q.insertRow.run(i, entries[i - from]!);
  }

  #decodedBundle(b: number): Uint8Array[] | undefined {
    const hit = this.#decoded.get(b);
    if (hit) return hit;
    const stored = this.stored(b);
    if (!stored) return undefined;
    const entries = decodeEntryBundle(rawBundleBytes(stored));
    this.#decoded.set(b, entries);
    return entries;
  }
}
