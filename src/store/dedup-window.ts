/**
 * The dedup window: the recent leaves' 52-bit id keys, kept in memory by the committing thread
 * so that a retry is recognised without touching a random-keyed index on disk (issue 11). Pure
 * data structure, typed arrays only: a ring of keys and receive times by leaf index (entries
 * leave oldest first, in index order) and an open-addressing table (linear probing) from key to
 * ring position. Bounded by `maxEntries` leaves and `windowMs` of receive time; deletion shifts
 * the following slots back (no tombstones), so chains never lengthen as entries come and go.
 * The window only proposes candidates: the caller confirms each against the stored entry.
 */

/** Bounds of a dedup window. */
export interface DedupWindowOptions {
  /** Most leaves held (each ~20 bytes: ring key 8, ring time 4, table slots 8 at load <= 0.5). */
  readonly maxEntries: number;
  /** Oldest receive time held, relative to the newest clock reading. */
  readonly windowMs: number;
}

/**
 * Defaults: 24 hours (OPA backs off up to 10 minutes, and resends hours later after an outage),
 * capped at 2,000,000 leaves, 40 MiB (24 hours at 23 decisions/s; 40 s at 50,000/s). The cap is
 * the memory bound: a resend pushed out by it is appended and flagged as a late duplicate by the
 * indexer, so a larger window buys fewer duplicate leaves, never correctness.
 */
export const DEFAULT_DEDUP_WINDOW: DedupWindowOptions = { maxEntries: 2_000_000, windowMs: 24 * 3600_000 };

/** Key of a leaf that has no dedup ids (never a candidate). */
export const NO_KEY = -1;

const MIN_TABLE = 1024;

export class DedupWindow {
  readonly #cap: number;
  readonly #windowMs: number;
  /** Ring by leaf index (index % cap): the leaf's key, or NO_KEY. */
  readonly #keys: Float64Array;
  /** Ring by leaf index: receive time in whole seconds (Unix seconds fit 32 bits until 2106). */
  readonly #secs: Uint32Array;
  /** Open addressing: ring position + 1 of a keyed leaf; 0 = free. */
  #table: Uint32Array;
  #mask: number;
  #count = 0;
  /** The window holds leaves [lo, hi). */
  #lo = 0;
  #hi = 0;

  constructor(opts: DedupWindowOptions = DEFAULT_DEDUP_WINDOW) {
    if (!Number.isSafeInteger(opts.maxEntries) || opts.maxEntries < 1 || opts.maxEntries >= 2 ** 31)
      throw new RangeError('maxEntries must be an integer in [1, 2^31)');
    this.#cap = opts.maxEntries;
    this.#windowMs = opts.windowMs;
    this.#keys = new Float64Array(this.#cap);
    this.#secs = new Uint32Array(this.#cap);
    this.#table = new Uint32Array(MIN_TABLE);
    this.#mask = MIN_TABLE - 1;
  }

  /**
   * Sizes the table for `n` keyed leaves at once (at most maxEntries), so a rebuild does not
   * rehash its way up from the smallest table.
   */
  reserve(n: number): void {
    let size = this.#table.length;
    while (Math.min(n, this.#cap) * 2 > size) size *= 2;
    if (size === this.#table.length) return;
    const old = this.#table;
    this.#table = new Uint32Array(size);
    this.#mask = size - 1;
    for (const v of old) if (v !== 0) this.#insert(v - 1);
  }

  /** Leaves held (with or without a key). */
  get size(): number {
    return this.#hi - this.#lo;
  }

  /** The oldest leaf index held (= {@link end} when empty). */
  get start(): number {
    return this.#lo;
  }

  /** One past the newest leaf index held. */
  get end(): number {
    return this.#hi;
  }

  /** Home slot: the key's top 31 bits (a cheap division, where a float modulo is not), masked. */
  #home(key: number): number {
    return ((key / 2 ** 21) | 0) & this.#mask;
  }

  #indexOf(pos: number): number {
    return this.#lo + ((pos - (this.#lo % this.#cap) + this.#cap) % this.#cap);
  }

  /**
   * Appends leaf `index` with its `key` (NO_KEY: none) received at `recvMs`. Indices must come
   * in order without gaps (an empty window starts anywhere); the oldest leaf leaves first when
   * the window is full.
   */
  add(index: number, key: number, recvMs: number): void {
    if (this.#hi === this.#lo) this.#lo = this.#hi = index;
    else if (index !== this.#hi) throw new RangeError(`dedup window expects leaf ${this.#hi}, got ${index}`);
    if (this.#hi - this.#lo === this.#cap) this.#evictOldest();
    const pos = index % this.#cap;
    this.#keys[pos] = key;
    this.#secs[pos] = Math.max(0, Math.floor(recvMs / 1000));
    this.#hi = index + 1;
    if (key === NO_KEY) return;
    if ((this.#count + 1) * 2 > this.#table.length) this.reserve(this.#table.length);
    this.#insert(pos);
    this.#count++;
  }

  /**
   * Drops the leaves received more than windowMs before `nowMs`, oldest first (receive times
   * grow with the index, so it stops at the first younger one). A leaf is dropped only when
   * its whole receive second lies outside the window: never early.
   */
  evictExpired(nowMs: number): void {
    const limit = nowMs - this.#windowMs;
    while (this.#hi > this.#lo && (this.#secs[this.#lo % this.#cap]! + 1) * 1000 <= limit)
      this.#evictOldest();
  }

  /** Calls `visit` with the index of every leaf held under `key` (any order). */
  candidates(key: number, visit: (index: number) => void): void {
    for (let i = this.#home(key); this.#table[i] !== 0; i = (i + 1) & this.#mask) {
      const pos = this.#table[i]! - 1;
      if (this.#keys[pos] === key) visit(this.#indexOf(pos));
    }
  }

  #insert(pos: number): void {
    let i = this.#home(this.#keys[pos]!);
    while (this.#table[i] !== 0) i = (i + 1) & this.#mask;
    this.#table[i] = pos + 1;
  }

  #evictOldest(): void {
    const pos = this.#lo % this.#cap;
    this.#lo++;
    if (this.#keys[pos] === NO_KEY) return;
    this.#count--;
    let i = this.#home(this.#keys[pos]!);
    while (this.#table[i] !== pos + 1) i = (i + 1) & this.#mask;
    // Backward shift: move each later slot of the cluster into the hole when its home slot
    // does not lie cyclically in (hole, slot], so every chain stays unbroken.
    for (let j = (i + 1) & this.#mask; this.#table[j] !== 0; j = (j + 1) & this.#mask) {
      const h = this.#home(this.#keys[this.#table[j]! - 1]!);
      const between = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!between) {
        this.#table[i] = this.#table[j]!;
        i = j;
      }
    }
    this.#table[i] = 0;
  }
}
