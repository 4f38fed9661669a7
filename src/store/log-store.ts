/**
 * The SQLite engine's tables and queries, synchronous (better-sqlite3): the one place their
 * SQL is written; sqlite-storage.ts wraps it as a LogStorage. Every write that changes the
 * tree goes through {@link LogStore.appendBatch}: one transaction that assigns indices, writes
 * entries, payloads, ids and the hash tiles together, so a crash leaves either all of a batch
 * or none.
 */
import { bytesEqual, concatBytes, utf8 } from '../core/bytes.js';
import { decodeEntry, type Entry } from '../core/entry.js';
import { HASH_SIZE, type Sha256 } from '../core/hash.js';
import { leafHash } from '../core/merkle.js';
import { type StoredTile, TILE_WIDTH, type TileBuilder } from '../core/tiles.js';
import { BundleBlobs } from './bundle-blobs.js';
import type { Db } from './db.js';
import { edgeFromTiles } from './edge.js';
import {
  type AppendItem,
  type AppendResult,
  ConflictError,
  EraseError,
  type ErasureRecord,
  type LogIdentity,
  type SearchFilter,
  type StoredCheckpoint,
} from './log-storage.js';
import { decodeStoredPayload, encodeStoredPayload } from './payload-codec.js';

export type {
  AppendItem,
  AppendResult,
  ErasureRecord,
  LeafMeta,
  SearchFilter,
  StoredCheckpoint,
} from './log-storage.js';
export { EraseError } from './log-storage.js';

const KEY_SPACE = 2 ** 52;

const tileKey = (level: number, index: number): number => index * 64 + level;

/** The first 52 bits of a hash as a safe integer: 6 whole bytes and the high nibble of the 7th. */
export const key52 = (h: Uint8Array): number =>
  (((h[0]! * 256 + h[1]!) * 256 + h[2]!) * 256 + h[3]!) * 2 ** 20 +
  (h[4]! * 4096 + h[5]! * 16 + (h[6]! >>> 4));

export class LogStore {
  readonly db: Db;
  readonly #sha: Sha256;
  readonly #q;
  readonly #bundles: BundleBlobs;

  constructor(db: Db, sha: Sha256) {
    this.db = db;
    this.#sha = sha;
    this.#q = {
      maxIdx: db.prepare('SELECT max(idx) AS m FROM entries').pluck(),
      entry: db.prepare('SELECT data FROM entries WHERE idx = ?').pluck(),
      entryRange: db.prepare('SELECT data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').pluck(),
      insertEntry: db.prepare('INSERT INTO entries (idx, data) VALUES (?, ?)'),
      insertPayload: db.prepare('INSERT INTO payloads (idx, salt, payload) VALUES (?, ?, ?)'),
      payload: db.prepare('SELECT salt, payload FROM payloads WHERE idx = ?'),
      idAt: db.prepare('SELECT idx FROM ids WHERE key = ?').pluck(),
      insertId: db.prepare('INSERT INTO ids (key, idx) VALUES (?, ?)'),
      tile: db.prepare('SELECT data FROM tiles WHERE tile_key = ?').pluck(),
      tileWithInterior: db.prepare('SELECT data, interior FROM tiles WHERE tile_key = ?'),
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
      insertLeafMeta: db.prepare(
        'INSERT INTO leaf_meta (idx, kind, source, recv_ms, ts_ms, path, result) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      insertWithheldId: db.prepare('INSERT INTO withheld_ids (idx, id) VALUES (?, ?)'),
      privateIds: db.prepare(
        'SELECT m.source AS source, w.id AS id FROM leaf_meta m LEFT JOIN withheld_ids w ON w.idx = m.idx WHERE m.idx = ?',
      ),
      insertRevision: db.prepare('INSERT OR IGNORE INTO leaf_revisions (revision, idx) VALUES (?, ?)'),
      deletePayload: db.prepare('DELETE FROM payloads WHERE idx = ?'),
      deleteLeafMeta: db.prepare('DELETE FROM leaf_meta WHERE idx = ?'),
      deleteRevisions: db.prepare('DELETE FROM leaf_revisions WHERE idx = ?'),
      deleteWithheldId: db.prepare('DELETE FROM withheld_ids WHERE idx = ?'),
      insertErasure: db.prepare(
        'INSERT INTO erasures (idx, erasure_idx, reason, erased_at) VALUES (?, ?, ?, ?)',
      ),
      erasure: db.prepare('SELECT erasure_idx, reason, erased_at FROM erasures WHERE idx = ?'),
      payloadsFrom: db.prepare(
        'SELECT p.idx AS idx, m.recv_ms AS recv FROM payloads p JOIN leaf_meta m ON m.idx = p.idx WHERE p.idx > ? ORDER BY p.idx LIMIT ?',
      ),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
    };
    this.#bundles = new BundleBlobs(db, (lo, hi) => this.entries(lo, hi));
  }

  /** Number of leaves stored (one more than the highest index). */
  treeSize(): number {
    const m = this.#q.maxIdx.get() as number | null;
    return m === null ? 0 : m + 1;
  }

  /** The entry bytes at `index`, or undefined. */
  entry(index: number): Uint8Array | undefined {
    return (this.#q.entry.get(index) as Buffer | undefined) ?? undefined;
  }

  /** Entries [lo, hi) in index order. */
  entries(lo: number, hi: number): Uint8Array[] {
    return this.#q.entryRange.all(lo, hi) as Buffer[];
  }

  /** The stored blob of full entry bundle `index`, or undefined (bundle-blobs.ts). */
  fullBundle(index: number): Uint8Array | undefined {
    return this.#bundles.get(index);
  }

  /** Salt and payload of `index`, or undefined (none, or erased). */
  payload(index: number): { salt: Uint8Array; payload: Uint8Array } | undefined {
    const row = this.#q.payload.get(index) as { salt: Buffer; payload: Buffer } | undefined;
    return row ? { salt: row.salt, payload: decodeStoredPayload(row.payload) } : undefined;
  }

  /** Stored bytes of hash tile (level, index) at its current width, or undefined. */
  tile(level: number, index: number): Uint8Array | undefined {
    return (this.#q.tile.get(tileKey(level, index)) as Buffer | undefined) ?? undefined;
  }

  /** Leaf hash of `index` from its level-0 tile, or undefined if not stored. */
  leafHash(index: number): Uint8Array | undefined {
    const t = this.tile(0, Math.floor(index / TILE_WIDTH));
    const o = (index % TILE_WIDTH) * HASH_SIZE;
    return t && t.length >= o + HASH_SIZE ? t.subarray(o, o + HASH_SIZE) : undefined;
  }

  /** Tile (level, index) with its interior nodes when stored (full tiles), or undefined. */
  tileWithInterior(level: number, index: number): StoredTile | undefined {
    const row = this.#q.tileWithInterior.get(tileKey(level, index)) as
      | { data: Buffer; interior: Buffer | null }
      | undefined;
    return row ? { data: row.data, interior: row.interior ?? undefined } : undefined;
  }

  /**
   * The right edge for a tree of `size` leaves, as {@link TileBuilder} takes it: for each
   * level, the hashes of the partial rightmost tile. Throws if the stored tiles disagree with
   * the size (a damaged database).
   */
  loadEdge(size: number): Uint8Array[][] {
    return edgeFromTiles(size, (level, index) => this.tile(level, index));
  }

  /**
   * 52-bit key of an id: the first bits of SHA-256(id). One key per entry serves both dedup
   * on (source, id) and lookup by id alone: entries with the same id from several sources,
   * and the rare 52-bit collisions, sit in consecutive slots (linear probing), and every hit
   * is confirmed against the entry itself.
   */
  #idKey(id: string): number {
    return key52(this.#sha(utf8(id)));
  }

  /** First free key at or after `key` (linear probing). */
  #freeSlot(key: number): number {
    let k = key;
    while (this.#q.idAt.get(k) !== undefined) k = (k + 1) % KEY_SPACE;
    return k;
  }

  /**
   * The smallest index below `size` whose leaf hash is `leaf`, or undefined. Leaves are keyed
   * in the same table as ids (key = the leaf hash's first 52 bits), each hit confirmed against
   * the leaf hash in the tiles.
   */
  findLeaf(leaf: Uint8Array, size: number): number | undefined {
    let key = key52(leaf);
    let best: number | undefined;
    for (;;) {
      const idx = this.#q.idAt.get(key) as number | undefined;
      if (idx === undefined) return best;
      if (idx < size && (best === undefined || idx < best)) {
        const h = this.leafHash(idx);
        if (h && bytesEqual(h, leaf)) best = idx;
      }
      key = (key + 1) % KEY_SPACE;
    }
  }

  /**
   * Walks the probe chain of `id` (from its key to the first free slot), calling `visit` with
   * each entry index whose entry has this id; stops early when `visit` returns true. Returns
   * the free slot that ends the chain, or undefined if stopped early. Rows written earlier in
   * the same transaction are visible, so duplicates inside one batch are found too.
   */
  #walk(id: string, visit: (index: number, source: string) => boolean): number | undefined {
    let key = this.#idKey(id);
    for (;;) {
      const idx = this.#q.idAt.get(key) as number | undefined;
      if (idx === undefined) return key;
      const e = this.#realIds(idx);
      if (e !== undefined && e.id === id && visit(idx, e.src)) return undefined;
      key = (key + 1) % KEY_SPACE;
    }
  }

  /**
   * The source and id entry `index` was appended with: its public `src`/`id`, or, for a field
   * withheld from the leaf, the private value in leaf_meta. Undefined when a withheld value
   * was erased (the entry can no longer be found by it).
   */
  #realIds(index: number): { src: string; id: string } | undefined {
    return realIds(
      decodeEntry(this.entry(index)!),
      () => this.#q.privateIds.get(index) as { source: string; id: string | null } | undefined,
    );
  }

  /**
   * Dedup of an item with (source, id): {index} of an entry with the same (source, id) and the
   * same content (a resend), else {slot}, the free key where the new entry goes, and
   * `conflictsWith`, the earliest entry with the same (source, id) and other content. "Same
   * content" is proved with the stored salt: SHA-256(salt ‖ new payload) = the entry's `c`, so
   * no content digest is kept beside the payload (an erased entry, whose salt is gone, matches
   * nothing). Items without a payload (erasures) match on (source, id) alone.
   */
  #probe(
    item: AppendItem & { source: string; id: string },
  ): { index: number } | { slot: number; conflictsWith?: number } {
    let found: number | undefined;
    let conflict: number | undefined;
    const slot = this.#walk(item.id, (idx, src) => {
      if (src !== item.source) return false;
      if (item.payload === undefined || this.#sameContent(idx, item.payload)) {
        found = idx;
        return true;
      }
      if (conflict === undefined || idx < conflict) conflict = idx;
      return false;
    });
    if (found !== undefined) return { index: found };
    return { slot: slot!, ...(conflict !== undefined ? { conflictsWith: conflict } : {}) };
  }

  /** True if entry `index` commits to `payload`: its stored salt hashes with it to its `c`. */
  #sameContent(index: number, payload: Uint8Array): boolean {
    const stored = this.payload(index);
    const e = decodeEntry(this.entry(index)!);
    return stored !== undefined && 'c' in e && bytesEqual(this.#sha(concatBytes(stored.salt, payload)), e.c);
  }

  /** Index of the (earliest) entry with (source, id), or undefined. */
  findById(source: string, id: string): number | undefined {
    return this.findAllById(source, id)[0];
  }

  /** Indices of every entry with (source, id), in index order. */
  findAllById(source: string, id: string): number[] {
    const out: number[] = [];
    this.#walk(id, (idx, src) => {
      if (src === source) out.push(idx);
      return false;
    });
    return out.sort((a, b) => a - b);
  }

  /** Indices of every entry with this id, from any source, in index order. */
  findByIdAnySource(id: string): number[] {
    const out = new Set<number>();
    this.#walk(id, (idx) => {
      out.add(idx);
      return false;
    });
    return [...out].sort((a, b) => a - b);
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
   * Appends a batch in ONE transaction: dedup, index assignment, entries, payloads, ids and
   * tiles. `builder` holds the tree's right edge and is advanced; if the transaction fails it
   * is restored, so memory never runs ahead of the database. Returns one result per item.
   */
  appendBatch(items: readonly AppendItem[], builder: TileBuilder): AppendResult[] {
    const before = builder.edge();
    const sizeBefore = builder.size;
    let results: AppendResult[];
    try {
      // IMMEDIATE: take the write lock before the first read. A deferred transaction that
      // reads (the dedup probe) and then writes fails at once with SQLITE_BUSY, without
      // waiting, if another connection (the signer's checkpoint insert) wrote in between.
      results = this.db.transaction(() => this.#appendItems(items, builder)).immediate();
    } catch (err) {
      builder.reset(sizeBefore, before);
      throw err;
    }
    // After the commit, outside the transaction: an erasure is complete only once the WAL
    // holds no old copy of the erased rows. A scrub that cannot finish does not undo the
    // (durable) commit; the next one finishes it.
    if (items.some((it) => it.erase)) this.scrubWal();
    return results;
  }

  /** The body of {@link appendBatch}'s transaction. */
  #appendItems(items: readonly AppendItem[], builder: TileBuilder): AppendResult[] {
    let next = builder.size;
    const results: AppendResult[] = [];
    const leaves: Uint8Array[] = [];
    for (const item of items) {
      if (item.entry.length > 0xffff) throw new Error('entry exceeds 65535 bytes');
      let conflictsWith: number | undefined;
      if (item.source !== undefined && item.id !== undefined) {
        const found = this.#probe(item as AppendItem & { source: string; id: string });
        if ('index' in found) {
          results.push({ index: found.index, duplicate: true });
          continue;
        }
        conflictsWith = found.conflictsWith;
        if (conflictsWith !== undefined && item.refuseConflict) {
          throw new ConflictError(`id ${item.id} was logged with other content (entry ${conflictsWith})`);
        }
        this.#q.insertId.run(found.slot, next);
      }
      if (item.erase) this.#applyErasure(item.erase, next);
      const lh = item.leafHash ?? leafHash(item.entry, this.#sha);
      this.#q.insertId.run(this.#freeSlot(key52(lh)), next);
      this.#q.insertEntry.run(next, item.entry);
      if (item.salt && item.payload)
        this.#q.insertPayload.run(next, item.salt, encodeStoredPayload(item.payload));
      if (item.meta) {
        const m = item.meta;
        this.#q.insertLeafMeta.run(next, m.kind, m.source, m.recvMs, m.tsMs, m.path, m.result);
        if (m.privateId !== undefined) this.#q.insertWithheldId.run(next, m.privateId);
        for (const r of m.revisions) this.#q.insertRevision.run(r, next);
      }
      leaves.push(lh);
      results.push({
        index: next,
        duplicate: false,
        ...(conflictsWith !== undefined ? { conflictsWith } : {}),
      });
      next++;
    }
    this.#bundles.completed(builder.size, next);
    for (const t of builder.append(leaves)) {
      this.#q.upsertTile.run(tileKey(t.level, t.index), t.data, t.interior ?? null);
    }
    return results;
  }

  #applyErasure(erase: { index: number; reason: string }, erasureIndex: number): void {
    const target = this.entry(erase.index);
    if (!target) throw new EraseError('no_such_entry', `no entry at index ${erase.index}`);
    if (decodeEntry(target).kind === 'erasure') {
      throw new EraseError('not_erasable', `entry ${erase.index} is an erasure entry`);
    }
    if (this.erasure(erase.index))
      throw new EraseError('already_erased', `entry ${erase.index} is already erased`);
    // The payload, its salt and every private field derived from it (search metadata,
    // bundle revisions); secure_delete (db.ts) zeroes the freed bytes.
    this.#q.deletePayload.run(erase.index);
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
