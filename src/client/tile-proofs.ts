/**
 * Proofs built from hash tiles alone, so they work against any tlog-tiles log: the root of a
 * tree prefix, a consistency proof, an inclusion proof (and the diagnosis of a failed one), a
 * leaf read from its entry bundle, and the check that a tree's tiles hash to its signed root.
 * Tile bytes are untrusted until they fold into a root that a verified checkpoint signs; when
 * they fail to, the tile cache is cleared so that a retry fetches them again.
 */
import { bytesEqual, toBase64 } from '../core/bytes.js';
import { isSafeUint } from '../core/check.js';
import { decodeEntry, type Entry } from '../core/entry.js';
import { HASH_SIZE } from '../core/hash.js';
import {
  consistencyProofRanges,
  hashRangesAsync,
  inclusionProofRanges,
  leafHash,
  verifyInclusion,
} from '../core/merkle.js';
import { TILE_WIDTH, tileAtSize } from '../core/tiles.js';
import type { VerifiedCheckpoint } from './checkpoint.js';
import { type Evidence, VerifyError } from './errors.js';
import type { TileFetcher } from './tiles.js';

/** A leaf verified from the tiles alone (works with any tlog-tiles log). */
export interface TileEntryVerification {
  readonly index: number;
  /** The entry bytes from the entry bundle. */
  readonly entryBytes: Uint8Array;
  /** The entry decoded as an opa-tlog entry, or undefined if it is opaque to this client. */
  readonly entry?: Entry;
  readonly leafHash: Uint8Array;
  /** The inclusion proof built from tiles. */
  readonly proof: readonly Uint8Array[];
  readonly checkpoint: VerifiedCheckpoint;
}

/** True iff `index` names a leaf of a tree of `size` leaves. */
export function isLeafIndex(index: number, size: number): boolean {
  return isSafeUint(index) && index < size;
}

/**
 * The entry decoded as an opa-tlog entry, or undefined when the bytes are not one: a
 * tlog-tiles log may hold leaves of any format, which are then checked as opaque bytes.
 */
export function decodeEntryIfOpaTlog(bytes: Uint8Array): Entry | undefined {
  try {
    return decodeEntry(bytes);
  } catch {
    return undefined;
  }
}

/** The root of the first `m` (>= 1) leaves, hashed from the tiles of the tree of `n` leaves. */
export async function prefixRootFromTiles(tiles: TileFetcher, m: number, n: number): Promise<Uint8Array> {
  const [root] = await hashRangesAsync([[0, m]], tiles.reader(n));
  return root!;
}

/** PROOF(m, n) hashed from the tiles of the tree of `n` leaves (not verified here). */
export function consistencyProofFromTiles(tiles: TileFetcher, m: number, n: number): Promise<Uint8Array[]> {
  return hashRangesAsync(consistencyProofRanges(m, n), tiles.reader(n));
}

/**
 * The 'bad_tile' refusal for a tree whose tiles do not hash to its signed root. Clears the
 * tile cache first: the cached tiles failed to authenticate and must not be reused.
 */
export function treeTilesRefusal(tiles: TileFetcher, size: number, evidence: Evidence): VerifyError {
  tiles.cache.clear();
  return new VerifyError('bad_tile', `the tiles of the tree of size ${size} do not hash to its signed root`, {
    ...evidence,
    size,
  });
}

/**
 * Checks that the tiles of `cp`'s tree hash to its signed root (the right-edge tiles and the
 * tiles below the largest complete subtrees); throws 'bad_tile' otherwise.
 */
export async function verifyTreeTiles(tiles: TileFetcher, cp: VerifiedCheckpoint): Promise<void> {
  const { size, rootHash } = cp.checkpoint;
  if (size === 0) return;
  const root = await prefixRootFromTiles(tiles, size, size);
  if (!bytesEqual(root, rootHash)) {
    throw treeTilesRefusal(tiles, size, {
      checkpoint: cp.note,
      expected: toBase64(rootHash),
      actual: toBase64(root),
      proofSource: 'tiles',
    });
  }
}

/**
 * True iff the tiles of the tree of `size` leaves hash to `root`. Tiles that cannot be read
 * (missing or malformed) do not match; network and authorization failures are thrown, since
 * they say nothing about the log.
 */
export async function tilesMatchRoot(tiles: TileFetcher, size: number, root: Uint8Array): Promise<boolean> {
  if (size === 0) return true;
  try {
    return bytesEqual(await prefixRootFromTiles(tiles, size, size), root);
  } catch (err) {
    if (err instanceof VerifyError && (err.code === 'network' || err.code === 'unauthorized')) throw err;
    return false;
  }
}

/**
 * Proves from tiles that `leaf` is at `index` in `cp`'s tree; returns the proof. Throws
 * 'bad_inclusion' when the tiles are proven honest but hold another leaf at `index`, and
 * 'bad_tile' when the tiles do not lead to the signed root.
 */
export async function proveInclusionFromTiles(
  tiles: TileFetcher,
  index: number,
  leaf: Uint8Array,
  cp: VerifiedCheckpoint,
): Promise<Uint8Array[]> {
  const size = cp.checkpoint.size;
  if (!isLeafIndex(index, size)) {
    throw new VerifyError('bad_inclusion', `index ${index} is not below the tree size ${size}`, {
      index,
      size,
      checkpoint: cp.note,
    });
  }
  const proof = await hashRangesAsync(inclusionProofRanges(index, size), tiles.reader(size));
  if (included(index, size, leaf, proof, cp.checkpoint.rootHash)) return proof;
  throw await diagnoseTileInclusion(tiles, index, leaf, proof, cp);
}

/**
 * Why a tile-built inclusion proof failed: if the same path proves the leaf hash the tiles
 * themselves hold at `index`, the signed tree holds another leaf there ('bad_inclusion');
 * otherwise the tiles do not lead to the signed root ('bad_tile', cache cleared).
 */
async function diagnoseTileInclusion(
  tiles: TileFetcher,
  index: number,
  leaf: Uint8Array,
  proof: Uint8Array[],
  cp: VerifiedCheckpoint,
): Promise<VerifyError> {
  const { size, rootHash } = cp.checkpoint;
  const evidence = {
    index,
    size,
    leafHash: toBase64(leaf),
    proof: proof.map(toBase64),
    proofSource: 'tiles' as const,
    checkpoint: cp.note,
  };
  const tileLeaf = await leafHashFromTiles(tiles, index, size);
  if (!bytesEqual(tileLeaf, leaf) && included(index, size, tileLeaf, proof, rootHash)) {
    return new VerifyError('bad_inclusion', `the signed tree holds another leaf at index ${index}`, {
      ...evidence,
      expected: toBase64(tileLeaf),
      actual: toBase64(leaf),
    });
  }
  tiles.cache.clear();
  return new VerifyError(
    'bad_tile',
    `the tiles do not prove any leaf at ${index} against the signed root`,
    evidence,
  );
}

/** The leaf hash the level-0 hash tile of the tree of `size` leaves holds at `index`. */
async function leafHashFromTiles(tiles: TileFetcher, index: number, size: number): Promise<Uint8Array> {
  const tile = tileAtSize(size, 0, Math.floor(index / TILE_WIDTH))!;
  const data = await tiles.hashTile(0, tile.index, tile.width);
  const o = (index % TILE_WIDTH) * HASH_SIZE;
  return data.slice(o, o + HASH_SIZE);
}

/**
 * Verifies leaf `index` of `cp`'s tree from the tiles alone: the entry from its bundle, its
 * leaf hash, and an inclusion proof built from hash tiles. 'not_found' if the tree has no
 * such leaf. Entries that are not opa-tlog entries are returned as opaque bytes.
 */
export async function verifyEntryFromTiles(
  tiles: TileFetcher,
  index: number,
  cp: VerifiedCheckpoint,
): Promise<TileEntryVerification> {
  const size = cp.checkpoint.size;
  if (!isLeafIndex(index, size)) {
    throw new VerifyError('not_found', `index ${index} is not below the tree size ${size}`, { index, size });
  }
  const bundle = tileAtSize(size, 0, Math.floor(index / TILE_WIDTH))!;
  const entries = await tiles.entryBundle(bundle.index, bundle.width);
  const entryBytes = entries[index % TILE_WIDTH]!;
  const leaf = leafHash(entryBytes);
  const proof = await proveInclusionFromTiles(tiles, index, leaf, cp);
  const entry = decodeEntryIfOpaTlog(entryBytes);
  return { index, entryBytes, ...(entry ? { entry } : {}), leafHash: leaf, proof, checkpoint: cp };
}

/** True iff `proof` proves `leaf` at `index` in the tree of `size` leaves with `root`. */
function included(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    verifyInclusion(index, size, leaf, proof, root);
    return true;
  } catch {
    return false;
  }
}
