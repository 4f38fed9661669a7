/**
 * Complete-subtree hashes read from a storage engine's hash tiles, for proofs and roots. The
 * tiles a batch of subtrees needs are fetched once each (concurrently, so a network engine
 * pays one round of latency), checked to cover what is asked, and then read by core's
 * synchronous tile reader. {@link TileCache} keeps the hot ones in memory.
 */
import { HASH_SIZE, type Sha256 } from '../core/hash.js';
import { Lru } from '../core/lru.js';
import { type AsyncSubtreeReader, EMPTY_ROOT, hashRangesAsync, type Subtree } from '../core/merkle.js';
import { type StoredTile, subtreeLocation, TILE_WIDTH, tileSubtreeReader } from '../core/tiles.js';
import { StorageError } from '../store/log-storage.js';

/** A tile's or subtree's map key: index x 64 + level (levels are < 64); a number hashes and compares cheaper than a "level/index" string. */
const key = (level: number, index: number): number => index * 64 + level;
const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;

/**
 * Where tiles come from: a storage engine, or a {@link TileCache} in front of one. `minBytes`
 * is how much of the tile's hash data the caller needs (a cache may answer with a copy that
 * is at least that long; storage ignores it).
 */
export interface TileSource {
  tile(level: number, index: number, minBytes?: number): Promise<StoredTile | undefined>;
}

/** Bounds of a {@link TileCache}: each entry holds at most 16 KiB (8 KiB hashes + interior). */
export interface TileCacheOptions {
  /** Tiles of level >= 1 kept (LRU): a few hundred cover every upper tile of a 10M log. */
  readonly upperTiles?: number;
  /** Recently read tiles of any level (LRU): a read of the same tile soon after is a hit. */
  readonly recentTiles?: number;
}

/**
 * Few recent tiles, on purpose: a level-0 tile read for a proof is a fresh 16 KiB buffer, and
 * one kept for the last 64 reads (~13 ms of proofs at 5k/s) outlived two young-generation
 * collections, was promoted, and left the old generation to free it: a mark-compact every
 * ~100 ms, ~27 % of a proof's CPU (bench/README.md, session 9). Kept for 8 reads it dies young.
 * Nothing needs more: a proof reads its leaf tile once (`TransparencyLog.inclusion`).
 */
export const DEFAULT_TILE_CACHE: Required<TileCacheOptions> = { upperTiles: 2048, recentTiles: 8 };

/**
 * A bounded cache of stored hash tiles in front of `storage` (at most (upperTiles +
 * recentTiles) x 16 KiB: 33 MiB by default). Sound because a stored tile only grows: the
 * hashes a copy holds never change, so a copy answers every request that needs no more
 * bytes than it has, and a request for more reads the storage again (and keeps the longer
 * copy). Every proof touches the upper levels (level 1 and up: 1/256 of the tiles below), so
 * they stay in memory and a proof at any size reads one level-0 tile from storage.
 */
export class TileCache implements TileSource {
  readonly #storage: TileSource;
  readonly #upper: Lru<number, StoredTile>;
  readonly #recent: Lru<number, StoredTile>;

  constructor(storage: TileSource, opts: TileCacheOptions = {}) {
    this.#storage = storage;
    this.#upper = new Lru(opts.upperTiles ?? DEFAULT_TILE_CACHE.upperTiles);
    this.#recent = new Lru(opts.recentTiles ?? DEFAULT_TILE_CACHE.recentTiles);
  }

  /** Tile (level, index) with at least `minBytes` of hash data if stored, from memory when held. */
  async tile(level: number, index: number, minBytes = 0): Promise<StoredTile | undefined> {
    const k = key(level, index);
    const held = (level > 0 ? this.#upper.get(k) : undefined) ?? this.#recent.get(k);
    // Without a need stated, only a full tile is known to be as wide as the stored one.
    if (held && (held.data.length === FULL_TILE_BYTES || (minBytes > 0 && held.data.length >= minBytes)))
      return held;
    const t = await this.#storage.tile(level, index);
    if (t) {
      this.#recent.set(k, t);
      if (level > 0) this.#upper.set(k, t);
    }
    return t;
  }
}

/**
 * Fetches the tiles holding `subtrees`. Rejects with StorageError `tile_missing` when a tile
 * is absent or narrower than a subtree needs: below a signed size that is damaged storage,
 * never a bad request.
 */
async function fetchTiles(
  storage: TileSource,
  subtrees: readonly Subtree[],
): Promise<Map<number, StoredTile>> {
  const need = new Map<number, { level: number; index: number; bytes: number }>();
  for (const s of subtrees) {
    const loc = subtreeLocation(s);
    const k = key(loc.level, loc.index);
    const bytes = (loc.offset + loc.count) * 32;
    const prev = need.get(k);
    if (!prev || prev.bytes < bytes) need.set(k, { level: loc.level, index: loc.index, bytes });
  }
  const wanted = [...need.entries()];
  const got = await Promise.all(wanted.map(([, t]) => storage.tile(t.level, t.index, t.bytes)));
  const tiles = new Map<number, StoredTile>();
  wanted.forEach(([k, t], i) => {
    const tile = got[i];
    if (!tile || tile.data.length < t.bytes) {
      throw new StorageError(
        'tile_missing',
        `tile ${t.level}/${t.index} is ${tile ? 'shorter than the tree needs' : 'not stored'}`,
      );
    }
    tiles.set(k, tile);
  });
  return tiles;
}

/** Subtree hashes a proof reader keeps when it had to hash them up (see storedSubtreeReader). */
export const DEFAULT_HASHED_SUBTREES = 4096;

/**
 * True if core's tile reader computes `s` by hashing up several hashes of its tile (a partial
 * tile, which has no interior nodes, or interior nodes unused or not stored) rather than
 * looking it up.
 */
function hashedUp(s: Subtree, tiles: Map<number, StoredTile>, useInterior: boolean): boolean {
  const loc = subtreeLocation(s);
  if (loc.count === 1) return false;
  const t = tiles.get(key(loc.level, loc.index));
  return !useInterior || t?.interior === undefined || t.data.length < FULL_TILE_BYTES;
}

/**
 * An {@link AsyncSubtreeReader} over the hash tiles of `storage` (an engine, or a
 * {@link TileCache} in front of one). With `useInterior` false the stored interior nodes are
 * ignored and every subtree is hashed up from the tile's hashes (the fork guard recomputes
 * rather than trusts them). With `keepHashed` > 0, up to that many subtree hashes that had to
 * be hashed up (the right edge, in partial tiles: every proof against a recent size needs
 * them) are kept in an LRU; a complete subtree's hash never changes. Everything else is a
 * lookup in a (cached) tile, so nothing else is worth a cache entry. The hashes returned are
 * copies: a caller that keeps one does not pin the tile buffer it was read from.
 */
export function storedSubtreeReader(
  storage: TileSource,
  sha: Sha256,
  useInterior = true,
  keepHashed = 0,
): AsyncSubtreeReader {
  const kept = keepHashed > 0 ? new Lru<number, Uint8Array>(keepHashed) : undefined;
  return async (subtrees) => {
    const out: Uint8Array[] = new Array(subtrees.length);
    const todo: Subtree[] = [];
    const at: number[] = [];
    subtrees.forEach((s, i) => {
      const h = kept && s.level > 0 ? kept.get(key(s.level, s.index)) : undefined;
      if (h) out[i] = h;
      else {
        todo.push(s);
        at.push(i);
      }
    });
    if (todo.length === 0) return out;
    const tiles = await fetchTiles(storage, todo);
    const read = (level: number, index: number) => {
      const t = tiles.get(key(level, index));
      return useInterior ? t : t?.data;
    };
    tileSubtreeReader(
      read,
      sha,
    )(todo).forEach((h, k) => {
      const s = todo[k]!;
      const copy = new Uint8Array(h);
      out[at[k]!] = copy;
      if (kept && hashedUp(s, tiles, useInterior)) kept.set(key(s.level, s.index), copy);
    });
    return out;
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
