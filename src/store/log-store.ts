/**
 * The SQLite engine's tables and queries, synchronous (better-sqlite3): the one place their
 * SQL is written (with lookup-index.ts, the follower-built lookup index); sqlite-storage.ts
 * wraps it as a LogStorage. Every write that changes the tree goes through
 * {@link LogStore.appendBatch}: one transaction that assigns indices, writes entries,
 * payloads, the batch's id keys and the hash tiles together, so a crash leaves either all of
 * a batch or none. Nothing in it is keyed at random (issue 11): dedup runs against the
 * in-memory window (dedup-window.ts), and lookups are served by runs the indexer writes behind
 * the commit.
 */
import { bytesEqual, toHex } from '../core/bytes.js';
import { decodeEntry, type Entry, verifyCommitment } from '../core/entry.js';
import { HASH_SIZE, type Sha256 } from '../core/hash.js';
import { leafHash } from '../core/merkle.js';
import { type StoredTile, TILE_WIDTH, type TileBuilder } from '../core/tiles.js';
import { type BlobFile, blobFileOf, type RowOrPlace, rowOrPlaceBytes } from './blob-file.js';
import { EntryBundles } from './bundle-blobs.js';
import type { Db } from './db.js';
import { DEFAULT_DEDUP_WINDOW, DedupWindow, type DedupWindowOptions, NO_KEY } from './dedup-window.js';
import { edgeFromTiles } from './edge.js';
import { EventTags } from './event-tags.js';
import {
  type AppendItem,
  type AppendResult,
  ConflictError,
  EraseError,
  type ErasureRecord,
  type LogIdentity,
  type SearchFilter,
  type StoredBundle,
  type StoredCheckpoint,
  sealItem,
} from './log-storage.js';
import {
  CHUNK_ROWS,
  idKey,
  key52,
  type LeafEvents,
  LookupIndex,
  RUN_AGE_MS,
  RUN_LEAVES,
} from './lookup-index.js';
import { MetaRows } from './meta-rows.js';
import { PayloadBundles } from './payload-bundles.js';
import { PLACE_CHUNK, PlaceChunks } from './place-chunks.js';

export type {
  AppendItem,
  AppendResult,
  ErasureRecord,
  LeafMeta,
  SearchFilter,
  StoredCheckpoint,
} from './log-storage.js';
export { EraseError } from './log-storage.js';
export { key52 } from './lookup-index.js';

const tileKey = (level: number, index: number): number => index * 64 + level;
/** Bytes of a full tile's hashes; its interior nodes follow them in the blob file. */
const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;

/** Rows merged per row indexed (about the number of levels a row climbs at 10M leaves). */
export const MERGE_PACE = 4;
/**
 * Longest a commit's turn of merging runs before the writer takes the next commit, ms: a
 * run's share (~16 steps of 4,096 rows for 8,192 leaves) fits; a slow disk carries the rest.
 */
const TURN_MS = 200;

/** A full tile's blob (hashes, then interior nodes) as a StoredTile. */
const splitTile = (blob: Uint8Array): StoredTile => ({
  data: blob.subarray(0, FULL_TILE_BYTES),
  interior: blob.subarray(FULL_TILE_BYTES),
});

export class LogStore {
  readonly db: Db;
  readonly #sha: Sha256;
  /** Tags of leaves' ids and content for the dedup probe (memory only). */
  readonly #tags: EventTags;
  readonly #q;
  readonly #index: LookupIndex;
  /** The dedup window; created by {@link openWriter} (or the first append) on the committing connection. */
  #window: DedupWindow | undefined;
  /** Rows of merging owed to keep pace with indexing (see {@link background}). */
  #mergeDebt = 0;
  /** The tree size when the window was built: leaves from here on were committed against it. */
  #windowFrom = Number.POSITIVE_INFINITY;
  /** When (performance.now()) the oldest unindexed commit happened; undefined: none. */
  #tailSince: number | undefined;
  readonly #bundles: EntryBundles;
  readonly #payloads: PayloadBundles;
  readonly #metaRows: MetaRows;
  /** Full tiles and bundles completed since the blob-file migration (blob-file.ts); none in memory. */
  readonly #file: BlobFile | undefined;
  /** Places of full tiles in #file, read in chunks (place-chunks.ts); none without a file. */
  readonly #tilePlaces: PlaceChunks | undefined;
  /**
   * During an append transaction: the batch's entries, from index `from`, not yet written
   * (EntryBundles.write stores them at the end, as blobs of the bundles they fill and rows of
   * the rest); reads of them inside the transaction (dedup of later items) come from here.
   */
  #pending: { readonly from: number; readonly entries: Uint8Array[] } | undefined;

  constructor(db: Db, sha: Sha256) {
    this.db = db;
    this.#sha = sha;
    this.#tags = new EventTags(sha);
    this.#index = new LookupIndex(db);
    this.#q = {
      // The row and the place (blob-file.ts) in ONE statement: one read transaction, whose
      // snapshot holds either a tile's partial row or, once a commit completed it, its place;
      // and one round of WAL read locks, ~7 us a statement here, instead of two.
      tile: db.prepare(
        'SELECT data, NULL AS off, NULL AS len FROM tiles WHERE tile_key = ? UNION ALL SELECT NULL, off, len FROM tile_places WHERE tile_key = ?',
      ),
      tileWithInterior: db.prepare(
        'SELECT data, interior, NULL AS off, NULL AS len FROM tiles WHERE tile_key = ? UNION ALL SELECT NULL, NULL, off, len FROM tile_places WHERE tile_key = ?',
      ),
      deleteTile: db.prepare('DELETE FROM tiles WHERE tile_key = ?'),
      upsertTile: db.prepare(
        'INSERT INTO tiles (tile_key, data, interior) VALUES (?, ?, ?) ON CONFLICT(tile_key) DO UPDATE SET data = excluded.data, interior = excluded.interior',
      ),
      insertCheckpoint: db.prepare(
        'INSERT INTO checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, ?)',
      ),
      latestCheckpoint: db.prepare(
        'SELECT size, root, note, signed_at FROM checkpoints ORDER BY size DESC LIMIT 1',
      ),
      checkpointAt: db.prepare('SELECT size, root, note, signed_at FROM checkpoints WHERE size = ?'),
      resignCheckpoint: db.prepare('UPDATE checkpoints SET note = ? WHERE size = ? AND root = ?'),
      insertWithheldId: db.prepare('INSERT INTO withheld_ids (idx, id) VALUES (?, ?)'),
      privateIds: db.prepare(
        'SELECT m.source AS source, w.id AS id FROM leaf_meta m LEFT JOIN withheld_ids w ON w.idx = m.idx WHERE m.idx = ?',
      ),
      deleteLeafMeta: db.prepare('DELETE FROM leaf_meta WHERE idx = ?'),
      deleteRevisions: db.prepare('DELETE FROM leaf_revisions WHERE idx = ?'),
      deleteWithheldId: db.prepare('DELETE FROM withheld_ids WHERE idx = ?'),
      insertErasure: db.prepare(
        'INSERT INTO erasures (idx, erasure_idx, reason, erased_at) VALUES (?, ?, ?, ?)',
      ),
      erasure: db.prepare('SELECT erasure_idx, reason, erased_at FROM erasures WHERE idx = ?'),
      // Search metadata exists exactly for the leaves that hold a payload (both are written
      // together and erased together), so it lists them without reading payload blobs.
      payloadsFrom: db.prepare(
        'SELECT idx, recv_ms AS recv FROM leaf_meta WHERE idx > ? ORDER BY idx LIMIT ?',
      ),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
    };
    this.#file = blobFileOf(db);
    const places = db
      .prepare('SELECT tile_key, off, len FROM tile_places WHERE tile_key >= ? AND tile_key < ?')
      .raw();
    this.#tilePlaces =
      this.#file &&
      new PlaceChunks(db, (level, first) =>
        (places.all(first * 64, (first + PLACE_CHUNK) * 64) as [number, number, number][])
          .filter(([k]) => k % 64 === level)
          .map(([k, off, len]) => [(k - level) / 64, off, len] as const),
      );
    this.#bundles = new EntryBundles(db, this.#file);
    this.#payloads = new PayloadBundles(db);
    this.#metaRows = new MetaRows(db);
  }

  /** Throws BlobFileError if the blob file is shorter than recorded (at open, before reads). */
  checkFiles(): void {
    this.#file?.checkLength();
  }

  /** Closes the blob file (the database is its owner's to close). */
  close(): void {
    this.#file?.close();
  }

  /** Number of leaves stored (one more than the highest index). */
  treeSize(): number {
    return this.#bundles.size();
  }

  /** The entry bytes at `index`, or undefined. */
  entry(index: number): Uint8Array | undefined {
    const p = this.#pending;
    if (p && index >= p.from && index < p.from + p.entries.length) return p.entries[index - p.from];
    return this.#bundles.entry(index);
  }

  /** Entries [lo, hi) in index order. */
  entries(lo: number, hi: number): Uint8Array[] {
    return this.#bundles.range(lo, hi);
  }

  /** The stored blob of full entry bundle `index` and its encoding, or undefined (bundle-blobs.ts). */
  fullBundleStored(index: number): StoredBundle | undefined {
    return this.#bundles.stored(index);
  }

  /** Salt and payload of `index`, or undefined (none, or erased). */
  payload(index: number): { salt: Uint8Array; payload: Uint8Array } | undefined {
    return this.#payloads.payload(index);
  }

  /** Stored bytes of hash tile (level, index) at its current width, or undefined. */
  tile(level: number, index: number): Uint8Array | undefined {
    const place = this.#tilePlaces?.place(level, index);
    if (place) return this.#file!.read(place, FULL_TILE_BYTES);
    const key = tileKey(level, index);
    const r = this.#q.tile.get(key, key) as RowOrPlace | undefined;
    if (!r) return undefined;
    this.#tilePlaces?.learn(level, index, r);
    return rowOrPlaceBytes(r, this.#file, FULL_TILE_BYTES);
  }

  /** Leaf hash of `index` from its level-0 tile, or undefined if not stored. */
  leafHash(index: number): Uint8Array | undefined {
    const t = this.tile(0, Math.floor(index / TILE_WIDTH));
    const o = (index % TILE_WIDTH) * HASH_SIZE;
    return t && t.length >= o + HASH_SIZE ? t.subarray(o, o + HASH_SIZE) : undefined;
  }

  /** Leaf hashes of leaves [lo, hi), reading each level-0 tile once (the indexer's input). */
  #leafHashesIn(lo: number, hi: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let t = Math.floor(lo / TILE_WIDTH); t * TILE_WIDTH < hi; t++) {
      const tile = this.tile(0, t);
      for (let i = Math.max(lo, t * TILE_WIDTH); i < Math.min(hi, (t + 1) * TILE_WIDTH); i++) {
        const o = (i - t * TILE_WIDTH) * HASH_SIZE;
        if (!tile || tile.length < o + HASH_SIZE) throw new Error(`leaf ${i} is missing from its tile`);
        out.push(tile.subarray(o, o + HASH_SIZE));
      }
    }
    return out;
  }

  /** Tile (level, index) with its interior nodes when stored (full tiles), or undefined. */
  tileWithInterior(level: number, index: number): StoredTile | undefined {
    const place = this.#tilePlaces?.place(level, index);
    if (place) return splitTile(this.#file!.read(place));
    const key = tileKey(level, index);
    const r = this.#q.tileWithInterior.get(key, key) as
      | (RowOrPlace & { interior: Buffer | null })
      | undefined;
    if (!r) return undefined;
    if (r.data) return { data: r.data, interior: r.interior ?? undefined };
    this.#tilePlaces?.learn(level, index, r);
    const both = rowOrPlaceBytes(r, this.#file);
    return both && splitTile(both);
  }

  /**
   * The right edge for a tree of `size` leaves, as {@link TileBuilder} takes it: for each
   * level, the hashes of the partial rightmost tile. Throws if the stored tiles disagree with
   * the size (a damaged database).
   */
  loadEdge(size: number): Uint8Array[][] {
    return edgeFromTiles(size, (level, index) => this.tile(level, index));
  }

  /** 52-bit key of an id (lookup-index.ts idKey). */
  #idKey(id: string): number {
    return idKey(id, this.#sha);
  }

  /**
   * The smallest index below `size` whose leaf hash is `leaf`, or undefined. Candidates come
   * from the lookup runs (and the legacy ids) for the indexed leaves, each confirmed against
   * the leaf hash in the tiles, and from a scan of the level-0 tiles of the unindexed tail
   * (bounded by the indexer's lag). The cursor is read before the runs, so a run written in
   * between is seen by the probe: nothing falls between the two.
   */
  findLeaf(leaf: Uint8Array, size: number): number | undefined {
    const from = this.#index.indexedTo();
    const k = key52(leaf);
    let best: number | undefined;
    for (const idx of this.#index.candidates(-1 - k, k)) {
      if (idx >= size || (best !== undefined && idx >= best)) continue;
      const h = this.leafHash(idx);
      if (h && bytesEqual(h, leaf)) best = idx;
    }
    if (best !== undefined) return best;
    for (let t = Math.floor(from / TILE_WIDTH); t * TILE_WIDTH < size; t++) {
      const tile = this.tile(0, t);
      if (!tile) continue;
      for (let o = 0; o + HASH_SIZE <= tile.length; o += HASH_SIZE) {
        const idx = t * TILE_WIDTH + o / HASH_SIZE;
        if (idx >= from && idx < size && bytesEqual(tile.subarray(o, o + HASH_SIZE), leaf)) return idx;
      }
    }
    return undefined;
  }

  /**
   * The source and id entry `index` was appended with: its public `src`/`id`, or, for a field
   * withheld from the leaf, the private value in leaf_meta. Undefined when a withheld value
   * was erased (the entry can no longer be found by it).
   */
  #realIds(index: number): { src: string; id: string } | undefined {
    return realIds(decodeEntry(this.entry(index)!), () => {
      this.#metaRows.flush(); // the batch's own rows too
      return this.#q.privateIds.get(index) as { source: string; id: string | null } | undefined;
    });
  }

  /**
   * Dedup of an item with (source, id) whose id key is `key`, against the window and the
   * batch so far (`local`): {index} of an entry with the same (source, id) and the same
   * content (a resend), else `conflictsWith`, the earliest entry with the same (source, id)
   * and other content. "Same content" is proved with the stored salt: SHA-256(salt ‖ new
   * payload) = the entry's `c`, so no content digest is kept beside the payload (an erased
   * entry, whose salt is gone, matches nothing). Items without a payload (erasures) match on
   * (source, id) alone. Rows written earlier in the same transaction are visible.
   *
   * Candidates are told apart by their event tags (event-tags.ts: learnt once per leaf and
   * kept in the window), and only the earliest whose tags match is read and confirmed: a
   * probe reads O(1) entries however many leaves share the key (before the tags it read and
   * hashed every one, and 1,292 leaves of one id in one batch took ~11 s). A tag collision
   * (odds 2^-32 a pair, unforgeable without the secret) falls back to reading every candidate.
   */
  #probe(
    item: AppendItem & { source: string; id: string },
    key: number,
    local: ReadonlyMap<number, LocalLeaf[]>,
  ): { index: number } | { conflictsWith?: number } {
    const window = this.#window!;
    const same = local.get(key);
    // The common case, a new id: no candidate anywhere, nothing to set up.
    if (same === undefined && !window.has(key)) return {};
    let wantIds = 0;
    let wantContent = 0;
    let sameIds = Number.POSITIVE_INFINITY;
    let sameEvent = Number.POSITIVE_INFINITY;
    const consider = (idx: number, ids: number, content: number): void => {
      if (wantIds === 0) {
        wantIds = this.#tags.ids({ src: item.source, id: item.id });
        wantContent = item.payload === undefined ? 0 : this.#tags.content(item.payload);
      }
      if (ids !== wantIds) return;
      if (idx < sameIds) sameIds = idx;
      if ((wantContent === 0 || content === wantContent) && idx < sameEvent) sameEvent = idx;
    };
    window.candidates(key, (idx) => {
      let ids = window.tagA(idx);
      let content = window.tagB(idx);
      if (ids === 0) {
        ids = this.#tags.ids(this.#realIds(idx));
        content = this.#tags.content(this.payload(idx)?.payload);
        window.setTags(idx, ids, content);
      }
      consider(idx, ids, content);
    });
    for (const leaf of same ?? []) {
      if (leaf.ids === 0) {
        leaf.ids = this.#tags.ids({ src: leaf.item.source!, id: leaf.item.id! });
        leaf.content = this.#tags.content(leaf.item.payload);
      }
      consider(leaf.idx, leaf.ids, leaf.content);
    }
    if (sameEvent !== Number.POSITIVE_INFINITY) {
      if (this.#sameEvent(sameEvent, item)) return { index: sameEvent };
      return this.#probeEvery(item, key, local);
    }
    if (sameIds === Number.POSITIVE_INFINITY) return {};
    return this.#sameIds(sameIds, item) ? { conflictsWith: sameIds } : this.#probeEvery(item, key, local);
  }

  /** True if entry `idx` has the item's real (source, id). */
  #sameIds(idx: number, item: AppendItem & { source: string; id: string }): boolean {
    const e = this.#realIds(idx);
    return e !== undefined && e.id === item.id && e.src === item.source;
  }

  /** True if entry `idx` is the item's event: same (source, id), and same content if it has a payload. */
  #sameEvent(idx: number, item: AppendItem & { source: string; id: string }): boolean {
    return this.#sameIds(idx, item) && (item.payload === undefined || this.#sameContent(idx, item.payload));
  }

  /** {@link #probe} without tags: every candidate read and confirmed (after a tag collision). */
  #probeEvery(
    item: AppendItem & { source: string; id: string },
    key: number,
    local: ReadonlyMap<number, LocalLeaf[]>,
  ): { index: number } | { conflictsWith?: number } {
    let found: number | undefined;
    let conflict: number | undefined;
    const visit = (idx: number): void => {
      if (!this.#sameIds(idx, item)) return;
      if (item.payload === undefined || this.#sameContent(idx, item.payload)) {
        if (found === undefined || idx < found) found = idx;
      } else if (conflict === undefined || idx < conflict) conflict = idx;
    };
    this.#window!.candidates(key, visit);
    for (const leaf of local.get(key) ?? []) visit(leaf.idx);
    if (found !== undefined) return { index: found };
    return conflict !== undefined ? { conflictsWith: conflict } : {};
  }

  /** True if entry `index` commits to `payload`: its stored salt hashes with it to its `c`. */
  #sameContent(index: number, payload: Uint8Array): boolean {
    const salt = this.#payloads.salt(index);
    return salt !== undefined && verifyCommitment(decodeEntry(this.entry(index)!), salt, payload, this.#sha);
  }

  /**
   * How the indexer tells leaves' events apart, for its check of resends that slipped past the
   * window (lookup-index.ts LeafEvents): the real (source, id), and a SHA-256 of the payload (a
   * payload is the deterministic CBOR of the event, so equal digests mean the same content).
   * Kept in memory for one indexing pass, never stored: an unsalted digest of an event must not
   * reach a file. An erased leaf has no payload and matches nothing.
   */
  readonly #events: LeafEvents = {
    idsOf: (index) => {
      const ids = this.#realIds(index);
      return ids && JSON.stringify([ids.src, ids.id]);
    },
    contentOf: (index) => {
      const p = this.payload(index);
      return p && toHex(this.#sha(p.payload));
    },
  };

  /**
   * Indices of every entry with this id (any source), confirmed against the entry, in index
   * order, without late duplicates. `recent` adds candidates of the unindexed tail (the
   * caller's map of recent commits).
   */
  #byId(id: string, recent: readonly number[], source: string | undefined): number[] {
    const key = this.#idKey(id);
    const out = new Set<number>();
    for (const idx of [...this.#index.candidates(key, key), ...recent]) {
      if (out.has(idx)) continue;
      const e = this.#realIds(idx);
      if (e === undefined || e.id !== id || (source !== undefined && e.src !== source)) continue;
      if (!this.#index.isLateDuplicate(idx)) out.add(idx);
    }
    return [...out].sort((a, b) => a - b);
  }

  /** Index of the (earliest) entry with (source, id), or undefined. */
  findById(source: string, id: string, recent: readonly number[] = []): number | undefined {
    return this.findAllById(source, id, recent)[0];
  }

  /**
   * Indices of every entry with (source, id), in index order: the first, and later ones with
   * other content (conflicts); a late duplicate (a resend the window missed) is not listed.
   */
  findAllById(source: string, id: string, recent: readonly number[] = []): number[] {
    return this.#byId(id, recent, source);
  }

  /** Indices of every entry with this id, from any source, in index order (no late duplicates). */
  findByIdAnySource(id: string, recent: readonly number[] = []): number[] {
    return this.#byId(id, recent, undefined);
  }

  /**
   * Indices of leaves matching a search, in index order, after `cursor` (exclusive), at most
   * `limit`. Filters are ANDed; absent ones match everything.
   */
  search(f: SearchFilter, cursor: number, limit: number): number[] {
    const where = ['m.idx > ?'];
    const args: (string | number)[] = [cursor];
    let join = '';
    if (f.revision !== undefined) {
      join = 'JOIN leaf_revisions r ON r.idx = m.idx AND r.revision = ?';
      args.unshift(f.revision);
    }
    const add = (clause: string, value: string | number | undefined) => {
      if (value === undefined) return;
      where.push(clause);
      args.push(value);
    };
    add('m.kind = ?', f.kind);
    add('m.ts_ms >= ?', f.sinceMs);
    add('m.ts_ms < ?', f.untilMs);
    add('m.path = ?', f.path);
    add('m.result = ?', f.result);
    add('m.source = ?', f.source);
    args.push(limit);
    const sql = `SELECT m.idx FROM leaf_meta m ${join} WHERE ${where.join(' AND ')} ORDER BY m.idx LIMIT ?`;
    return this.db
      .prepare(sql)
      .pluck()
      .all(...args) as number[];
  }

  /**
   * Payload-holding leaves received before `recvMs`, oldest first, at most `limit`. Receive
   * times grow with the index (they are taken when a request is queued, and the queue commits
   * in order), so the scan walks the index upward and stops at the first younger leaf: no
   * index on recv_ms is needed.
   */
  expiredPayloads(recvMs: number, limit: number): number[] {
    const out: number[] = [];
    let after = -1;
    for (;;) {
      const rows = this.#q.payloadsFrom.all(after, 256) as { idx: number; recv: number }[];
      for (const r of rows) {
        if (r.recv >= recvMs || out.length >= limit) return out;
        out.push(r.idx);
      }
      if (rows.length < 256) return out;
      after = rows[rows.length - 1]!.idx;
    }
  }

  /** The erasure record of `index`, or undefined if its payload was not erased. */
  erasure(index: number): ErasureRecord | undefined {
    const row = this.#q.erasure.get(index) as
      | { erasure_idx: number; reason: string; erased_at: number }
      | undefined;
    return row ? { erasureIndex: row.erasure_idx, reason: row.reason, erasedAt: row.erased_at } : undefined;
  }

  /**
   * Makes this connection the committing one: creates the dedup window and rebuilds it from
   * the log's tail (newest batch_keys rows back to `opts.maxEntries` leaves or `opts.windowMs`
   * before `nowMs`; never a full scan), and finds the lookup runs a crash left unlisted.
   */
  openWriter(opts: DedupWindowOptions = DEFAULT_DEDUP_WINDOW, nowMs = Date.now()): void {
    this.#window = new DedupWindow(opts);
    this.#index.start();
    const size = this.treeSize();
    this.#windowFrom = size;
    const batches: { firstIdx: number; recvMs: number; keys: Float64Array }[] = [];
    let count = 0;
    let low = size;
    let expired = false;
    this.#index.tailBatches(size, (b) => {
      expired = b.recvMs < nowMs - opts.windowMs - 1000;
      if (expired) return false;
      batches.push(b);
      count += b.keys.length;
      low = b.firstIdx;
      return count < opts.maxEntries;
    });
    const legacy = this.#index.legacySize;
    this.#window.reserve(count + (low === legacy ? Math.min(legacy, opts.maxEntries - count) : 0));
    if (!expired && count < opts.maxEntries && low === legacy && legacy > 0) {
      // A log from before batch_keys: its newest leaves, decoded once (bounded by maxEntries).
      for (let i = Math.max(0, legacy - (opts.maxEntries - count)); i < legacy; i++) {
        const e = decodeEntry(this.entry(i)!);
        const ids = this.#realIds(i);
        this.#window.add(i, ids ? this.#idKey(ids.id) : NO_KEY, e.recv);
      }
    }
    for (const b of batches.reverse()) {
      for (let j = 0; j < b.keys.length; j++) this.#window.add(b.firstIdx + j, b.keys[j]!, b.recvMs);
    }
    this.#window.evictExpired(nowMs);
  }

  /**
   * Appends a batch in ONE transaction: dedup (against the in-memory window), index
   * assignment, entries, payloads, metadata, the batch's id keys and tiles. `builder` holds the
   * tree's right edge and is advanced; if the transaction fails it is restored, and the window
   * is left as it was (it takes the batch's keys only after the commit), so memory never runs
   * ahead of the database. `nowMs` is the receive time the window keeps. One result per item.
   */
  appendBatch(items: readonly AppendItem[], builder: TileBuilder, nowMs = Date.now()): AppendResult[] {
    if (!this.#window) this.openWriter(DEFAULT_DEDUP_WINDOW, nowMs);
    // Expired leaves leave before the probe: a resend beyond the window is a new leaf.
    this.#window!.evictExpired(nowMs);
    const before = builder.edge();
    const sizeBefore = builder.size;
    let out: { results: AppendResult[]; keys: number[] };
    try {
      // IMMEDIATE: take the write lock before the first read. A deferred transaction that
      // reads (the dedup probe) and then writes fails at once with SQLITE_BUSY, without
      // waiting, if another connection (the signer's checkpoint insert) wrote in between.
      out = this.db.transaction(() => this.#appendItems(items, builder, nowMs)).immediate();
    } catch (err) {
      builder.reset(sizeBefore, before);
      this.#file?.rolledBack();
      throw err;
    } finally {
      this.#pending = undefined;
      this.#payloads.end();
      this.#metaRows.discard();
    }
    this.#file?.committed();
    const window = this.#window!;
    for (let i = 0; i < out.keys.length; i++) window.add(sizeBefore + i, out.keys[i]!, nowMs);
    window.evictExpired(nowMs);
    if (out.keys.length > 0) this.#tailSince ??= performance.now();
    // After the commit, outside the transaction: an erasure is complete only once the WAL
    // holds no old copy of the erased rows. A scrub that cannot finish does not undo the
    // (durable) commit; the next one finishes it.
    if (items.some((it) => it.erase)) this.scrubWal();
    return out.results;
  }

  /** The body of {@link appendBatch}'s transaction; also returns each new leaf's id key. */
  #appendItems(
    items: readonly AppendItem[],
    builder: TileBuilder,
    nowMs: number,
  ): { results: AppendResult[]; keys: number[] } {
    let next = builder.size;
    const results: AppendResult[] = [];
    const leaves: Uint8Array[] = [];
    const keys: number[] = [];
    const pending = { from: next, entries: [] as Uint8Array[] };
    this.#pending = pending;
    this.#payloads.begin();
    const local = new Map<number, LocalLeaf[]>();
    for (const item of items) {
      if (item.entry.length > 0xffff) throw new Error('entry exceeds 65535 bytes');
      let conflictsWith: number | undefined;
      let key = NO_KEY;
      if (item.source !== undefined && item.id !== undefined) {
        key = item.idKey ?? this.#idKey(item.id);
        const found = this.#probe(item as AppendItem & { source: string; id: string }, key, local);
        if ('index' in found) {
          results.push({ index: found.index, duplicate: true });
          continue;
        }
        conflictsWith = found.conflictsWith;
        if (conflictsWith !== undefined && item.refuseConflict) {
          throw new ConflictError(`id ${item.id} was logged with other content (entry ${conflictsWith})`);
        }
        const leaf: LocalLeaf = { idx: next, item, ids: 0, content: 0 };
        const same = local.get(key);
        if (same) same.push(leaf);
        else local.set(key, [leaf]);
      }
      if (item.erase) this.#applyErasure(item.erase, next);
      const sealed = sealItem(item, this.#sha);
      const lh = sealed.leafHash ?? leafHash(sealed.entry, this.#sha);
      this.#insertLeaf(next, sealed);
      leaves.push(lh);
      keys.push(key);
      results.push({
        index: next,
        duplicate: false,
        ...(conflictsWith !== undefined ? { conflictsWith } : {}),
      });
      next++;
    }
    this.#bundles.write(pending.from, pending.entries);
    this.#payloads.flush(next);
    this.#metaRows.flush();
    for (const t of builder.append(leaves)) {
      const key = tileKey(t.level, t.index);
      if (this.#file && t.interior && t.data.length === FULL_TILE_BYTES) {
        this.#file.appendTile(key, t.data, t.interior);
        this.#q.deleteTile.run(key); // its partial row, if an earlier commit left one
      } else this.#q.upsertTile.run(key, t.data, t.interior ?? null);
    }
    if (keys.length > 0) this.#index.insertBatchKeys(next - keys.length, nowMs, Float64Array.from(keys));
    // Last: the blob file's bytes are durable before the transaction records their places.
    this.#file?.syncAppended();
    return { results, keys };
  }

  /** Inserts leaf `index`'s entry, payload and private metadata rows. */
  #insertLeaf(index: number, item: AppendItem): void {
    this.#pending!.entries.push(item.entry);
    if (item.salt && item.payload) this.#payloads.add(index, item.salt, item.payload);
    if (item.meta) {
      const m = item.meta;
      this.#metaRows.add(index, m);
      if (m.privateId !== undefined) this.#q.insertWithheldId.run(index, m.privateId);
    }
  }

  /** Leaves [0, indexedTo) are in the lookup runs (or the legacy ids); the rest is the tail. */
  indexedTo(): number {
    return this.#index.indexedTo();
  }

  /**
   * Indexes the whole unindexed tail of a tree of `size` leaves now (at open, before lookups
   * are served: the map of recent ids that covers the tail is lost with the process). The
   * tail is bounded by the indexer's lag, so this is short. Returns the cursor.
   */
  indexAll(size: number): number {
    // Leaves this connection committed were deduplicated against its window, whose start only
    // moves up; a tail left by an earlier process (whose window may have been larger) is
    // checked against every run.
    const w = this.#window;
    const ours = w !== undefined && this.#index.indexedTo() >= this.#windowFrom;
    const to = this.#index.indexTail(
      size,
      (lo, hi) => this.#leafHashesIn(lo, hi),
      this.#events,
      ours ? w.start : Number.POSITIVE_INFINITY,
    );
    this.#tailSince = undefined;
    return to;
  }

  /**
   * The real ids of the unindexed tail's leaves that were appended with dedup ids, in index
   * order: what a process that cannot write the index (a read-only database) keeps in memory
   * to answer lookups of the tail.
   */
  unindexedIds(size: number): { index: number; id: string }[] {
    const out: { index: number; id: string }[] = [];
    for (const { index, key } of this.#index.keysIn(this.#index.indexedTo(), size)) {
      const ids = key === NO_KEY ? undefined : this.#realIds(index);
      if (ids) out.push({ index, id: ids.id });
    }
    return out;
  }

  /**
   * The committing thread's background work, after a commit (`idle` false) or on an idle
   * tick: indexes the tail of a tree of `size` leaves as one run when it holds RUN_LEAVES
   * leaves or its oldest commit is RUN_AGE_MS old (or `force`: now, and nothing else), then
   * merges (or builds filters, or deletes garbage) in bounded steps: as many as the rows just
   * indexed call for (MERGE_PACE merged rows per indexed row, at most `turnMs` per turn; the
   * rest is carried to the next turn), and on an idle tick for up to ~20 ms. Returns the
   * cursor (leaves [0, cursor) are indexed).
   */
  background(size: number, idle: boolean, force = false, turnMs = TURN_MS): number {
    const t0 = performance.now();
    const from = this.#index.indexedTo();
    let to = from;
    const due =
      size - to >= RUN_LEAVES || (this.#tailSince !== undefined && t0 - this.#tailSince >= RUN_AGE_MS);
    if (size > to && (due || force)) to = this.indexAll(size);
    if (force) return to;
    // Merging keeps pace with indexing, also under sustained load: a run of 8,192 leaves adds
    // ~16k rows, and each row is copied once per level it climbs (~4 levels at 10M leaves with
    // MERGE_FANOUT 8). One step per commit (the earlier rule) fell behind: a 10M log written at
    // full speed was left with 650 unmerged runs, and every new run's late-duplicate check
    // visited them all.
    this.#mergeDebt += (to - from) * 2 * MERGE_PACE;
    let more = this.payMerges(turnMs);
    while (more && idle && performance.now() - t0 < 20) more = this.#index.maintain();
    return to;
  }

  /** True while merging owed to keep pace with indexing is left (see {@link background}). */
  owesMerges(): boolean {
    return this.#mergeDebt > 0;
  }

  /**
   * Pays owed merging in bounded steps for up to `maxMs` (at least one step). A committing
   * thread calls it between its messages, so a merge never holds up a commit or a checkpoint
   * insert for longer than one step. Returns false when no background work was left.
   */
  payMerges(maxMs: number): boolean {
    const t0 = performance.now();
    let more: boolean;
    do {
      more = this.#index.maintain();
      this.#mergeDebt -= CHUNK_ROWS;
    } while (more && this.#mergeDebt > 0 && performance.now() - t0 < maxMs);
    if (!more || this.#mergeDebt < 0) this.#mergeDebt = 0;
    return more;
  }

  /**
   * Runs background maintenance (merges, filter building, garbage deletion) until none is
   * left or `maxMs` passed; true if none is left. For tools that hand a log over with no merge
   * debt (the bench's log generator), not for the serving path (see {@link background}).
   */
  maintainAll(maxMs = Number.POSITIVE_INFINITY): boolean {
    const t0 = performance.now();
    while (performance.now() - t0 < maxMs) if (!this.#index.maintain()) return true;
    return false;
  }

  #applyErasure(erase: { index: number; reason: string }, erasureIndex: number): void {
    const target = this.entry(erase.index);
    if (!target) throw new EraseError('no_such_entry', `no entry at index ${erase.index}`);
    if (decodeEntry(target).kind === 'erasure') {
      throw new EraseError('not_erasable', `entry ${erase.index} is an erasure entry`);
    }
    if (this.erasure(erase.index))
      throw new EraseError('already_erased', `entry ${erase.index} is already erased`);
    this.#metaRows.flush(); // so the deletes below also find rows of this batch
    // The payload, its salt and every private field derived from it (search metadata,
    // bundle revisions); secure_delete (db.ts) zeroes the freed bytes.
    this.#payloads.erase(erase.index);
    this.#window?.forgetTags(erase.index); // its payload and private ids are gone: tags stale
    this.#q.deleteLeafMeta.run(erase.index);
    this.#q.deleteRevisions.run(erase.index);
    this.#q.deleteWithheldId.run(erase.index);
    this.#q.insertErasure.run(erase.index, erasureIndex, erase.reason, Date.now());
  }

  /**
   * Copies every committed page from the WAL into the database file and truncates the WAL to
   * zero bytes, so the WAL keeps no old copy of a page an erasure zeroed. Run after a commit
   * that erased; waits (busy_timeout) for readers of older snapshots. Returns false if a reader
   * kept it from completing (the next erasure's scrub, or SQLite's own checkpoints, finish it).
   */
  scrubWal(): boolean {
    const row = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    return row[0]?.busy === 0;
  }

  /** Records a signed checkpoint. Fails (PRIMARY KEY) if a checkpoint of that size exists. */
  insertCheckpoint(cp: StoredCheckpoint): void {
    this.#q.insertCheckpoint.run(cp.size, cp.root, cp.note, cp.signedAt);
  }

  #toCheckpoint(row: { size: number; root: Buffer; note: string; signed_at: number } | undefined) {
    return row ? { size: row.size, root: row.root, note: row.note, signedAt: row.signed_at } : undefined;
  }

  /** The largest signed checkpoint, or undefined if none was ever signed. */
  latestCheckpoint(): StoredCheckpoint | undefined {
    return this.#toCheckpoint(this.#q.latestCheckpoint.get() as never);
  }

  /** The signed checkpoint of exactly `size`, or undefined. */
  checkpointAt(size: number): StoredCheckpoint | undefined {
    return this.#toCheckpoint(this.#q.checkpointAt.get(size) as never);
  }

  getMeta(key: string): string | undefined {
    return (this.#q.getMeta.get(key) as string | undefined) ?? undefined;
  }

  setMeta(key: string, value: string): void {
    this.#q.setMeta.run(key, value);
  }

  /**
   * Replaces the note of checkpoint `size` if its root is `root` (a note with more signatures
   * over the same checkpoint); false if no such row exists.
   */
  resignCheckpoint(size: number, root: Uint8Array, note: string): boolean {
    return this.#q.resignCheckpoint.run(note, size, root).changes === 1;
  }

  /** The recorded origin, current and retired keys ({@link identityFromMeta}). */
  identity(): LogIdentity {
    return identityFromMeta((k) => this.getMeta(k));
  }

  /** Records the log's origin, current and retired keys in one transaction ({@link identityMetaRows}). */
  setIdentity(origin: string, vkeys: readonly string[], retiredVkeys: readonly string[]): void {
    this.db.transaction(() => {
      for (const [k, v] of identityMetaRows(origin, vkeys, retiredVkeys)) this.setMeta(k, v);
    })();
  }
}

/** A leaf of the batch being committed, as the dedup probe sees it (tags 0 until needed). */
interface LocalLeaf {
  readonly idx: number;
  readonly item: AppendItem;
  ids: number;
  content: number;
}

/**
 * The source and id an entry was appended with, for every engine: its public `src`/`id`, or,
 * when a field was withheld from the leaf, the private values `priv` reads (leaf_meta's source,
 * withheld_ids' id; read only then). Undefined when the withheld values were erased.
 */
export function realIds(
  e: Entry,
  priv: () => { source: string; id: string | null } | undefined,
): { src: string; id: string } | undefined {
  const f = e.flags;
  if (!f || !(f.includes('withheld_id') || f.includes('withheld_src'))) return e;
  const row = priv();
  return row ? { src: row.source, id: row.id ?? e.id } : undefined;
}

/**
 * The identity recorded in `meta` rows (read through `get`), for every engine: `origin`, the
 * current keys (`vkeys`, one per line) and retired keys (`retired_vkeys`). A database from
 * before key rotation has only `vkey`: its one key.
 */
export function identityFromMeta(get: (key: string) => string | undefined): LogIdentity {
  const lines = (k: string): string[] | undefined =>
    get(k)
      ?.split('\n')
      .filter((l) => l !== '');
  const origin = get('origin');
  const legacy = get('vkey');
  const vkeys = lines('vkeys') ?? (legacy !== undefined ? [legacy] : undefined);
  const retiredVkeys = lines('retired_vkeys');
  return {
    ...(origin !== undefined ? { origin } : {}),
    ...(vkeys !== undefined ? { vkeys } : {}),
    ...(retiredVkeys !== undefined ? { retiredVkeys } : {}),
  };
}

/**
 * The `meta` rows (key, value) that record an identity, for every engine; `vkey` keeps the
 * first current key, as builds from before key rotation read it.
 */
export function identityMetaRows(
  origin: string,
  vkeys: readonly string[],
  retiredVkeys: readonly string[],
): [string, string][] {
  return [
    ['origin', origin],
    ...(vkeys[0] !== undefined ? [['vkey', vkeys[0]] as [string, string]] : []),
    ['vkeys', vkeys.join('\n')],
    ['retired_vkeys', retiredVkeys.join('\n')],
  ];
}
