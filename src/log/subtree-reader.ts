/**
 * Complete-subtree hashes read from a storage engine's hash tiles, for proofs and roots. The
 * tiles a batch of subtrees needs are fetched once each (concurrently, so a network engine
 * pays one round of latency), checked to cover what is asked, and then read by core's
 * synchronous tile reader.
 */
import type { Sha256 } from '../core/hash.js';
import { type AsyncSubtreeReader, EMPTY_ROOT, hashRangesAsync, type Subtree } from '../core/merkle.js';
import { type StoredTile, subtreeLocation, tileSubtreeReader } from '../core/tiles.js';
import { type LogStorage, StorageError } from '../store/log-storage.js';

const key = (level: number, index: number): string => `${level}/${index}`;

/**
 * Fetches the tiles holding `subtrees`. Rejects with StorageError `tile_missing` when a tile
 * is absent or narrower than a subtree needs: below a signed size that is damaged storage,
 * never a bad request.
 */
async function fetchTiles(
  storage: LogStorage,
  subtrees: readonly Subtree[],
): Promise<Map<string, StoredTile>> {
  const need = new Map<string, { level: number; index: number; bytes: number }>();
  for (const s of subtrees) {
    const loc = subtreeLocation(s);
    const k = key(loc.level, loc.index);
    const bytes = (loc.offset + loc.count) * 32;
    const prev = need.get(k);
    if (!prev || prev.bytes < bytes) need.set(k, { level: loc.level, index: loc.index, bytes });
  }
  const wanted = [...need.entries()];
  const got = await Promise.all(wanted.map(([, t]) => storage.tile(t.level, t.index)));
  const tiles = new Map<string, StoredTile>();
  wanted.forEach(([k, t], i) => {
    const tile = got[i];
    if (!tile || tile.data.length < t.bytes) {
      throw new StorageError(
        'tile_missing',
        `tile ${k} is ${tile ? 'shorter than the tree needs' : 'not stored'}`,
      );
    }
    tiles.set(k, tile);
  });
  return tiles;
}

/**
 * An {@link AsyncSubtreeReader} over the hash tiles of `storage`. With `useInterior` false the
 * stored interior nodes are ignored and every subtree is hashed up from the tile's hashes
 * (the fork guard recomputes rather than trusts them).
 */
export function storedSubtreeReader(
  storage: LogStorage,
  sha: Sha256,
  useInterior = true,
): AsyncSubtreeReader {
  return async (subtrees) => {
    const tiles = await fetchTiles(storage, subtrees);
    const read = (level: number, index: number) => {
      const t = tiles.get(key(level, index));
      return useInterior ? t : t?.data;
    };
    return tileSubtreeReader(read, sha)(subtrees);
  };
}

/** MTH(D[0:size]) from an asynchronous subtree reader; the empty-tree root for size 0. */
export async function treeHashAsync(
  size: number,
  read: AsyncSubtreeReader,
  sha: Sha256,
): Promise<Uint8Array> {
  if (size === 0) return EMPTY_ROOT;
  return (await hashRangesAsync([[0, size]], read, sha))[0]!;
}
