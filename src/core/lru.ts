/**
 * A least-recently-used map: a Map keeps insertion order, so a hit moves its key to the end
 * (delete + set) and eviction takes the first key, the one unused for longest.
 */
export class Lru<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();

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
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K);
  }

  /** Forgets `key` (a value that changed at its source). */
  delete(key: K): void {
    this.#map.delete(key);
  }
}
