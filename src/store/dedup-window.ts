/**
 * The dedup window: the recent leaves' id keys, kept in memory by the committing thread
 * so that a retry is recognised without touching a random-keyed index on disk (issue 11). Pure
 * data structure, typed arrays only: a ring by leaf index of each key's low 32 bits (a
 * fingerprint: the caller confirms every candidate against the stored entry anyway, and two
 * keys of 2M leaves share one with odds of 1 in 2,000 per probe), a ring of links from each
 * leaf to the next older leaf with its fingerprint, a bitset of which leaves have a key,
 * receive times as runs (first leaf, second) rather than per leaf, and an open-addressing
 * table (linear probing) from fingerprint to its newest leaf. One slot per fingerprint, not
 * per leaf: a key held by a million leaves is one chain, so adding and evicting stay O(1)
 * whatever one uploader repeats (a slot per leaf made such a key one long cluster that every
 * insert landing in it walked). ~12-16 bytes a leaf (4 ring, 4 link, 4-8 table at load <= 0.5),
 * plus 8 for the caller's tags once any is set. Bounded by `maxEntries` leaves and `windowMs`
 * of receive time; deletion shifts the following slots back (no tombstones), so clusters never
 * lengthen as entries come and go.
 */

/** Bounds of a dedup window. */
export interface DedupWindowOptions {
  /** Most leaves held (each ~12-16 bytes: fingerprint 4, link 4, table 4-8 at load <= 0.5; tags 8 once used). */
  readonly maxEntries: number;
  /** Oldest receive time held, relative to the newest clock reading. */
  readonly windowMs: number;
}

/**
 * Defaults: 24 hours (OPA backs off up to 10 minutes, and resends hours later after an outage),
 * capped at 2,000,000 leaves, ~32 MiB (24 hours at 23 decisions/s; 40 s at 50,000/s). The cap is
 * the memory bound: a resend pushed out by it is appended and flagged as a late duplicate by the
 * indexer, so a larger window buys fewer duplicate leaves, never correctness.
 */
export const DEFAULT_DEDUP_WINDOW: DedupWindowOptions = { maxEntries: 2_000_000, windowMs: 24 * 3600_000 };

/** Key of a leaf that has no dedup ids (never a candidate). */
export const NO_KEY = -1;

const MIN_TABLE = 1024;
const MIN_RUNS = 64;

/** The ring's fingerprint of a key: its low 32 bits (keys are uniform hash bits; ToUint32 is exact below 2^53). */
const fingerprint = (key: number): number => key >>> 0;

export class DedupWindow {
  readonly #cap: number;
  readonly #windowMs: number;
  /** Ring by leaf index (index % cap): the leaf's key fingerprint (meaningful when keyed). */
  readonly #fps: Uint32Array;
  /**
   * Ring by leaf index: how many leaves back the next older leaf with the same fingerprint
   * is (0 = none). A link to a leaf that has left the window is stale; walks stop below
   * {@link start}.
   */
  readonly #older: Uint32Array;
  /** Bitset by ring position: the leaf has a key. */
  readonly #keyed: Uint32Array;
  /** The caller's two tags per leaf by ring position (0 = not set); allocated at the first set. */
  #tagA: Uint32Array | undefined;
  #tagB: Uint32Array | undefined;
  /**
   * Receive times as runs, a ring: run r starts at leaf #runStart[r] (its leaves received in
   * whole second #runSec[r]; Unix seconds fit 32 bits until 2106) and ends where the next
   * starts. A new run begins only when the second changes, so a 24-hour window holds at most
   * ~86,400 runs (1 MiB); the ring doubles when full (never beyond one run per leaf).
   */
  #runStart = new Float64Array(MIN_RUNS);
  #runSec = new Uint32Array(MIN_RUNS);
  #runLo = 0;
  #runHi = 0;
  /** Open addressing: ring position + 1 of the newest leaf of a fingerprint; 0 = free. */
  #table: Uint32Array;
  #mask: number;
  /** Slots in use: fingerprints held. */
  #count = 0;
  /** The window holds leaves [lo, hi). */
  #lo = 0;
  #hi = 0;

  constructor(opts: DedupWindowOptions = DEFAULT_DEDUP_WINDOW) {
    if (!Number.isSafeInteger(opts.maxEntries) || opts.maxEntries < 1 || opts.maxEntries >= 2 ** 31)
      throw new RangeError('maxEntries must be an integer in [1, 2^31)');
    this.#cap = opts.maxEntries;
    this.#windowMs = opts.windowMs;
    this.#fps = new Uint32Array(this.#cap);
    this.#older = new Uint32Array(this.#cap);
    this.#keyed = new Uint32Array(Math.ceil(this.#cap / 32));
    this.#table = new Uint32Array(MIN_TABLE);
    this.#mask = MIN_TABLE - 1;
  }

  /**
   * Sizes the table for `n` keyed leaves at once (at most maxEntries; each could be its own
   * fingerprint), so a rebuild does not rehash its way up from the smallest table.
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

  /** Home slot of a fingerprint. */
  #home(fp: number): number {
    return fp & this.#mask;
  }

  #indexOf(pos: number): number {
    return this.#lo + ((pos - (this.#lo % this.#cap) + this.#cap) % this.#cap);
  }

  #isKeyed(pos: number): boolean {
    return (this.#keyed[pos >>> 5]! & (1 << (pos & 31))) !== 0;
  }

  /**
   * Appends leaf `index` with its `key` (NO_KEY: none) received at `recvMs`. Indices must come
   * in order without gaps (an empty window starts anywhere); the oldest leaf leaves first when
   * the window is full.
   */
  add(index: number, key: number, recvMs: number): void {
    if (this.#hi === this.#lo) {
      this.#lo = this.#hi = index;
      this.#runLo = this.#runHi = 0;
    } else if (index !== this.#hi)
      throw new RangeError(`dedup window expects leaf ${this.#hi}, got ${index}`);
    if (this.#hi - this.#lo === this.#cap) this.#evictOldest();
    this.#addTime(index, Math.max(0, Math.floor(recvMs / 1000)));
    const pos = index % this.#cap;
    this.#hi = index + 1;
    if (key === NO_KEY) {
      this.#keyed[pos >>> 5]! &= ~(1 << (pos & 31));
      return;
    }
    const fp = fingerprint(key);
    this.#fps[pos] = fp;
    this.#keyed[pos >>> 5]! |= 1 << (pos & 31);
    if (this.#tagA) this.#tagA[pos] = this.#tagB![pos] = 0;
    // One walk from the fingerprint's home: its slot (join the chain) or the first free one.
    let i = this.#home(fp);
    for (; this.#table[i] !== 0; i = (i + 1) & this.#mask) {
      const newest = this.#table[i]! - 1;
      if (this.#fps[newest] === fp) {
        this.#older[pos] = index - this.#indexOf(newest);
        this.#table[i] = pos + 1;
        return;
      }
    }
    this.#older[pos] = 0;
    if ((this.#count + 1) * 2 > this.#table.length) {
      this.reserve(this.#table.length);
      this.#insert(pos);
    } else this.#table[i] = pos + 1;
    this.#count++;
  }

  /** True if the window may hold a leaf under `key` (its fingerprint has a chain). */
  has(key: number): boolean {
    return key !== NO_KEY && this.#slotOf(fingerprint(key)) >= 0;
  }

  /** The table slot holding fingerprint `fp`, or -1. */
  #slotOf(fp: number): number {
    for (let i = this.#home(fp); this.#table[i] !== 0; i = (i + 1) & this.#mask) {
      if (this.#fps[this.#table[i]! - 1] === fp) return i;
    }
    return -1;
  }

  /** Records that leaf `index` (about to be added) was received in second `sec`. */
  #addTime(index: number, sec: number): void {
    let n = this.#runSec.length;
    if (this.#runHi > this.#runLo && this.#runSec[(this.#runHi - 1) % n] === sec) return;
    if (this.#runHi - this.#runLo === n) this.#growRuns();
    n = this.#runSec.length;
    this.#runStart[this.#runHi % n] = index;
    this.#runSec[this.#runHi % n] = sec;
    this.#runHi++;
  }

  /** Doubles the run ring, keeping its runs in order from position 0. */
  #growRuns(): void {
    const n = this.#runSec.length;
    const start = new Float64Array(n * 2);
    const sec = new Uint32Array(n * 2);
    for (let r = this.#runLo; r < this.#runHi; r++) {
      start[r - this.#runLo] = this.#runStart[r % n]!;
      sec[r - this.#runLo] = this.#runSec[r % n]!;
    }
    this.#runHi -= this.#runLo;
    this.#runLo = 0;
    this.#runStart = start;
    this.#runSec = sec;
  }

  /**
   * Drops the leaves received more than windowMs before `nowMs`, oldest first (receive times
   * grow with the index, so it stops at the first younger one). A leaf is dropped only when
   * its whole receive second lies outside the window: never early.
   */
  evictExpired(nowMs: number): void {
    const limit = nowMs - this.#windowMs;
    const n = this.#runSec.length;
    while (this.#hi > this.#lo && (this.#runSec[this.#runLo % n]! + 1) * 1000 <= limit) this.#evictOldest();
  }

  /**
   * Calls `visit` with the index of every leaf held under `key`, newest first, and of the rare
   * leaf whose key shares its low 32 bits: candidates, for the caller to confirm. Costs one
   * step a candidate: it follows the key's chain, never other keys' leaves.
   */
  candidates(key: number, visit: (index: number) => void): void {
    if (key === NO_KEY) return;
    const slot = this.#slotOf(fingerprint(key));
    if (slot < 0) return;
    let pos = this.#table[slot]! - 1;
    for (let index = this.#indexOf(pos); ; ) {
      visit(index);
      const back = this.#older[pos]!;
      if (back === 0 || index - back < this.#lo) return;
      index -= back;
      pos = index % this.#cap;
    }
  }

  /**
   * Sets leaf `index`'s two tags (uint32, 0 meaning "not set"), kept until it leaves the
   * window: what the caller learnt about it once (log-store.ts keeps digests of its ids and
   * content, so a key probed again costs no read). The first call allocates 8 bytes a leaf.
   */
  setTags(index: number, a: number, b: number): void {
    if (index < this.#lo || index >= this.#hi) throw new RangeError(`leaf ${index} is not in the window`);
    if (!this.#tagA) {
      this.#tagA = new Uint32Array(this.#cap);
      this.#tagB = new Uint32Array(this.#cap);
    }
    const pos = index % this.#cap;
    this.#tagA[pos] = a;
    this.#tagB![pos] = b;
  }

  /** Unsets leaf `index`'s tags (what they digest changed, e.g. an erasure); no-op outside the window. */
  forgetTags(index: number): void {
    if (this.#tagA && index >= this.#lo && index < this.#hi)
      this.#tagA[index % this.#cap] = this.#tagB![index % this.#cap] = 0;
  }

  /** Leaf `index`'s first tag (0: not set, or not in the window). */
  tagA(index: number): number {
    return this.#tagA && index >= this.#lo && index < this.#hi ? this.#tagA[index % this.#cap]! : 0;
  }

  /** Leaf `index`'s second tag (0: not set, or not in the window). */
  tagB(index: number): number {
    return this.#tagB && index >= this.#lo && index < this.#hi ? this.#tagB[index % this.#cap]! : 0;
  }

  #insert(pos: number): void {
    let i = this.#home(this.#fps[pos]!);
    while (this.#table[i] !== 0) i = (i + 1) & this.#mask;
    this.#table[i] = pos + 1;
  }

  #evictOldest(): void {
    const pos = this.#lo % this.#cap;
    this.#lo++;
    const n = this.#runSec.length;
    // The oldest run ends where the next starts (or with the window).
    if (this.#lo === this.#hi) this.#runLo = this.#runHi;
    else if (this.#runHi - this.#runLo > 1 && this.#runStart[(this.#runLo + 1) % n]! <= this.#lo)
      this.#runLo++;
    if (!this.#isKeyed(pos)) return;
    // The oldest leaf ends its chain. Only when it is also the newest does its fingerprint
    // leave the table; otherwise the next older link of the chain just went stale.
    let i = this.#slotOf(this.#fps[pos]!);
    if (this.#table[i] !== pos + 1) return;
    this.#count--;
    // Backward shift: move each later slot of the cluster into the hole when its home slot
    // does not lie cyclically in (hole, slot], so every chain stays unbroken.
    for (let j = (i + 1) & this.#mask; this.#table[j] !== 0; j = (j + 1) & this.#mask) {
      const h = this.#home(this.#fps[this.#table[j]! - 1]!);
      const between = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!between) {
        this.#table[i] = this.#table[j]!;
        i = j;
      }
    }
    this.#table[i] = 0;
  }
}
