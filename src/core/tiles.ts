/**
 * C2SP tlog-tiles: tile coordinates and paths, the tiles that exist at a tree size, reading
 * complete-subtree hashes out of tiles, and an incremental builder that turns appended leaf
 * hashes into tile writes while keeping only the tree's right edge in memory. Pure.
 *
 * Tile height is fixed at 8: a level-L tile holds up to 256 hashes, each the root of a
 * complete subtree of 256^L leaves; hash i of tile N at level L covers leaves
 * [(256N+i)·256^L, (256N+i+1)·256^L). Only full tiles feed the level above.
 */
import { concatBytes } from './bytes.js';
import { isHash, isIntInRange, isSafeUint } from './check.js';
import { HASH_SIZE, type Sha256, sha256 } from './hash.js';
import {
  EMPTY_ROOT,
  foldSubtreeHashes,
  MerkleError,
  nodeHash,
  perfectRootOf,
  type Subtree,
  type SubtreeReader,
} from './merkle.js';

/** Hashes per full tile (2^8). */
export const TILE_WIDTH = 256;
/** Tile height in tree levels. */
export const TILE_HEIGHT = 8;
/** Highest tile level a path may name. */
export const MAX_TILE_LEVEL = 63;

/** A tile: `width` is 1..256; 256 is a full tile, smaller is the partial tile `.p/<width>`. */
export interface Tile {
  readonly level: number;
  readonly index: number;
  readonly width: number;
}

/** A parsed tile path: a hash tile, or an entry bundle (`tile/entries/...`). */
export type TilePath =
  | ({ readonly kind: 'hash' } & Tile)
  | { readonly kind: 'entries'; readonly index: number; readonly width: number };

/** Encodes a tile index as base-1000 groups: 1234067 -> "x001/x234/067". */
export function encodeTileIndex(n: number): string {
  if (!isSafeUint(n)) throw new MerkleError('invalid_argument', `bad tile index ${n}`);
  let s = String(n % 1000).padStart(3, '0');
  let rest = Math.floor(n / 1000);
  while (rest > 0) {
    s = `x${String(rest % 1000).padStart(3, '0')}/${s}`;
    rest = Math.floor(rest / 1000);
  }
  return s;
}

function widthSuffix(width: number): string {
  if (!isIntInRange(width, 1, TILE_WIDTH)) {
    throw new MerkleError('invalid_argument', `tile width ${width} is not in 1..256`);
  }
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

/** Path of a hash tile relative to the log prefix, e.g. "tile/0/x001/234.p/7". */
export function hashTilePath(t: Tile): string {
  if (!isIntInRange(t.level, 0, MAX_TILE_LEVEL)) {
    throw new MerkleError('invalid_argument', `tile level ${t.level} is not in 0..63`);
  }
  return `tile/${t.level}/${encodeTileIndex(t.index)}${widthSuffix(t.width)}`;
}

/** Path of an entry bundle, e.g. "tile/entries/000.p/8". */
export function entryBundlePath(index: number, width: number): string {
  return `tile/entries/${encodeTileIndex(index)}${widthSuffix(width)}`;
}

const LEVEL_RE = /^(0|[1-9][0-9]?)$/;
const WIDTH_RE = /^[1-9][0-9]{0,2}$/;

/**
 * Parses a tile path ("tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]", no leading slash)
 * strictly: exactly-three-digit groups, `x` on all but the last, no redundant leading zero
 * groups, level 0..63, width 1..255 after `.p/`. Returns undefined for anything else, so
 * every tile has exactly one accepted path.
 */
export function parseTilePath(path: string): TilePath | undefined {
  const parts = path.split('/');
  if (parts.length < 3 || parts[0] !== 'tile') return undefined;
  const levelPart = parts[1]!;
  let rest = parts.slice(2);
  let width = TILE_WIDTH;
  // A partial tile: "...<NNN>.p/<W>".
  const lastIdx = rest.length - 1;
  if (rest.length >= 2 && rest[lastIdx - 1]!.endsWith('.p')) {
    const w = rest[lastIdx]!;
    if (!WIDTH_RE.test(w)) return undefined;
    width = Number(w);
    if (width >= TILE_WIDTH) return undefined;
    rest = [...rest.slice(0, lastIdx - 1), rest[lastIdx - 1]!.slice(0, -2)];
  }
  let index = 0;
  for (let i = 0; i < rest.length; i++) {
    const g = rest[i]!;
    const last = i === rest.length - 1;
    const digits = last ? g : g.startsWith('x') ? g.slice(1) : undefined;
    if (digits === undefined || !/^[0-9]{3}$/.test(digits)) return undefined;
    index = index * 1000 + Number(digits);
  }
  if (!isSafeUint(index)) return undefined;
  // Reject redundant leading zero groups ("x000/001"): the canonical encoding must round-trip.
  if (encodeTileIndex(index) !== rest.join('/')) return undefined;
  if (levelPart === 'entries') return { kind: 'entries', index, width };
  if (!LEVEL_RE.test(levelPart)) return undefined;
  const level = Number(levelPart);
  if (level > MAX_TILE_LEVEL) return undefined;
  return { kind: 'hash', level, index, width };
}

/** Number of hashes at tile level L in a tree of `size` leaves: floor(size / 256^L). */
export function hashesAtLevel(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/**
 * The tile at `level` and `index` as it exists for a tree of `size` leaves (full or partial),
 * or undefined if the tree has no such tile.
 */
export function tileAtSize(size: number, level: number, index: number): Tile | undefined {
  const n = hashesAtLevel(size, level);
  const width = Math.min(TILE_WIDTH, n - index * TILE_WIDTH);
  if (width <= 0) return undefined;
  return { level, index, width };
}

/** Every hash tile that exists for a tree of `size` leaves (rightmost ones may be partial). */
export function tilesForSize(size: number): Tile[] {
  const out: Tile[] = [];
  for (let level = 0; hashesAtLevel(size, level) > 0; level++) {
    const n = hashesAtLevel(size, level);
    for (let index = 0; index * TILE_WIDTH < n; index++) out.push(tileAtSize(size, level, index)!);
  }
  return out;
}

/**
 * Where a complete subtree's hash comes from: the tile at `level`, hashes
 * [offset, offset + count) of it, hashed pairwise up to one hash. A tile of any width
 * >= offset + count serves.
 */
export function subtreeLocation(s: Subtree): {
  level: number;
  index: number;
  offset: number;
  count: number;
  /** log2(count): the subtree's height inside the tile (0..7). */
  height: number;
} {
  const level = Math.floor(s.level / TILE_HEIGHT);
  const r = s.level - level * TILE_HEIGHT;
  // A shift, not 2 ** r: a variable exponent is a call to pow (~2 % of a proof's CPU).
  const count = 1 << r;
  const start = s.index * count;
  return { level, index: Math.floor(start / TILE_WIDTH), offset: start % TILE_WIDTH, count, height: r };
}

/** Number of 32-byte hashes in tile bytes; throws if the length is not a multiple of 32. */
function hashCount(data: Uint8Array): number {
  if (data.length % HASH_SIZE !== 0) {
    throw new MerkleError('invalid_hash', `tile of ${data.length} bytes is not a whole number of hashes`);
  }
  return data.length / HASH_SIZE;
}

/** Splits tile bytes into 32-byte hashes; throws if the length is not a multiple of 32. */
export function tileHashes(data: Uint8Array): Uint8Array[] {
  hashCount(data);
  const out: Uint8Array[] = [];
  for (let o = 0; o < data.length; o += HASH_SIZE) out.push(data.subarray(o, o + HASH_SIZE));
  return out;
}

/** A stored tile: its hashes and, for full tiles, optionally its interior nodes. */
export interface StoredTile {
  readonly data: Uint8Array;
  /** The 255 interior hashes of a full tile ({@link tileInterior}), if stored. */
  readonly interior?: Uint8Array | undefined;
}

/**
 * The interior nodes of a full tile: the 255 hashes of the height-8 subtree above its 256
 * hashes, level by level (128 at level 1, 64 at level 2, ..., the tile root at level 8),
 * concatenated. A full tile never changes, so storing these once makes every later proof a
 * lookup instead of up to 255 hash computations per tile.
 */
export function tileInterior(row: readonly Uint8Array[], sha: Sha256 = sha256): Uint8Array {
  if (row.length !== TILE_WIDTH) throw new MerkleError('invalid_argument', 'interior nodes need a full tile');
  const out = new Uint8Array((TILE_WIDTH - 1) * HASH_SIZE);
  let level = row;
  let o = 0;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const h = nodeHash(level[i]!, level[i + 1]!, sha);
      next.push(h);
      out.set(h, o);
      o += HASH_SIZE;
    }
    level = next;
  }
  return out;
}

/** Offset (in hashes) of interior level r (1..8) in {@link tileInterior}'s layout. */
const interiorStart = (r: number): number => TILE_WIDTH - (512 >> r);

/**
 * A {@link SubtreeReader} over stored tiles. `readTile(level, index)` returns the stored bytes
 * of that tile (any width that covers what is asked), or the tile with its interior nodes, or
 * undefined. With interior nodes a subtree hash is a lookup; without, the tile's hashes are
 * hashed up. Tiles are cached for the duration of one read call.
 */
export function tileSubtreeReader(
  readTile: (level: number, index: number) => Uint8Array | StoredTile | undefined,
  sha: Sha256 = sha256,
): SubtreeReader {
  return (subtrees) => {
    // Hashes are read at their offsets, never split out: a proof needs ~8 of a tile's 511.
    // Keyed by number (index x 64 + level: levels are < 64), not a "level/index" string.
    const cache = new Map<number, { data: Uint8Array; width: number; interior: Uint8Array | undefined }>();
    return subtrees.map((s) => {
      const loc = subtreeLocation(s);
      const key = loc.index * 64 + loc.level;
      let t = cache.get(key);
      if (!t) {
        const got = readTile(loc.level, loc.index);
        if (!got) throw new MerkleError('invalid_argument', `tile ${loc.level}/${loc.index} is not stored`);
        const stored: StoredTile = got instanceof Uint8Array ? { data: got } : got;
        t = { data: stored.data, width: hashCount(stored.data), interior: stored.interior ?? undefined };
        cache.set(key, t);
      }
      if (t.width < loc.offset + loc.count) {
        throw new MerkleError(
          'invalid_argument',
          `tile ${loc.level}/${loc.index} is too narrow for subtree ${s.level}/${s.index}`,
        );
      }
      const from = loc.offset * HASH_SIZE;
      if (loc.count === 1) return t.data.subarray(from, from + HASH_SIZE);
      if (t.interior && t.width === TILE_WIDTH && t.interior.length === (TILE_WIDTH - 1) * HASH_SIZE) {
        const at = (interiorStart(loc.height) + (loc.offset >> loc.height)) * HASH_SIZE;
        return t.interior.subarray(at, at + HASH_SIZE);
      }
      return perfectRootOf(tileHashes(t.data.subarray(from, from + loc.count * HASH_SIZE)), sha);
    });
  };
}

/** A tile write produced by {@link TileBuilder.append}: the whole current content of the tile. */
export interface TileWrite extends Tile {
  readonly data: Uint8Array;
  /** For a full tile: its interior nodes ({@link tileInterior}); the last 32 bytes are its root. */
  readonly interior?: Uint8Array;
}

/**
 * Incremental tile builder: holds the rightmost (partial) tile of every level, which is all
 * of the tree's right edge that is needed both to extend the tiles and to compute the root.
 * Appending never recomputes the tree; each full tile is hashed once, when it completes.
 */
export class TileBuilder {
  #size: number;
  /** Rightmost tile of each level, as its hashes (0..255 of them). */
  readonly #edge: Uint8Array[][];
  readonly #sha: Sha256;

  /**
   * Starts from the right edge of an existing tree: `edge[L]` holds the hashes of the partial
   * tile at level L (those beyond the last full tile). Consistency of `size` with the edge is
   * checked.
   */
  constructor(size = 0, edge: readonly (readonly Uint8Array[])[] = [], sha: Sha256 = sha256) {
    if (!isSafeUint(size)) throw new MerkleError('invalid_argument', `bad size ${size}`);
    this.#size = size;
    this.#sha = sha;
    this.#edge = edge.map((row) => row.slice());
    for (let level = 0; level < this.#edge.length || hashesAtLevel(size, level) > 0; level++) {
      const want = hashesAtLevel(size, level) % TILE_WIDTH;
      const have = this.#edge[level]?.length ?? 0;
      if (want !== have) {
        throw new MerkleError(
          'invalid_argument',
          `right edge at level ${level} has ${have} hashes, size needs ${want}`,
        );
      }
    }
  }

  /** Returns to an earlier state (size and its right edge), e.g. after a failed commit. */
  reset(size: number, edge: readonly (readonly Uint8Array[])[]): void {
    const fresh = new TileBuilder(size, edge, this.#sha);
    this.#size = fresh.#size;
    this.#edge.length = 0;
    this.#edge.push(...fresh.#edge);
  }

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** Current right edge (copies), as accepted by the constructor. */
  edge(): Uint8Array[][] {
    return this.#edge.map((r) => r.slice());
  }

  /**
   * Appends leaf hashes and returns every tile whose content changed, each once, with its
   * full current content (full tiles have width 256 and are final).
   */
  append(leafHashes: readonly Uint8Array[]): TileWrite[] {
    const touched = new Map<string, TileWrite>();
    for (const h of leafHashes) {
      if (!isHash(h)) throw new MerkleError('invalid_hash', 'leaf hash must be 32 bytes');
      let carry: Uint8Array | undefined = h;
      let level = 0;
      while (carry) {
        const row: Uint8Array[] = this.#edge[level] ?? [];
        this.#edge[level] = row;
        row.push(carry);
        // Index of the tile receiving this hash: the hash's position at this level is
        // hashesAtLevel(size, level), counted before this leaf is added.
        const index = Math.floor(hashesAtLevel(this.#size, level) / TILE_WIDTH);
        carry = undefined;
        if (row.length === TILE_WIDTH) {
          const interior = tileInterior(row, this.#sha);
          touched.set(`${level}/${index}`, {
            level,
            index,
            width: TILE_WIDTH,
            data: concatBytes(...row),
            interior,
          });
          carry = interior.slice(interior.length - HASH_SIZE);
          this.#edge[level] = [];
          level++;
        } else {
          touched.set(`${level}/${index}`, { level, index, width: row.length, data: new Uint8Array(0) });
        }
      }
      this.#size++;
    }
    // Materialise partial tiles once, at their final width for this batch. A partial entry
    // left in `touched` is always the current rightmost tile of its level: had that tile
    // filled up later in the batch, its key would hold the full tile instead.
    const out: TileWrite[] = [];
    for (const t of touched.values()) {
      if (t.width === TILE_WIDTH) out.push(t);
      else {
        const row = this.#edge[t.level]!;
        out.push({ level: t.level, index: t.index, width: row.length, data: concatBytes(...row) });
      }
    }
    return out;
  }

  /** MTH of the current tree, from the right edge alone. */
  root(): Uint8Array {
    if (this.#size === 0) return EMPTY_ROOT;
    const parts: Uint8Array[] = [];
    for (let level = this.#edge.length - 1; level >= 0; level--) {
      const row = this.#edge[level]!;
      let offset = 0;
      for (let r = TILE_HEIGHT - 1; r >= 0; r--) {
        const count = 1 << r;
        if (row.length - offset >= count) {
          parts.push(perfectRootOf(row.slice(offset, offset + count), this.#sha));
          offset += count;
        }
      }
    }
    return foldSubtreeHashes(parts, this.#sha);
  }
}
