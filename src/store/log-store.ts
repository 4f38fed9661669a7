/**
 * The log's tables and queries. Every write that changes the tree goes through
 * {@link LogStore.appendBatch}: one transaction that assigns indices, writes entries,
 * payloads, ids and the hash tiles together, so a crash leaves either all of a batch or none.
 */
import { utf8 } from '../core/bytes.js';
import { decodeEntry } from '../core/entry.js';
import { HASH_SIZE, type Sha256 } from '../core/hash.js';
import { leafHash } from '../core/merkle.js';
import { hashesAtLevel, TILE_WIDTH, type TileBuilder, tileHashes } from '../core/tiles.js';
import type { Db } from './db.js';

/** One leaf to append. */
export interface AppendItem {
  /** The public entry bytes (the leaf). */
  readonly entry: Uint8Array;
  /** SHA-256(0x00 || entry), if the caller already computed it. */
  readonly leafHash?: Uint8Array;
  /** Private salt and payload behind the entry's commitment, if any. */
  readonly salt?: Uint8Array;
  readonly payload?: Uint8Array;
  /** (source, id) for dedup and lookup; absent = never deduplicated. */
  readonly source?: string;
  readonly id?: string;
}

/** Where an append landed. */
export interface AppendResult {
  readonly index: number;
  /** True when (source, id) was already in the log: no leaf was added. */
  readonly duplicate: boolean;
}

export interface StoredCheckpoint {
  readonly size: number;
  readonly root: Uint8Array;
  readonly note: string;
  readonly signedAt: number;
}

const KEY_SPACE = 2 ** 52;

const tileKey = (level: number, index: number): number => index * 64 + level;

export class LogStore {
  readonly db: Db;
  readonly #sha: Sha256;
  readonly #q;

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
      upsertTile: db.prepare(
        'INSERT INTO tiles (tile_key, data) VALUES (?, ?) ON CONFLICT(tile_key) DO UPDATE SET data = excluded.data',
      ),
      insertCheckpoint: db.prepare(
        'INSERT INTO checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, ?)',
      ),
      latestCheckpoint: db.prepare(
        'SELECT size, root, note, signed_at FROM checkpoints ORDER BY size DESC LIMIT 1',
      ),
      checkpointAt: db.prepare('SELECT size, root, note, signed_at FROM checkpoints WHERE size = ?'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
    };
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

  /** Salt and payload of `index`, or undefined (none, or erased). */
  payload(index: number): { salt: Uint8Array; payload: Uint8Array } | undefined {
    const row = this.#q.payload.get(index) as { salt: Buffer; payload: Buffer } | undefined;
    return row ? { salt: row.salt, payload: row.payload } : undefined;
  }

  /** Stored bytes of hash tile (level, index) at its current width, or undefined. */
  tile(level: number, index: number): Uint8Array | undefined {
    return (this.#q.tile.get(tileKey(level, index)) as Buffer | undefined) ?? undefined;
  }

  /**
   * The right edge for a tree of `size` leaves, as {@link TileBuilder} takes it: for each
   * level, the hashes of the partial rightmost tile. Throws if the stored tiles disagree with
   * the size (a damaged database).
   */
  loadEdge(size: number): Uint8Array[][] {
    const edge: Uint8Array[][] = [];
    for (let level = 0; hashesAtLevel(size, level) > 0; level++) {
      const n = hashesAtLevel(size, level);
      const width = n % TILE_WIDTH;
      if (width === 0) {
        edge.push([]);
        continue;
      }
      const data = this.tile(level, Math.floor(n / TILE_WIDTH));
      if (!data || data.length < width * HASH_SIZE) {
        throw new Error(
          `tile ${level}/${Math.floor(n / TILE_WIDTH)} is missing or short for tree size ${size}`,
        );
      }
      edge.push(tileHashes(data.subarray(0, width * HASH_SIZE)).map((h) => h.slice()));
    }
    return edge;
  }

  /** 52-bit dedup key of (source, id): the first bytes of SHA-256(source || 0x00 || id). */
  #dedupKey(source: string, id: string): number {
    const s = utf8(source);
    const i = utf8(id);
    const buf = new Uint8Array(s.length + 1 + i.length);
    buf.set(s, 0);
    buf.set(i, s.length + 1);
    const h = this.#sha(buf);
    // 52 bits from bytes 0..6: 6 whole bytes and the high nibble of the 7th.
    return (
      (((h[0]! * 256 + h[1]!) * 256 + h[2]!) * 256 + h[3]!) * 2 ** 20 +
      (h[4]! * 4096 + h[5]! * 16 + (h[6]! >>> 4))
    );
  }

  /**
   * Finds (source, id): returns {index} if present, else {slot}, the free dedup key where it
   * would be inserted. Probes linearly past keys that belong to other (source, id) pairs. Rows
   * written earlier in the same transaction are visible, so duplicates inside one batch are
   * found too.
   */
  #probe(source: string, id: string): { index: number } | { slot: number } {
    let key = this.#dedupKey(source, id);
    for (;;) {
      const idx = this.#q.idAt.get(key) as number | undefined;
      if (idx === undefined) return { slot: key };
      const e = decodeEntry(this.entry(idx)!);
      if (e.src === source && e.id === id) return { index: idx };
      key = (key + 1) % KEY_SPACE;
    }
  }

  /** Index of the entry with (source, id), or undefined. */
  findById(source: string, id: string): number | undefined {
    const r = this.#probe(source, id);
    return 'index' in r ? r.index : undefined;
  }

  /**
   * Appends a batch in ONE transaction: dedup, index assignment, entries, payloads, ids and
   * tiles. `builder` holds the tree's right edge and is advanced; if the transaction fails it
   * is restored, so memory never runs ahead of the database. Returns one result per item.
   */
  appendBatch(items: readonly AppendItem[], builder: TileBuilder): AppendResult[] {
    const before = builder.edge();
    const sizeBefore = builder.size;
    try {
      return this.db.transaction(() => {
        let next = builder.size;
        const results: AppendResult[] = [];
        const leaves: Uint8Array[] = [];
        for (const item of items) {
          if (item.entry.length > 0xffff) throw new Error('entry exceeds 65535 bytes');
          if (item.source !== undefined && item.id !== undefined) {
            const found = this.#probe(item.source, item.id);
            if ('index' in found) {
              results.push({ index: found.index, duplicate: true });
              continue;
            }
            this.#q.insertId.run(found.slot, next);
          }
          this.#q.insertEntry.run(next, item.entry);
          if (item.salt && item.payload) this.#q.insertPayload.run(next, item.salt, item.payload);
          leaves.push(item.leafHash ?? leafHash(item.entry, this.#sha));
          results.push({ index: next, duplicate: false });
          next++;
        }
        for (const t of builder.append(leaves)) this.#q.upsertTile.run(tileKey(t.level, t.index), t.data);
        return results;
      })();
    } catch (err) {
      builder.reset(sizeBefore, before);
      throw err;
    }
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
}
