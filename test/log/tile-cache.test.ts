/** The proof path's tile cache and subtree reader: bounded, and never stale as the tree grows. */
import { describe, expect, test } from 'vitest';
import {
  hashRangesAsync,
  inclusionProofRanges,
  leafHash,
  rootOfLeafHashes,
  verifyInclusion,
} from '../../src/core/merkle.js';
import { type StoredTile, TileBuilder } from '../../src/core/tiles.js';
import { DEFAULT_HASHED_SUBTREES, storedSubtreeReader, TileCache } from '../../src/log/subtree-reader.js';
import { nodeSha256 as sha256 } from '../../src/store/node-hash.js';
import { heapGrowth } from '../helpers/heap.js';

/** An in-memory tile store that grows like the real one (a tile's row is rewritten wider). */
function growingStore() {
  const tiles = new Map<string, StoredTile>();
  const builder = new TileBuilder(0, [], sha256);
  const leaves: Uint8Array[] = [];
  let reads = 0;
  return {
    leaves,
    get reads() {
      return reads;
    },
    append(n: number) {
      const batch = Array.from({ length: n }, (_, i) =>
        leafHash(new TextEncoder().encode(`e${leaves.length + i}`), sha256),
      );
      leaves.push(...batch);
      for (const w of builder.append(batch))
        tiles.set(`${w.level}/${w.index}`, { data: w.data, interior: w.interior });
    },
    tile(level: number, index: number): Promise<StoredTile | undefined> {
      reads++;
      return Promise.resolve(tiles.get(`${level}/${index}`));
    },
  };
}

describe('TileCache and storedSubtreeReader', () => {
  test('upper tiles are read once; a partial tile is read again when more of it is needed', async () => {
    const store = growingStore();
    store.append(256 * 256 + 40);
    const cache = new TileCache(store, { upperTiles: 4, recentTiles: 2 });
    await cache.tile(1, 0, 8192);
    await cache.tile(1, 0, 8192);
    expect(store.reads).toBe(1);
    const narrow = await cache.tile(0, 256, 40 * 32);
    expect(narrow?.data.length).toBe(40 * 32);
    store.append(10);
    expect((await cache.tile(0, 256, 50 * 32))?.data.length).toBe(50 * 32);
    // Without a stated need, a cached partial tile is not trusted to be the stored width.
    const before = store.reads;
    await cache.tile(0, 256);
    expect(store.reads).toBe(before + 1);
  });

  test('proofs through the cache and the kept right-edge hashes verify at every size as the tree grows', async () => {
    const store = growingStore();
    const cache = new TileCache(store, { upperTiles: 8, recentTiles: 4 });
    const read = storedSubtreeReader(cache, sha256, true, 16);
    for (const step of [300, 1, 255, 700, 256 * 256, 3]) {
      store.append(step);
      const size = store.leaves.length;
      const root = rootOfLeafHashes(store.leaves, sha256);
      for (const index of [0, size >> 1, size - 1]) {
        const proof = await hashRangesAsync(inclusionProofRanges(index, size), read, sha256);
        expect(() => verifyInclusion(index, size, store.leaves[index]!, proof, root, sha256)).not.toThrow();
      }
    }
  });

  test('serving proofs holds no memory beyond the bounded caches', async () => {
    // Every proof hits the kept right-edge hashes. An LRU that kept a Map's insertion order with
    // a long-lived iterator pinned each table V8 rehashed the Map out of: the server grew by
    // ~2.5 MiB a second under proofs (294 -> 666 MiB in 3 minutes).
    const store = growingStore();
    store.append(256 * 40 + 77);
    const size = store.leaves.length;
    const read = storedSubtreeReader(new TileCache(store), sha256, true, DEFAULT_HASHED_SUBTREES);
    const proofs = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const index = (i * 7919) % size;
        await hashRangesAsync(inclusionProofRanges(index, size), read, sha256);
      }
    };
    await proofs(2_000);
    expect(await heapGrowth(() => proofs(100_000))).toBeLessThan(8 * 1024 * 1024);
  });
});
