/**
 * A least-recently-used map: a Map keeps insertion order, so a hit moves its key to the end
 * (delete + set) and eviction takes the first key, the one unused for longest. The first key
 * comes from one long-lived iterator, not `keys().next()`: a fresh iterator skips every
 * deleted slot at the front of the Map's table, which made each eviction of a full 65,536-entry
 * LRU cost ~50 us (the slots are only reclaimed when V8 rehashes); the kept one moves past each
 * slot once, and every live key lies at or after it (those before it were evicted or moved).
 */
export class Lru<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();
  #oldest: Iterator<K> = this.#map.keys();

  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`LRU capacity must be >= 1, got ${max}`);
    this.#max = max;
  }

  /** Number of entries held. */
  get size(): number {
    return this.#map.size;
  }

  /** The value of `key` (now the most recently used), or undefined. */
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  /** Stores `key` as the most recently used, evicting the least recently used beyond capacity. */
  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) this.#map.delete(this.#nextOldest());
  }

  #nextOldest(): K {
    let r = this.#oldest.next();
    // Only after an exhausted walk (not reachable while size > max >= 1): start over.
    if (r.done) {
      this.#oldest = this.#map.keys();
      r = this.#oldest.next();
    }
    return r.value as K;
  }

  /** Forgets `key` (a value that changed at its source). */
  delete(key: K): void {
    this.#map.delete(key);
  }
}
