/**
 * The tree's right edge from stored hash tiles, shared by the storage engines: which tiles
 * hold it, and the per-level hashes {@link TileBuilder} starts from. Engine-neutral (no SQL):
 * an engine fetches the tiles its own way and hands them over.
 */
import { HASH_SIZE } from '../core/hash.js';
import { hashesAtLevel, TILE_WIDTH, tileHashes } from '../core/tiles.js';

/** The partial rightmost tile of each level of a tree of `size` leaves (width 0 = none). */
export function edgeTiles(size: number): { level: number; index: number; width: number }[] {
  const out: { level: number; index: number; width: number }[] = [];
  for (let level = 0; hashesAtLevel(size, level) > 0; level++) {
    const n = hashesAtLevel(size, level);
    out.push({ level, index: Math.floor(n / TILE_WIDTH), width: n % TILE_WIDTH });
  }
  return out;
}

/**
 * The right edge for a tree of `size` leaves, as TileBuilder takes it: for each level, the
 * hashes of the partial rightmost tile, read with `tile`. Throws if a stored tile is missing
 * or shorter than the size needs (a damaged database). A wider tile is fine: the tree grew.
 */
export function edgeFromTiles(
  size: number,
  tile: (level: number, index: number) => Uint8Array | undefined,
): Uint8Array[][] {
  return edgeTiles(size).map(({ level, index, width }) => {
    if (width === 0) return [];
    const data = tile(level, index);
    if (!data || data.length < width * HASH_SIZE) {
      throw new Error(`tile ${level}/${index} is missing or short for tree size ${size}`);
    }
    return tileHashes(data.subarray(0, width * HASH_SIZE)).map((h) => h.slice());
  });
}
