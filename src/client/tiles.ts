/**
 * Fetching C2SP tlog-tiles resources: hash tiles (with an LRU cache, and the tlog-tiles
 * fallback from a missing partial tile to the full tile), entry bundles, and an
 * {@link AsyncSubtreeReader} over the tiles of a given tree size, from which proofs are built.
 *
 * Nothing fetched here is trusted: tile bytes are only checked for shape (length, bundle
 * framing). Callers authenticate them by folding them into a root or proof and comparing with
 * a verified checkpoint.
 */
import { BundleError, decodeEntryBundle } from '../core/bundle.js';
import { HASH_SIZE } from '../core/hash.js';
import { Lru } from '../core/lru.js';
import { type AsyncSubtreeReader, perfectRootOf, type Subtree } from '../core/merkle.js';
import { MAX_ENTRY_BUNDLE_RESPONSE_BYTES, MAX_HASH_TILE_RESPONSE_BYTES } from '../core/response-caps.js';
import { entryBundlePath, hashTilePath, subtreeLocation, TILE_WIDTH, tileAtSize } from '../core/tiles.js';
import { VerifyError } from './errors.js';
import { type HttpSource, NotFound } from './http.js';

/** A bounded least-recently-used cache of hash tiles, keyed by "level/index", widest version kept. */
export class TileCache {
  readonly #lru: Lru<string, Uint8Array>;

  /** A cache of at most `maxTiles` tiles (default 4096, i.e. at most 32 MiB). */
  constructor(maxTiles = 4096) {
    if (!Number.isInteger(maxTiles) || maxTiles < 1) throw new VerifyError('usage', 'maxTiles must be >= 1');
    this.#lru = new Lru(maxTiles);
  }

  /** The cached bytes of tile (level, index) if at least `width` hashes wide, else undefined. */
  get(level: number, index: number, width: number): Uint8Array | undefined {
    const data = this.#lru.get(`${level}/${index}`);
    if (data === undefined || data.length < width * HASH_SIZE) return undefined;
    return data.subarray(0, width * HASH_SIZE);
  }

  /** Stores tile bytes unless a wider version is already cached. */
  set(level: number, index: number, data: Uint8Array): void {
    const key = `${level}/${index}`;
    const old = this.#lru.get(key);
    if (old !== undefined && old.length >= data.length) return;
    this.#lru.set(key, data);
  }

  /** Forgets every tile (e.g. after tiles failed to authenticate). */
  clear(): void {
    this.#lru.clear();
  }

  /** Number of cached tiles. */
  get size(): number {
    return this.#lru.size;
  }
}

/**
 * Splits a tlog-tiles entry bundle (`uint16 BE length || entry`, repeated) into its entries.
 * Throws 'bad_tile' if the framing is truncated.
 */
export function parseEntryBundle(data: Uint8Array, url = ''): Uint8Array[] {
  try {
    return decodeEntryBundle(data);
  } catch (err) {
    if (!(err instanceof BundleError)) throw err;
    const where = err.code === 'truncated_length' ? 'a length prefix' : `entry ${err.entry}`;
    throw new VerifyError('bad_tile', `entry bundle ${url} ends inside ${where}`, { url });
  }
}

/** Fetches tiles and bundles of one log, with a shared tile cache and in-flight deduplication. */
export class TileFetcher {
  /** The tile cache (exposed so that callers can clear it or share it). */
  readonly cache: TileCache;
  readonly #http: HttpSource;
  readonly #inflight = new Map<string, Promise<Uint8Array>>();

  /** A fetcher over `http`, caching hash tiles in `cache` (a fresh 4096-tile cache by default). */
  constructor(http: HttpSource, cache: TileCache = new TileCache()) {
    this.#http = http;
    this.cache = cache;
  }

  /**
   * The first `width` hashes of hash tile (level, index), exactly `width * 32` bytes. A missing
   * partial tile falls back to the full tile (tlog-tiles: partial tiles may be deleted once
   * full). Throws 'gap' if neither exists and 'bad_tile' if the bytes have the wrong length.
   */
  async hashTile(level: number, index: number, width: number): Promise<Uint8Array> {
    const cached = this.cache.get(level, index, width);
    if (cached !== undefined) return cached;
    const path = hashTilePath({ level, index, width });
    let p = this.#inflight.get(path);
    if (p === undefined) {
      p = this.#fetchHashTile(level, index, width).finally(() => this.#inflight.delete(path));
      this.#inflight.set(path, p);
    }
    return p;
  }

  async #fetchHashTile(level: number, index: number, width: number): Promise<Uint8Array> {
    const { data, url, fullWidth } = await this.#fetchWithFallback(
      hashTilePath({ level, index, width }),
      () => hashTilePath({ level, index, width: TILE_WIDTH }),
      MAX_HASH_TILE_RESPONSE_BYTES,
    );
    const want = (fullWidth ? TILE_WIDTH : width) * HASH_SIZE;
    if (data.length !== want) {
      throw new VerifyError(
        'bad_tile',
        `hash tile ${url} has ${data.length} bytes, expected ${want} (${want / HASH_SIZE} hashes)`,
        { url, expected: String(want), actual: String(data.length) },
      );
    }
    this.cache.set(level, index, data);
    return data.subarray(0, width * HASH_SIZE);
  }

  /**
   * The first `width` entries of entry bundle `index`, falling back to the full bundle when a
   * partial one is missing. Throws 'gap' if neither exists, 'bad_tile' if the framing is broken
   * or the bundle holds a different number of entries than its path says.
   */
  async entryBundle(index: number, width: number): Promise<Uint8Array[]> {
    const { data, url, fullWidth } = await this.#fetchWithFallback(
      entryBundlePath(index, width),
      () => entryBundlePath(index, TILE_WIDTH),
      MAX_ENTRY_BUNDLE_RESPONSE_BYTES,
    );
    const entries = parseEntryBundle(data, url);
    const want = fullWidth ? TILE_WIDTH : width;
    if (entries.length !== want) {
      throw new VerifyError(
        'bad_tile',
        `entry bundle ${url} holds ${entries.length} entries, expected ${want}`,
        {
          url,
          expected: String(want),
          actual: String(entries.length),
        },
      );
    }
    return entries.slice(0, width);
  }

  async #fetchWithFallback(
    path: string,
    fullPath: () => string,
    maxBytes: number,
  ): Promise<{ data: Uint8Array; url: string; fullWidth: boolean }> {
    const full = path === fullPath();
    try {
      return { data: await this.#http.bytes(path, maxBytes), url: this.#http.url(path), fullWidth: full };
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
      if (full) throw new VerifyError('gap', `${err.url} is missing (404)`, { url: err.url, status: 404 });
    }
    const fp = fullPath();
    try {
      return { data: await this.#http.bytes(fp, maxBytes), url: this.#http.url(fp), fullWidth: true };
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
      throw new VerifyError(
        'gap',
        `${this.#http.url(path)} and the full tile ${err.url} are both missing (404)`,
        {
          url: this.#http.url(path),
          status: 404,
        },
      );
    }
  }

  /**
   * A reader of complete-subtree hashes from the tiles of the tree of `size` leaves (only tiles
   * that tree implies are requested). Fetches the distinct tiles in parallel.
   */
  reader(size: number): AsyncSubtreeReader {
    return async (subtrees: readonly Subtree[]) => {
      const locs = subtrees.map((s) => {
        const loc = subtreeLocation(s);
        const tile = tileAtSize(size, loc.level, loc.index);
        if (tile === undefined || tile.width < loc.offset + loc.count) {
          throw new VerifyError(
            'usage',
            `subtree ${s.level}/${s.index} is not inside a tree of size ${size}`,
            {
              size,
            },
          );
        }
        return { loc, tile };
      });
      const distinct = new Map<string, Promise<Uint8Array>>();
      for (const { tile } of locs) {
        const key = `${tile.level}/${tile.index}`;
        if (!distinct.has(key)) distinct.set(key, this.hashTile(tile.level, tile.index, tile.width));
      }
      const tiles = new Map<string, Uint8Array>();
      await Promise.all([...distinct].map(async ([k, p]) => tiles.set(k, await p)));
      return locs.map(({ loc }) => {
        const data = tiles.get(`${loc.level}/${loc.index}`)!;
        const row: Uint8Array[] = [];
        for (let i = loc.offset; i < loc.offset + loc.count; i++) {
          row.push(data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
        }
        return perfectRootOf(row);
      });
    };
  }
}
