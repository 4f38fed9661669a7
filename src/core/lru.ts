/**
 * A least-recently-used map: a Map from key to a node of a doubly linked list in order of use
 * (least recent at the head). A hit relinks its node at the tail; eviction unlinks the head.
 * Every operation is O(1) and touches the Map only to find, add or remove a key.
 *
 * Why not the Map's own insertion order (delete + set on a hit, evict the first key)? Every
 * hit then leaves a deleted slot in the Map's table, which V8 only reclaims by rehashing into a
 * new table; a fresh `keys()` iterator skips all the deleted slots at the front (~50 us per
 * eviction of a full 65,536-entry map), and a long-lived one, kept to avoid that, pins every
 * table the Map ever rehashed out of (V8 links an obsolete table to its successor for live
 * iterators). A cache that is hit but never full never moves such an iterator: measured in the
 * server, the proofs' subtree cache held 13.8 MiB of dead tables after 12 s of proofs, growing
 * without bound.
 */
interface Node<K, V> {
  key: K;
  value: V;
  prev: Node<K, V> | undefined;
  next: Node<K, V> | undefined;
}

export class Lru<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, Node<K, V>>();
  /** Least recently used. */
  #head: Node<K, V> | undefined;
  /** Most recently used. */
  #tail: Node<K, V> | undefined;

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
    const n = this.#map.get(key);
    if (n === undefined) return undefined;
    this.#toTail(n);
    return n.value;
  }

  /** Stores `key` as the most recently used, evicting the least recently used beyond capacity. */
  set(key: K, value: V): void {
    const n = this.#map.get(key);
    if (n !== undefined) {
      n.value = value;
      this.#toTail(n);
      return;
    }
    if (this.#map.size < this.#max) {
      const added: Node<K, V> = { key, value, prev: undefined, next: undefined };
      this.#map.set(key, added);
      this.#append(added);
      return;
    }
    // Full: the least recently used node is evicted and reused for the new key (no allocation).
    const reused = this.#head!;
    this.#map.delete(reused.key);
    this.#unlink(reused);
    reused.key = key;
    reused.value = value;
    this.#map.set(key, reused);
    this.#append(reused);
  }

  /** Forgets `key` (a value that changed at its source). */
  delete(key: K): void {
    const n = this.#map.get(key);
    if (n === undefined) return;
    this.#unlink(n);
    this.#map.delete(key);
  }

  /** Forgets every entry. */
  clear(): void {
    this.#map.clear();
    this.#head = undefined;
    this.#tail = undefined;
  }

  /** Makes `n` the most recently used. */
  #toTail(n: Node<K, V>): void {
    if (n === this.#tail) return;
    this.#unlink(n);
    this.#append(n);
  }

  #unlink(n: Node<K, V>): void {
    if (n.prev) n.prev.next = n.next;
    else this.#head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.#tail = n.prev;
    n.prev = undefined;
    n.next = undefined;
  }

  #append(n: Node<K, V>): void {
    n.prev = this.#tail;
    if (this.#tail) this.#tail.next = n;
    else this.#head = n;
    this.#tail = n;
  }
}
