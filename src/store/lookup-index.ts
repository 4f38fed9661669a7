/**
 * The follower-built lookup index of the SQLite engine (issue 11): the SQL of `batch_keys`,
 * `lookup_runs`, `lookup_keys` and `late_duplicates`, the indexer that turns the unindexed
 * tail into one sorted run, and the LSM merging of runs. Nothing here runs inside the commit
 * transaction except {@link LookupIndex.insertBatchKeys} (one index-ordered row per batch):
 * runs are written behind the commit by the committing thread, each in its own short
 * transaction, and every row lands at the right end of the B-tree (a run id larger than any
 * before, rows in key order), so no insert dirties a random page. Runs are written as blocks
 * of pairs (lookup-blocks.ts, `lookup_blocks`); runs written before that migration are rows of
 * `lookup_keys`, read as before until a merge turns them into blocks.
 */
import { utf8 } from '../core/bytes.js';
import type { Sha256 } from '../core/hash.js';
import type { Db } from './db.js';
import {
  BLOCK_PAIRS,
  BlockWriter,
  blockIndicesOf,
  continuesAfter,
  decodeBlock,
  LITTLE_ENDIAN,
} from './lookup-blocks.js';

/** The first 52 bits of a hash as a safe integer: 6 whole bytes and the high nibble of the 7th. */
export const key52 = (h: Uint8Array): number =>
  (((h[0]! * 256 + h[1]!) * 256 + h[2]!) * 256 + h[3]!) * 2 ** 20 +
  (h[4]! * 4096 + h[5]! * 16 + (h[6]! >>> 4));

/** A leaf-hash key as stored in lookup_keys: negative, so it never meets an id key (>= 0). */
export const leafKeyOf = (leafHash: Uint8Array): number => -1 - key52(leafHash);

/**
 * 52-bit key of an id: the first bits of SHA-256(id). One key per entry serves both dedup on
 * (source, id) and lookup by id alone: entries with the same id from several sources, and the
 * rare 52-bit collisions, share it, and every hit is confirmed against the entry.
 */
export function idKey(id: string, sha: Sha256): number {
  return key52(sha(utf8(id)));
}

/** Index the tail once it holds this many leaves... */
export const RUN_LEAVES = 8192;
/** ...or once its oldest commit is this old. */
export const RUN_AGE_MS = 500;
/** How often the committing thread looks for background work (indexing, merging) when idle. */
export const IDLE_TICK_MS = 200;
/** Runs of one level merged into one of the next level. */
export const MERGE_FANOUT = 8;
/** Pairs merged (or garbage rows deleted) per maintenance transaction. */
export const CHUNK_ROWS = 8192;
/** Blocks read at once from one source of a merge. */
const REFILL_BLOCKS = 16;
/** Blocks of a garbage run deleted per maintenance transaction. */
const GARBAGE_BLOCKS = 64;

const KEY_SPACE = 2 ** 52;

/**
 * Memory for the runs' Bloom filters (10 bits a key: 32 MiB covers ~27M leaves with ids). A
 * run left without one (over the budget, or not built yet after a start or a merge) is probed
 * with a seek for every new key, which is correct, only slower.
 */
export const MAX_BLOOM_BYTES = 32 * 1024 * 1024;
/** Id keys read per background step while building a run's Bloom filter. */
const BLOOM_CHUNK_KEYS = 65_536;

/**
 * A Bloom filter over the id keys of one lookup run: 10 bits a key, 7 probes, ~1 % false
 * positives, no false negatives. The indexer's late-duplicate check asks it before seeking
 * into the run, so a new key costs about one seek per run that really holds it (instead of one
 * per listed run, a number that grows with the log). Keys are already uniform hash bits
 * (key52), so the probes are double hashing on their two 26-bit halves.
 */
export class KeyBloom {
  readonly #bits: Uint32Array;
  readonly #m: number;

  /** A filter sized for `n` keys, or over the stored bits of one ({@link KeyBloom.fromStored}). */
  constructor(n: number, bits?: Uint32Array) {
    this.#bits = bits ?? new Uint32Array(KeyBloom.bytesFor(n) / 4);
    this.#m = this.#bits.length * 32;
  }

  /** Bytes a filter for `n` keys holds (10 bits a key, whole 32-bit words, at least 64 bits). */
  static bytesFor(n: number): number {
    return Math.max(64, Math.ceil((n * 10) / 32) * 32) / 8;
  }

  /** The filter stored as `bytes` (little-endian 32-bit words, as {@link KeyBloom.stored} writes them). */
  static fromStored(bytes: Uint8Array): KeyBloom {
    if (LITTLE_ENDIAN) return new KeyBloom(0, new Uint32Array(ownedBuffer(bytes)));
    const words = new Uint32Array(bytes.byteLength / 4);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < words.length; i++) words[i] = v.getUint32(i * 4, true);
    return new KeyBloom(0, words);
  }

  /** The bits as stored in lookup_blooms: little-endian 32-bit words. */
  stored(): Uint8Array {
    const out = new Uint8Array(this.#bits.byteLength);
    const v = new DataView(out.buffer);
    for (let i = 0; i < this.#bits.length; i++) v.setUint32(i * 4, this.#bits[i]!, true);
    return out;
  }

  /** Bytes of memory the filter holds. */
  get bytes(): number {
    return this.#bits.byteLength;
  }

  add(key: number): void {
    const h1 = key % 2 ** 26;
    const h2 = Math.floor(key / 2 ** 26) | 1;
    for (let i = 0; i < 7; i++) {
      const b = (h1 + i * h2) % this.#m;
      this.#bits[b >>> 5]! |= 1 << (b & 31);
    }
  }

  /** False only if `key` was never added. */
  has(key: number): boolean {
    const h1 = key % 2 ** 26;
    const h2 = Math.floor(key / 2 ** 26) | 1;
    for (let i = 0; i < 7; i++) {
      const b = (h1 + i * h2) % this.#m;
      if ((this.#bits[b >>> 5]! & (1 << (b & 31))) === 0) return false;
    }
    return true;
  }
}

/**
 * The bytes of `b` as a whole ArrayBuffer of their own, for a typed array over stored
 * little-endian words: the buffer itself when `b` spans all of it (a blob as better-sqlite3
 * returns it: no copy, so a start that loads filters and keys does not hold each twice until
 * the next GC), else a copy (a view into a larger or shared buffer must not keep it alive).
 */
function ownedBuffer(b: Uint8Array): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer)
    return b.buffer;
  // A copy (Buffer#slice would be a view, sharing the buffer).
  return new Uint8Array(b).buffer;
}

/** A batch's per-leaf id keys as stored (little-endian Float64 each). */
export function encodeKeys(keys: Float64Array): Uint8Array {
  const out = new Uint8Array(keys.length * 8);
  const v = new DataView(out.buffer);
  for (let i = 0; i < keys.length; i++) v.setFloat64(i * 8, keys[i]!, true);
  return out;
}

/** Inverse of {@link encodeKeys}. */
export function decodeKeys(blob: Uint8Array): Float64Array {
  // On a little-endian host the stored bytes are the array's own: no per-key work (the
  // window's rebuild at start decodes up to maxEntries keys).
  if (LITTLE_ENDIAN) return new Float64Array(ownedBuffer(blob));
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const out = new Float64Array(blob.byteLength / 8);
  for (let i = 0; i < out.length; i++) out[i] = v.getFloat64(i * 8, true);
  return out;
}

/**
 * Every (run, key, idx) of the listed runs, rows and blocks alike, in run then (key, idx)
 * order: for checks that no leaf is indexed twice (tests, tools), not for the serving path.
 */
export function listedIndexPairs(db: Db): { run: number; key: number; idx: number }[] {
  const out: { run: number; key: number; idx: number }[] = [];
  for (const run of db.prepare('SELECT run FROM lookup_runs ORDER BY run').pluck().all() as number[]) {
    for (const r of db
      .prepare('SELECT key, idx FROM lookup_keys WHERE run = ? ORDER BY key, idx')
      .all(run) as { key: number; idx: number }[])
      out.push({ run, ...r });
    for (const data of db
      .prepare('SELECT data FROM lookup_blocks WHERE run = ? ORDER BY last_key, last_idx')
      .pluck()
      .all(run) as Buffer[]) {
      const b = decodeBlock(data);
      for (let i = 0; i < b.keys.length; i++) out.push({ run, key: b.keys[i]!, idx: b.idxs[i]! });
    }
  }
  return out;
}

/** The runs that have stored pairs (listed or not: unlisted ones are garbage), ascending. */
export function storedRuns(db: Db): number[] {
  return db
    .prepare('SELECT run FROM lookup_keys UNION SELECT run FROM lookup_blocks ORDER BY run')
    .pluck()
    .all() as number[];
}

/** One batch_keys row. */
export interface BatchKeys {
  readonly firstIdx: number;
  readonly recvMs: number;
  readonly keys: Float64Array;
}

/** A source run of a merge: a buffer of its next pairs, and the last (key, idx) read. */
interface MergeSource {
  readonly run: number;
  keys: ArrayLike<number>;
  idxs: ArrayLike<number>;
  at: number;
  key: number;
  idx: number;
  /** No pairs beyond the buffer. */
  done: boolean;
}

/** A merge in progress: its sources and the (unlisted) run being filled. */
interface Merge {
  readonly sources: MergeSource[];
  readonly target: number;
  /** Cuts the target's pairs into blocks (holds the pairs of its unfinished block). */
  readonly writer: BlockWriter;
  /** The target's id keys, as they are copied (stored when the target is listed). */
  readonly bloom: KeyBloom;
  readonly level: number;
  readonly lo: number;
  readonly hi: number;
}

/** A Bloom filter being built for a listed run, and the last (key, idx) read into it. */
interface BloomBuild {
  readonly run: number;
  readonly bloom: KeyBloom;
  key: number;
  idx: number;
}

/**
 * How the indexer tells leaves' events apart (LogStore gives it): `idsOf` is a leaf's real
 * (source, id) as one string, `contentOf` a digest of its payload; equal for two leaves exactly
 * when they have the same ids / the same content. Undefined: the leaf matches nothing (no
 * ids, or its payload was erased). Held in memory for one indexing pass, never stored.
 */
export interface LeafEvents {
  idsOf(index: number): string | undefined;
  contentOf(index: number): string | undefined;
}

/** One stored block row: its pairs' bytes and its last pair. */
interface BlockRow {
  readonly last_key: number;
  readonly last_idx: number;
  readonly data: Buffer;
}

/** The pairs of `rows` (blocks in order) in two arrays. */
function concatBlocks(rows: readonly BlockRow[]): { keys: Float64Array; idxs: Float64Array } {
  const blocks = rows.map((r) => decodeBlock(r.data));
  const n = blocks.reduce((a, b) => a + b.keys.length, 0);
  const keys = new Float64Array(n);
  const idxs = new Float64Array(n);
  let at = 0;
  for (const b of blocks) {
    keys.set(b.keys, at);
    idxs.set(b.idxs, at);
    at += b.keys.length;
  }
  return { keys, idxs };
}

export class LookupIndex {
  readonly #db: Db;
  readonly #q;
  readonly #legacySize: number;
  #nextRun = -1;
  #merge: Merge | undefined;
  readonly #garbage: number[] = [];
  /** Bloom filters of listed runs (see KeyBloom), and the bytes they hold. */
  readonly #blooms = new Map<number, KeyBloom>();
  #bloomBytes = 0;
  /** A filter being built in the background for a listed run that has none. */
  #bloomBuild: BloomBuild | undefined;
  /** Which runs are lookup_keys rows (see #isRowRun); entries of unlisted runs are dropped. */
  readonly #rowRuns = new Map<number, boolean>();

  constructor(db: Db) {
    this.#db = db;
    this.#legacySize = db.prepare('SELECT legacy_size FROM lookup_cursor').pluck().get() as number;
    this.#q = {
      insertBatchKeys: db.prepare('INSERT INTO batch_keys (first_idx, recv_ms, keys) VALUES (?, ?, ?)'),
      batchKeysIn: db.prepare(
        'SELECT first_idx, recv_ms, keys FROM batch_keys WHERE first_idx >= ? AND first_idx < ? ORDER BY first_idx',
      ),
      batchKeysBefore: db.prepare(
        'SELECT first_idx, recv_ms, keys FROM batch_keys WHERE first_idx < ? ORDER BY first_idx DESC LIMIT 64',
      ),
      indexedTo: db.prepare('SELECT indexed_to FROM lookup_cursor').pluck(),
      setIndexedTo: db.prepare('UPDATE lookup_cursor SET indexed_to = ?'),
      // ONE statement, so one snapshot: the rows of listed row runs under the key, and for each
      // listed run the block that would hold it (a merge lists its target and unlists its
      // sources at once, and their blocks become garbage only after that).
      probe: db.prepare(
        `SELECT NULL AS idx,
                (SELECT b.data FROM lookup_blocks b WHERE b.run = r.run AND b.last_key >= @key
                 ORDER BY b.last_key, b.last_idx LIMIT 1) AS data
           FROM lookup_runs r
         UNION ALL
         SELECT idx, NULL FROM lookup_keys WHERE run IN (SELECT run FROM lookup_runs) AND key = @key`,
      ),
      legacyAt: db.prepare('SELECT idx FROM ids WHERE key = ?').pluck(),
      insertBlock: db.prepare(
        'INSERT INTO lookup_blocks (run, last_key, last_idx, data) VALUES (?, ?, ?, ?)',
      ),
      blockAt: db.prepare(
        'SELECT data FROM lookup_blocks WHERE run = ? AND last_key >= ? ORDER BY last_key, last_idx LIMIT 1',
      ),
      blocksAfter: db.prepare(
        'SELECT last_key, last_idx, data FROM lookup_blocks WHERE run = ? AND (last_key, last_idx) > (?, ?) ORDER BY last_key, last_idx LIMIT ?',
      ),
      hasRows: db.prepare('SELECT 1 FROM lookup_keys WHERE run = ? LIMIT 1').pluck(),
      listRun: db.prepare('INSERT INTO lookup_runs (run, level, lo, hi) VALUES (?, ?, ?, ?)'),
      unlistRun: db.prepare('DELETE FROM lookup_runs WHERE run = ?'),
      runs: db.prepare('SELECT run, level, lo, hi FROM lookup_runs ORDER BY run'),
      maxRun: db
        .prepare(
          `SELECT max(coalesce((SELECT max(run) FROM lookup_keys), -1), coalesce((SELECT max(run) FROM lookup_blocks), -1),
                      coalesce((SELECT max(run) FROM lookup_runs), -1))`,
        )
        .pluck(),
      nextRunAfter: db.prepare('SELECT run FROM lookup_keys WHERE run > ? ORDER BY run LIMIT 1').pluck(),
      nextBlockRunAfter: db
        .prepare('SELECT run FROM lookup_blocks WHERE run > ? ORDER BY run LIMIT 1')
        .pluck(),
      deleteBlockChunk: db.prepare(
        'DELETE FROM lookup_blocks WHERE rowid IN (SELECT rowid FROM lookup_blocks WHERE run = ? LIMIT ?)',
      ),
      runRowsAfter: db.prepare(
        'SELECT key, idx FROM lookup_keys WHERE run = ? AND (key, idx) > (?, ?) ORDER BY key, idx LIMIT ?',
      ),
      deleteRunChunk: db.prepare(
        'DELETE FROM lookup_keys WHERE run = @run AND key <= coalesce((SELECT key FROM lookup_keys WHERE run = @run ORDER BY key LIMIT 1 OFFSET @rows), 9e18)',
      ),
      probeRun: db.prepare('SELECT idx FROM lookup_keys WHERE run = ? AND key = ?').pluck(),
      storeBloom: db.prepare('INSERT OR REPLACE INTO lookup_blooms (run, bits) VALUES (?, ?)'),
      dropBloom: db.prepare('DELETE FROM lookup_blooms WHERE run = ?'),
      // Sizes first (length() of a blob reads its header, not its pages): a start reads the
      // bits of only the filters it keeps.
      listedBloomSizes: db.prepare(
        'SELECT b.run AS run, length(b.bits) AS bytes FROM lookup_blooms b JOIN lookup_runs r ON r.run = b.run ORDER BY b.run DESC',
      ),
      bloomBits: db.prepare('SELECT bits FROM lookup_blooms WHERE run = ?').pluck(),
      idKeysAfter: db
        .prepare('SELECT key FROM lookup_keys WHERE run = ? AND key > ? ORDER BY key LIMIT ?')
        .pluck(),
      insertLate: db.prepare('INSERT OR IGNORE INTO late_duplicates (idx, first_idx) VALUES (?, ?)'),
      lateIn: db.prepare('SELECT idx FROM late_duplicates WHERE idx = ?').pluck(),
    };
  }

  /** Leaves below this were keyed in the legacy `ids` table (schema 5); 0 for a newer log. */
  get legacySize(): number {
    return this.#legacySize;
  }

  /** The durable cursor: leaves [0, indexedTo) are in listed runs (or the legacy ids). */
  indexedTo(): number {
    return this.#q.indexedTo.get() as number;
  }

  /** Records a committed batch's id keys (inside the commit transaction). */
  insertBatchKeys(firstIdx: number, recvMs: number, keys: Float64Array): void {
    this.#q.insertBatchKeys.run(firstIdx, recvMs, encodeKeys(keys));
  }

  /**
   * Visits batch_keys rows newest first, starting below `before`, until `visit` returns false
   * or none is left: the dedup window's rebuild reads only the tail it keeps.
   */
  tailBatches(before: number, visit: (b: BatchKeys) => boolean): void {
    let from = before;
    for (;;) {
      const rows = this.#q.batchKeysBefore.all(from) as {
        first_idx: number;
        recv_ms: number;
        keys: Buffer;
      }[];
      for (const r of rows) {
        if (!visit({ firstIdx: r.first_idx, recvMs: r.recv_ms, keys: decodeKeys(r.keys) })) return;
      }
      if (rows.length < 64) return;
      from = rows[rows.length - 1]!.first_idx;
    }
  }

  /** The id keys of leaves [lo, hi) (batch boundaries), in index order, from batch_keys. */
  keysIn(lo: number, hi: number): { index: number; key: number }[] {
    const out: { index: number; key: number }[] = [];
    for (const r of this.#q.batchKeysIn.all(lo, hi) as { first_idx: number; keys: Buffer }[]) {
      const keys = decodeKeys(r.keys);
      for (let j = 0; j < keys.length; j++) out.push({ index: r.first_idx + j, key: keys[j]! });
    }
    return out;
  }

  /**
   * Leaf indices stored under `key` (an id key, or a {@link leafKeyOf} key) in every listed run
   * and, for leaves below the legacy size, along the legacy `ids` probe chain of `legacyKey`
   * (that table mixed both kinds, so every index on the chain is a candidate). Candidates
   * only: the caller confirms each against the entry.
   */
  candidates(key: number, legacyKey: number): number[] {
    const out: number[] = [];
    let split = false;
    for (const r of this.#q.probe.all({ key }) as {
      idx: number | null;
      data: Buffer | null;
    }[]) {
      if (r.idx !== null) out.push(r.idx);
      if (r.data === null) continue;
      const b = decodeBlock(r.data);
      out.push(...blockIndicesOf(b, key));
      if (continuesAfter(b, key)) split = true;
    }
    // A key with more pairs than a block holds (resends of one id past the dedup window) spans
    // blocks: read them all again, run by run, in one snapshot.
    if (split) return this.#db.transaction(() => this.#candidatesRunByRun(key, legacyKey))();
    return [...out, ...this.legacyCandidates(legacyKey)];
  }

  /** {@link candidates}, one run at a time (call inside a transaction: one snapshot). */
  #candidatesRunByRun(key: number, legacyKey: number): number[] {
    const out: number[] = [];
    for (const { run } of this.#q.runs.all() as { run: number }[]) out.push(...this.#probeRun(run, key));
    return [...out, ...this.legacyCandidates(legacyKey)];
  }

  /** Leaf indices under `key` in run `run` (rows or blocks, following a key that spans blocks). */
  #probeRun(run: number, key: number): number[] {
    if (this.#isRowRun(run)) return this.#q.probeRun.all(run, key) as number[];
    const out: number[] = [];
    const first = this.#q.blockAt.get(run, key) as { data: Buffer } | undefined;
    if (!first) return out;
    let b = decodeBlock(first.data);
    out.push(...blockIndicesOf(b, key));
    while (continuesAfter(b, key)) {
      const next = this.#q.blocksAfter.get(run, key, b.idxs[b.idxs.length - 1]!, 1) as BlockRow | undefined;
      if (!next) break;
      b = decodeBlock(next.data);
      out.push(...blockIndicesOf(b, key));
    }
    return out;
  }

  /** The indices on the legacy `ids` probe chain of `key` (none on a log without legacy leaves). */
  legacyCandidates(key: number): number[] {
    const out: number[] = [];
    if (this.#legacySize === 0) return out;
    for (let k = key; ; k = (k + 1) % KEY_SPACE) {
      const idx = this.#q.legacyAt.get(k) as number | undefined;
      if (idx === undefined) return out;
      out.push(idx);
    }
  }

  /** True if leaf `index` was flagged as a late duplicate of an earlier leaf. */
  isLateDuplicate(index: number): boolean {
    return this.#q.lateIn.get(index) !== undefined;
  }

  /**
   * Finds the unlisted runs left by a crash (deleted in chunks by {@link maintain}) and the
   * next run id; once per connection that writes runs.
   */
  start(): void {
    if (this.#nextRun >= 0) return;
    const listed = new Set((this.#q.runs.all() as { run: number }[]).map((r) => r.run));
    const garbage = new Set<number>();
    for (const next of [this.#q.nextRunAfter, this.#q.nextBlockRunAfter]) {
      for (
        let r = next.get(-1) as number | undefined;
        r !== undefined;
        r = next.get(r) as number | undefined
      ) {
        if (!listed.has(r)) garbage.add(r);
      }
    }
    this.#garbage.push(...[...garbage].sort((a, b) => a - b));
    this.#nextRun = (this.#q.maxRun.get() as number) + 1;
    // The stored filters of listed runs, newest first, as far as the budget goes: a start
    // reads ~1.25 bytes per leaf instead of rebuilding them from the runs' keys.
    for (const r of this.#q.listedBloomSizes.all() as { run: number; bytes: number }[]) {
      if (!this.#fits(r.bytes)) continue;
      this.#keep(r.run, KeyBloom.fromStored(this.#q.bloomBits.get(r.run) as Buffer));
    }
  }

  /**
   * Writes the unindexed tail [indexedTo, size) as one sorted run in ONE transaction that also
   * lists the run, flags late duplicates and advances indexed_to: a crash leaves all of it or
   * none. `leafHashes(lo, hi)` reads those leaves' hashes (level-0 tiles); `events` tells a
   * leaf's event (see {@link LeafEvents}), which confirms a late duplicate. `dedupedFrom`: every leaf of the tail was
   * deduplicated at its commit against all leaves at or above this index (the dedup window's
   * start), so a listed run that lies entirely at or above it cannot hold a late duplicate of
   * them and is not sought (Infinity: seek every run). Returns the new cursor.
   */
  indexTail(
    size: number,
    leafHashes: (lo: number, hi: number) => Uint8Array[],
    events: LeafEvents,
    dedupedFrom = Number.POSITIVE_INFINITY,
  ): number {
    const lo = this.indexedTo();
    if (size <= lo) return lo;
    this.start();
    const keys: number[] = [];
    const idxs: number[] = [];
    for (const r of this.#q.batchKeysIn.all(lo, size) as { first_idx: number; keys: Buffer }[]) {
      const k = decodeKeys(r.keys);
      for (let j = 0; j < k.length; j++) {
        if (k[j]! < 0) continue;
        keys.push(k[j]!);
        idxs.push(r.first_idx + j);
      }
    }
    leafHashes(lo, size).forEach((h, i) => {
      keys.push(leafKeyOf(h));
      idxs.push(lo + i);
    });
    // A typed array of positions, compared with < and > (a comparator returning the difference
    // of two 52-bit keys allocated a heap number per comparison).
    const order = new Uint32Array(keys.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => {
      const ka = keys[a]!;
      const kb = keys[b]!;
      return ka < kb ? -1 : ka > kb ? 1 : idxs[a]! < idxs[b]! ? -1 : idxs[a]! > idxs[b]! ? 1 : 0;
    });
    const run = this.#nextRun++;
    const ids: { key: number; idx: number }[] = [];
    let bloom: KeyBloom | undefined;
    this.#db.transaction(() => {
      const writer = this.#blockWriter(run);
      for (const o of order) writer.add(keys[o]!, idxs[o]!);
      writer.finish();
      for (const o of order) if (keys[o]! >= 0) ids.push({ key: keys[o]!, idx: idxs[o]! });
      this.#flagLateDuplicates(ids, events, dedupedFrom);
      this.#q.listRun.run(run, 0, lo, size);
      this.#q.setIndexedTo.run(size);
      bloom = new KeyBloom(ids.length);
      for (const r of ids) bloom.add(r.key);
      this.#q.storeBloom.run(run, bloom.stored());
    })();
    if (bloom) this.#keep(run, bloom);
    return size;
  }

  /**
   * True if run `run` is stored as lookup_keys rows (written before blocks existed), false if
   * as blocks; asked once per run (a run's form never changes), so a probe costs one statement.
   */
  #isRowRun(run: number): boolean {
    let rows = this.#rowRuns.get(run);
    if (rows === undefined) {
      rows = this.#q.hasRows.get(run) !== undefined;
      this.#rowRuns.set(run, rows);
    }
    return rows;
  }

  /** A writer of run `run`'s blocks (pairs given in (key, idx) order; call inside a transaction). */
  #blockWriter(run: number): BlockWriter {
    this.#rowRuns.set(run, false);
    return new BlockWriter((data, lastKey, lastIdx) => this.#q.insertBlock.run(run, lastKey, lastIdx, data));
  }

  /**
   * Flags each leaf of the new (not yet listed) run that is the same event as an earlier leaf
   * under its id key (in a listed run, the legacy ids, or the new run itself: `ids`, its id
   * pairs in key order) as a late duplicate of the earliest. A listed run is sought only for
   * the keys its Bloom filter may hold, so the JS side sees real resends (and the same id from
   * other sources, rare 52-bit collisions and ~1 % false positives, which cost a seek each).
   * Runs within the dedup window (`lo` >= `dedupedFrom`) are skipped: the commit already
   * compared with those leaves. That is what keeps this check flat as the log grows: the many
   * small recent runs are all in the window, and the older leaves sit in a few large merged
   * runs. Candidates are told apart by their real (source, id) first (an entry read each), and
   * only leaves that share one with a new leaf are compared by content (a payload read each):
   * each leaf is read once, so n leaves under one id (one id from n sources, or n conflicts)
   * cost linear time, not a comparison per pair.
   */
  #flagLateDuplicates(
    ids: readonly { key: number; idx: number }[],
    events: LeafEvents,
    dedupedFrom: number,
  ): void {
    const seek = (this.#q.runs.all() as { run: number; lo: number }[]).filter((r) => r.lo < dedupedFrom);
    for (let a = 0; a < ids.length; ) {
      const key = ids[a]!.key;
      let b = a;
      while (b < ids.length && ids[b]!.key === key) b++;
      const earlier: number[] = [];
      for (const { run } of seek) {
        const bloom = this.#blooms.get(run);
        if (!bloom || bloom.has(key)) earlier.push(...this.#probeRun(run, key));
      }
      if (this.#legacySize > 0) earlier.push(...this.legacyCandidates(key));
      // A lone new leaf whose key nothing earlier holds: nothing to compare (the common case,
      // which allocates nothing here).
      if (earlier.length > 0 || b - a > 1) {
        const fresh = new Set<number>();
        for (let i = a; i < b; i++) fresh.add(ids[i]!.idx);
        this.#flagSameEvents(
          [...new Set([...earlier, ...fresh])].sort((x, y) => x - y),
          fresh,
          events,
        );
      }
      a = b;
    }
  }

  /** Flags each of `fresh` that is the same event as an earlier leaf of `leaves` (ascending). */
  #flagSameEvents(leaves: readonly number[], fresh: ReadonlySet<number>, events: LeafEvents): void {
    const byIds = new Map<string, number[]>();
    for (const i of leaves) {
      const k = events.idsOf(i);
      if (k === undefined) continue;
      const group = byIds.get(k);
      if (group) group.push(i);
      else byIds.set(k, [i]);
    }
    for (const group of byIds.values()) {
      if (group.length < 2 || !group.some((i) => fresh.has(i))) continue;
      const firstOf = new Map<string, number>();
      for (const i of group) {
        const c = events.contentOf(i);
        if (c === undefined) continue;
        const first = firstOf.get(c);
        if (first === undefined) firstOf.set(c, i);
        else if (fresh.has(i)) this.#q.insertLate.run(i, first);
      }
    }
  }

  /**
   * One bounded step of background work, in its own short transaction: copy a chunk of a merge
   * (starting one when MERGE_FANOUT runs of a level exist), read a chunk of keys into the Bloom
   * filter of a listed run that has none, or delete a chunk of a garbage run.
   * Returns false when there was nothing to do.
   */
  maintain(): boolean {
    this.start(); // the next run id and the garbage of a crash, before any merge picks a target
    if (this.#merge ?? this.#startMerge()) {
      this.#mergeStep();
      return true;
    }
    if (this.#bloomStep()) return true;
    const g = this.#garbage[0];
    if (g === undefined) return false;
    const deleted =
      this.#q.deleteBlockChunk.run(g, GARBAGE_BLOCKS).changes +
      this.#q.deleteRunChunk.run({ run: g, rows: CHUNK_ROWS }).changes;
    if (deleted === 0) this.#garbage.shift();
    return true;
  }

  /** Picks the oldest MERGE_FANOUT runs of the lowest level that has that many. */
  #startMerge(): Merge | undefined {
    const runs = this.#q.runs.all() as { run: number; level: number; lo: number; hi: number }[];
    const byLevel = new Map<number, typeof runs>();
    for (const r of runs) byLevel.set(r.level, [...(byLevel.get(r.level) ?? []), r]);
    for (const level of [...byLevel.keys()].sort((a, b) => a - b)) {
      const rs = byLevel.get(level)!;
      if (rs.length < MERGE_FANOUT) continue;
      const src = rs.slice(0, MERGE_FANOUT);
      const target = this.#nextRun++;
      this.#merge = {
        sources: src.map((r) => ({
          run: r.run,
          keys: [],
          idxs: [],
          at: 0,
          key: Number.MIN_SAFE_INTEGER,
          idx: -1,
          done: false,
        })),
        target,
        writer: this.#blockWriter(target),
        bloom: new KeyBloom(Math.max(...src.map((r) => r.hi)) - Math.min(...src.map((r) => r.lo))),
        level: level + 1,
        lo: Math.min(...src.map((r) => r.lo)),
        hi: Math.max(...src.map((r) => r.hi)),
      };
      return this.#merge;
    }
    return undefined;
  }

  /** Reads the next pairs (REFILL_BLOCKS blocks, or CHUNK_ROWS rows) of a used-up merge source. */
  #refill(src: MergeSource): void {
    if (src.at < src.keys.length || src.done) return;
    src.at = 0;
    if (!this.#isRowRun(src.run)) {
      const rows = this.#q.blocksAfter.all(src.run, src.key, src.idx, REFILL_BLOCKS) as BlockRow[];
      ({ keys: src.keys, idxs: src.idxs } = concatBlocks(rows));
      src.done = rows.length < REFILL_BLOCKS;
    } else {
      const rows = this.#q.runRowsAfter.all(src.run, src.key, src.idx, CHUNK_ROWS) as {
        key: number;
        idx: number;
      }[];
      src.keys = rows.map((r) => r.key);
      src.idxs = rows.map((r) => r.idx);
      src.done = rows.length < CHUNK_ROWS;
    }
    const n = src.keys.length;
    if (n > 0) {
      src.key = src.keys[n - 1]!;
      src.idx = src.idxs[n - 1]!;
    }
  }

  /**
   * Copies the next CHUNK_ROWS rows, in (key, idx) order, of the merge's sources (a k-way
   * merge of their buffers: each row is read once) into its unlisted target run; once they are
   * exhausted, lists the target and unlists the sources in one transaction (their rows become
   * garbage). A failed step abandons the merge (its target becomes garbage; it starts over).
   */
  #mergeStep(): void {
    const m = this.#merge!;
    const keys: number[] = [];
    const idxs: number[] = [];
    while (keys.length < CHUNK_ROWS) {
      let best: MergeSource | undefined;
      let bestKey = 0;
      let bestIdx = 0;
      for (const src of m.sources) {
        this.#refill(src);
        if (src.at >= src.keys.length) continue;
        const k = src.keys[src.at]!;
        const i = src.idxs[src.at]!;
        if (!best || k < bestKey || (k === bestKey && i < bestIdx)) {
          best = src;
          bestKey = k;
          bestIdx = i;
        }
      }
      if (!best) break;
      best.at++;
      if (bestKey >= 0) m.bloom.add(bestKey);
      keys.push(bestKey);
      idxs.push(bestIdx);
    }
    try {
      this.#db.transaction(() => {
        for (let i = 0; i < keys.length; i++) m.writer.add(keys[i]!, idxs[i]!);
        if (keys.length > 0) return;
        m.writer.finish();
        this.#q.listRun.run(m.target, m.level, m.lo, m.hi);
        this.#q.storeBloom.run(m.target, m.bloom.stored());
        for (const src of m.sources) {
          this.#q.unlistRun.run(src.run);
          this.#q.dropBloom.run(src.run);
        }
      })();
    } catch (err) {
      this.#garbage.push(m.target);
      this.#merge = undefined;
      throw err;
    }
    if (keys.length > 0) return;
    this.#garbage.push(...m.sources.map((src) => src.run));
    for (const src of m.sources) this.#rowRuns.delete(src.run);
    for (const src of m.sources) this.#dropBloom(src.run);
    this.#keep(m.target, m.bloom);
    this.#merge = undefined;
  }

  /** True if `bytes` more of filters fit the memory budget (MAX_BLOOM_BYTES). */
  #fits(bytes: number): boolean {
    return this.#bloomBytes + bytes <= MAX_BLOOM_BYTES;
  }

  /** Keeps `bloom` in memory as run `run`'s filter if it fits the budget; else the run is sought. */
  #keep(run: number, bloom: KeyBloom): void {
    this.#dropBloom(run);
    if (!this.#fits(bloom.bytes)) return;
    this.#blooms.set(run, bloom);
    this.#bloomBytes += bloom.bytes;
  }

  #dropBloom(run: number): void {
    const b = this.#blooms.get(run);
    if (!b) return;
    this.#blooms.delete(run);
    this.#bloomBytes -= b.bytes;
  }

  /**
   * Reads the next chunk of id keys of a listed run without a filter (runs listed before this
   * process started, or merged over the budget) into its new filter; false when every listed run
   * has one or none fits the budget.
   */
  #bloomStep(): boolean {
    if (!this.#bloomBuild) {
      const runs = this.#q.runs.all() as { run: number; lo: number; hi: number }[];
      const r = runs.find((x) => !this.#blooms.has(x.run));
      if (!r || !this.#fits(KeyBloom.bytesFor(r.hi - r.lo))) return false;
      // From the first id key (>= 0; leaf-hash keys are negative).
      this.#bloomBuild = { run: r.run, bloom: new KeyBloom(r.hi - r.lo), key: -1, idx: 2 ** 53 };
    }
    const b = this.#bloomBuild;
    if (!(this.#isRowRun(b.run) ? this.#bloomRows(b) : this.#bloomBlocks(b))) {
      this.#bloomBuild = undefined;
      // Still listed? A merge may have unlisted it meanwhile (then its rows are garbage).
      if ((this.#q.runs.all() as { run: number }[]).some((x) => x.run === b.run)) {
        this.#q.storeBloom.run(b.run, b.bloom.stored());
        this.#keep(b.run, b.bloom);
      }
    }
    return true;
  }

  /** Adds the next chunk of a block run's id keys to the filter being built; true if more are left. */
  #bloomBlocks(b: BloomBuild): boolean {
    const n = Math.ceil(BLOOM_CHUNK_KEYS / BLOCK_PAIRS);
    const rows = this.#q.blocksAfter.all(b.run, b.key, b.idx, n) as BlockRow[];
    for (const r of rows) {
      for (const k of decodeBlock(r.data).keys) if (k >= 0) b.bloom.add(k);
      b.key = r.last_key;
      b.idx = r.last_idx;
    }
    return rows.length === n;
  }

  /** {@link #bloomBlocks} for a run of lookup_keys rows. */
  #bloomRows(b: BloomBuild): boolean {
    const keys = this.#q.idKeysAfter.all(b.run, b.key, BLOOM_CHUNK_KEYS) as number[];
    for (const k of keys) b.bloom.add(k);
    if (keys.length > 0) b.key = keys[keys.length - 1]!;
    return keys.length === BLOOM_CHUNK_KEYS;
  }
}
