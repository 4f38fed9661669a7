/** The subtree and bundle caches evict the least recently *used* entry, not the oldest insert. */
import { describe, expect, test } from 'vitest';
import { Lru } from '../../src/core/lru.js';
import { heapGrowth } from '../helpers/heap.js';

describe('Lru', () => {
  test('a hit protects an entry from eviction; the least recently used one goes', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1); // a is now the most recently used
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined(); // first-in-first-out would have evicted a
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
    expect(lru.size).toBe(2);
  });

  test('setting an existing key refreshes it without growing', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('a', 10);
    lru.set('c', 3);
    expect(lru.size).toBe(2);
    expect(lru.get('a')).toBe(10);
    expect(lru.get('b')).toBeUndefined();
  });

  test('evicts in least-recently-used order across many evictions and rehashes (against a model)', () => {
    const cap = 50;
    const lru = new Lru<number, number>(cap);
    const model: number[] = []; // least recently used first
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 20_000; i++) {
      const k = rnd(200);
      if (rnd(3) === 0) {
        const hit = lru.get(k);
        const at = model.indexOf(k);
        expect(hit !== undefined).toBe(at >= 0);
        if (at >= 0) model.push(...model.splice(at, 1));
      } else {
        lru.set(k, i);
        const at = model.indexOf(k);
        if (at >= 0) model.splice(at, 1);
        model.push(k);
        if (model.length > cap) model.shift();
      }
      expect(lru.size).toBe(model.length);
    }
    for (const k of model) expect(lru.get(k)).toBeDefined();
  });

  test('hits on a cache that is never full hold no memory beyond its entries', async () => {
    // A Map's insertion order as the LRU order (delete + set per hit) with a long-lived keys()
    // iterator for eviction pinned every table V8 rehashed the Map out of: the server's subtree
    // cache, hit by every proof and never full, grew by MiBs a second.
    const lru = new Lru<string, Uint8Array>(4096);
    for (let k = 0; k < 200; k++) lru.set(`9/${k}`, new Uint8Array(32));
    const grown = await heapGrowth(() => {
      for (let i = 0; i < 400_000; i++) lru.get(`9/${i % 200}`);
    });
    expect(lru.size).toBe(200);
    expect(grown).toBeLessThan(4 * 1024 * 1024);
  });

  test('clear forgets every entry and the order starts afresh', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.clear();
    expect(lru.size).toBe(0);
    expect(lru.get('a')).toBeUndefined();
    lru.set('c', 3);
    lru.set('d', 4);
    lru.set('e', 5);
    expect(lru.get('c')).toBeUndefined();
    expect([lru.get('d'), lru.get('e'), lru.size]).toEqual([4, 5, 2]);
  });

  test('refuses a capacity below one', () => {
    expect(() => new Lru(0)).toThrow(RangeError);
  });
});
