/**
 * Blocks of a lookup run (issue 11, spec/storage.md "Lookup index"): a run's (key, leaf index)
 * pairs, in (key, idx) order, packed ~248 to a `lookup_blocks` row instead of one
 * `lookup_keys` row each. Why: the indexer and its merges wrote, read and deleted one B-tree
 * row per key per level (~17 % of the committing thread under full ingest, measured); a block
 * costs one row per ~248 keys, and merging is a merge of typed arrays in memory.
 *
 * A block's bytes: n keys, then n leaf indices, each a little-endian float64 (keys are signed
 * 52-bit integers, indices below 2^53: both exact). Its row is keyed by its LAST pair, so the
 * block that holds key k is the first whose last key is >= k. A block is cut only where the key
 * changes, unless one key has more pairs than MAX_BLOCK_PAIRS (resends of one id beyond the
 * dedup window): only then do a key's pairs span blocks, and a reader continues into the next.
 */

/** The migration that adds the table (in db.ts's MIGRATIONS). */
export const LOOKUP_BLOCKS_MIGRATION = `
  -- Lookup runs as blocks of (key, idx) pairs (src/store/lookup-blocks.ts), one row per ~248
  -- pairs, keyed by the block's last pair. Runs written before this migration stay rows of
  -- lookup_keys until a merge copies them into blocks. A rowid table: a ~4 KiB row fits one
  -- table page, where a WITHOUT ROWID row of that size would spill to overflow pages.
  CREATE TABLE IF NOT EXISTS lookup_blocks (
    run      INTEGER NOT NULL,
    last_key INTEGER NOT NULL,
    last_idx INTEGER NOT NULL,
    data     BLOB NOT NULL
  );
  CREATE UNIQUE INDEX IF NOT EXISTS lookup_blocks_key ON lookup_blocks (run, last_key, last_idx);
  `;

/** Pairs a block is cut at: 248 x 16 bytes + the row's header fit one 4 KiB page (no overflow). */
export const BLOCK_PAIRS = 248;
/** Most pairs of one block: a key with more pairs than this is split across blocks. */
export const MAX_BLOCK_PAIRS = 4 * BLOCK_PAIRS;

/** True on a little-endian host: stored little-endian words can be viewed as typed arrays as they are. */
export const LITTLE_ENDIAN = new Uint8Array(Float64Array.of(1).buffer)[7] === 0x3f;

/** The pairs of one block: keys[i] with idxs[i], in (key, idx) order. */
export interface Pairs {
  readonly keys: Float64Array;
  readonly idxs: Float64Array;
}

/** The stored bytes of pairs [from, to) of `keys` / `idxs`. */
export function encodeBlock(
  keys: ArrayLike<number>,
  idxs: ArrayLike<number>,
  from: number,
  to: number,
): Uint8Array {
  const n = to - from;
  const out = new Uint8Array(16 * n);
  const v = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    v.setFloat64(8 * i, keys[from + i]!, true);
    v.setFloat64(8 * (n + i), idxs[from + i]!, true);
  }
  return out;
}

/** Inverse of {@link encodeBlock}; throws on a length that is not a whole number of pairs. */
export function decodeBlock(blob: Uint8Array): Pairs {
  if (blob.byteLength % 16 !== 0) throw new Error(`lookup block of ${blob.byteLength} bytes`);
  const n = blob.byteLength / 16;
  if (LITTLE_ENDIAN && blob.byteOffset % 8 === 0) {
    const all = new Float64Array(blob.buffer, blob.byteOffset, 2 * n);
    return { keys: all.subarray(0, n), idxs: all.subarray(n) };
  }
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const keys = new Float64Array(n);
  const idxs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = v.getFloat64(8 * i, true);
    idxs[i] = v.getFloat64(8 * (n + i), true);
  }
  return { keys, idxs };
}

/** The leaf indices stored under `key` in one block (binary search; none if absent). */
export function blockIndicesOf(b: Pairs, key: number): number[] {
  let lo = 0;
  let hi = b.keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (b.keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  const out: number[] = [];
  for (let i = lo; i < b.keys.length && b.keys[i] === key; i++) out.push(b.idxs[i]!);
  return out;
}

/**
 * True if `key`'s pairs may go on in the next block of the run: `b` was cut at MAX_BLOCK_PAIRS
 * in the middle of that key (the only place BlockWriter cuts inside a key).
 */
export function continuesAfter(b: Pairs, key: number): boolean {
  return b.keys.length === MAX_BLOCK_PAIRS && b.keys[b.keys.length - 1] === key;
}

/**
 * Cuts a stream of pairs, given in (key, idx) order, into blocks and hands each to `write`
 * (its bytes and its last pair). Pairs are held until a block is complete: at a key change
 * once BLOCK_PAIRS are held, or at MAX_BLOCK_PAIRS whatever the key; {@link finish} writes
 * the rest.
 */
export class BlockWriter {
  readonly #keys = new Float64Array(MAX_BLOCK_PAIRS);
  readonly #idxs = new Float64Array(MAX_BLOCK_PAIRS);
  #n = 0;
  readonly #write: (data: Uint8Array, lastKey: number, lastIdx: number) => void;

  constructor(write: (data: Uint8Array, lastKey: number, lastIdx: number) => void) {
    this.#write = write;
  }

  /** Adds the next pair (not before the previous one in (key, idx) order). */
  add(key: number, idx: number): void {
    const n = this.#n;
    if (n === MAX_BLOCK_PAIRS || (n >= BLOCK_PAIRS && this.#keys[n - 1] !== key)) this.#cut();
    this.#keys[this.#n] = key;
    this.#idxs[this.#n++] = idx;
  }

  /** Writes the pairs held (the last block of the run). */
  finish(): void {
    if (this.#n > 0) this.#cut();
  }

  #cut(): void {
    const n = this.#n;
    this.#write(encodeBlock(this.#keys, this.#idxs, 0, n), this.#keys[n - 1]!, this.#idxs[n - 1]!);
    this.#n = 0;
  }
}
