/**
 * Places in the blob file (blob-file.ts) of full tiles or full bundles, read from SQLite a
 * chunk of 64 consecutive indices at a time and kept in a bounded LRU.
 *
 * Why: a point lookup of one place is a statement, ~8 us here (most of it the WAL read lock's
 * syscalls), about a tenth of the server's CPU for a tile GET or an inclusion proof. A place
 * never changes once committed (`tile_places` and `bundle_places` are only inserted into, in
 * the transaction that appends the bytes), so a chunk read outside a transaction, from a
 * committed snapshot, stays right for ever. An index its chunk lacks (not yet full when the
 * chunk was read, or full before the blob file and kept as a row) gets undefined: the caller
 * looks it up with a point statement (as for a partial tile near the right edge, read often),
 * and hands back a place that lookup found ({@link PlaceChunks.learn}), so a chunk is read
 * once. Nothing is cached from inside a transaction: a place inserted by a transaction that
 * then rolls back would point at bytes the next append writes over.
 */
import { Lru } from '../core/lru.js';
import type { BlobPlace } from './blob-file.js';
import type { Db } from './db.js';

/** Indices per chunk: one miss reads 64 rows (~2.5 point lookups' time), then 64 hits. */
export const PLACE_CHUNK = 64;

/** Chunks kept by default: 4,096 x ~1.1 KiB = ~4.5 MiB, the level-0 places of 67M leaves. */
export const DEFAULT_PLACE_CHUNKS = 4096;

/**
 * Reads the places of group `group` (a tile level; 0 for bundles) with indices in
 * [first, first + PLACE_CHUNK): rows of [index, off, len].
 */
export type PlaceLoader = (group: number, first: number) => readonly (readonly [number, number, number])[];

/** A chunk: offsets (NaN where the chunk has no place) then lengths, PLACE_CHUNK of each. */
type Chunk = Float64Array;

export class PlaceChunks {
  readonly #db: Db;
  readonly #load: PlaceLoader;
  readonly #chunks: Lru<number, Chunk>;

  /** `chunks`: how many chunks are kept (LRU). */
  constructor(db: Db, load: PlaceLoader, chunks = DEFAULT_PLACE_CHUNKS) {
    this.#db = db;
    this.#load = load;
    this.#chunks = new Lru(chunks);
  }

  /** Number of chunks held (for tests: never more than the bound). */
  get size(): number {
    return this.#chunks.size;
  }

  /**
   * The committed place of (group, index), or undefined if none is known: the caller then
   * reads it (or its row) with a point lookup. `group` is below 64.
   */
  place(group: number, index: number): BlobPlace | undefined {
    const first = index - (index % PLACE_CHUNK);
    const key = first * 64 + group;
    let chunk = this.#chunks.get(key);
    if (chunk === undefined) {
      if (this.#db.inTransaction) return undefined;
      chunk = this.#read(group, first);
      this.#chunks.set(key, chunk);
    }
    const at = index - first;
    const off = chunk[at]!;
    return Number.isNaN(off) ? undefined : { off, len: chunk[PLACE_CHUNK + at]! };
  }

  /**
   * Records the committed place of (group, index) that a point lookup found after
   * {@link place} had none (the tile or bundle filled since its chunk was read): the lookup's
   * row as read (off and len null for a tile or bundle kept as a row: nothing to record).
   * Ignored inside a transaction (the place may not be committed) or when the chunk is not held.
   */
  learn(
    group: number,
    index: number,
    place: { readonly off: number | null; readonly len: number | null },
  ): void {
    if (place.off === null || place.len === null || this.#db.inTransaction) return;
    const first = index - (index % PLACE_CHUNK);
    const chunk = this.#chunks.get(first * 64 + group);
    if (chunk === undefined) return;
    chunk[index - first] = place.off;
    chunk[PLACE_CHUNK + index - first] = place.len;
  }

  #read(group: number, first: number): Chunk {
    const chunk = new Float64Array(2 * PLACE_CHUNK).fill(Number.NaN, 0, PLACE_CHUNK);
    for (const [index, off, len] of this.#load(group, first)) {
      const at = index - first;
      if (at < 0 || at >= PLACE_CHUNK) continue;
      chunk[at] = off;
      chunk[PLACE_CHUNK + at] = len;
    }
    return chunk;
  }
}
