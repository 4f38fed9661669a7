/**
 * Where the SQLite engine keeps the public entries: a full entry bundle (256 entries) as ONE
 * blob, exactly the tlog-tiles bundle bytes (core/bundle.ts), and only the entries of the
 * partial rightmost bundle as rows of `entries`. The commit that fills a bundle writes its blob
 * and deletes its rows in the same transaction, so a commit of 10,000 leaves writes 39 rows
 * instead of 10,000 (issue 11: fewer, larger rows), `/tile/entries/<N>` of a full bundle is one
 * point read, and no entry is stored twice. A log written before this table existed keeps its
 * old entries as rows (read as before, no backfill); its partial bundle becomes a blob when it
 * fills like any other.
 */
import { decodeEntryBundle, encodeEntryBundle } from '../core/bundle.js';
import { Lru } from '../core/lru.js';
import { TILE_WIDTH } from '../core/tiles.js';
import type { Db } from './db.js';

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

/** Decoded bundles kept for entry reads (dedup confirmations read recent entries one by one). */
const DECODED_CACHE = 8;

/** The entries and entry_bundles tables: every read and write of public entries. */
export class EntryBundles {
  readonly #q;
  /** Recently decoded full bundles: immutable, so a stale copy cannot exist. */
  readonly #decoded = new Lru<number, Uint8Array[]>(DECODED_CACHE);

  constructor(db: Db) {
    this.#q = {
      row: db.prepare('SELECT data FROM entries WHERE idx = ?').pluck(),
      rows: db.prepare('SELECT data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').pluck(),
      maxRow: db.prepare('SELECT max(idx) FROM entries').pluck(),
      maxBundle: db.prepare('SELECT max(idx) FROM entry_bundles').pluck(),
      insertRow: db.prepare('INSERT INTO entries (idx, data) VALUES (?, ?)'),
      deleteRows: db.prepare('DELETE FROM entries WHERE idx >= ? AND idx < ?'),
      insertBundle: db.prepare('INSERT INTO entry_bundles (idx, data) VALUES (?, ?)'),
      bundle: db.prepare('SELECT data FROM entry_bundles WHERE idx = ?').pluck(),
    };
  }

  /** Number of entries stored: one more than the highest index, in rows or in full bundles. */
  size(): number {
    const row = this.#q.maxRow.get() as number | null;
    const bundle = this.#q.maxBundle.get() as number | null;
    return Math.max(row === null ? 0 : row + 1, bundle === null ? 0 : (bundle + 1) * TILE_WIDTH);
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

  /** The stored bytes of full bundle `index`, or undefined (not full yet, or filled before blobs). */
  get(index: number): Uint8Array | undefined {
    return (this.#q.bundle.get(index) as Buffer | undefined) ?? undefined;
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
      this.#q.insertBundle.run(b, encodeEntryBundle([...earlier, ...mine]));
      if (earlier.length > 0) this.#q.deleteRows.run(start, from);
      next = start + TILE_WIDTH;
    }
    for (let i = next; i < to; i++) this.#q.insertRow.run(i, entries[i - from]!);
  }

  #decodedBundle(b: number): Uint8Array[] | undefined {
    const hit = this.#decoded.get(b);
    if (hit) return hit;
    const data = this.get(b);
    if (!data) return undefined;
    const entries = decodeEntryBundle(data);
    this.#decoded.set(b, entries);
    return entries;
  }
}
