/**
 * Consistency between two verified checkpoints: PROOF(m, n) is built from the hash tiles of
 * the larger tree or taken from the JSON proof API, then verified against both signed roots.
 * When it fails, the failure is diagnosed: a proven fork (the larger signed tree has another
 * root at size m), tiles that do not hash to their signed root, or plain inconsistency.
 */
import { bytesEqual, toBase64 } from '../core/bytes.js';
import { MerkleError, verifyConsistency } from '../core/merkle.js';
import type { VerifiedCheckpoint } from './checkpoint.js';
import type { ClientContext, ProofSource } from './context.js';
import { VerifyError } from './errors.js';
import { type ApiConsistencyProof, fetchApiConsistencyProof } from './json-api.js';
import {
  consistencyProofFromTiles,
  prefixRootFromTiles,
  tilesMatchRoot,
  treeTilesRefusal,
} from './tile-proofs.js';

/** Which of the two checkpoints of a consistency check is the trusted one. */
export type TrustedSide = 'old' | 'new';

/**
 * Consistency proof PROOF(m, n), hashed from the tiles of the tree of size n or fetched from
 * the JSON API (which may also claim the old root). Not verified here.
 */
export async function fetchConsistencyProof(
  ctx: ClientContext,
  m: number,
  n: number,
  source: ProofSource,
): Promise<ApiConsistencyProof> {
  if (source === 'tiles') return { proof: await consistencyProofFromTiles(ctx.tiles, m, n) };
  return fetchApiConsistencyProof(ctx.http, m, n);
}

/**
 * Proves that `older` is a prefix of `newer` (both verified, older.size < newer.size) and
 * returns the proof. `trustedSide` says which of the two is the trusted one (for the
 * evidence). On failure: 'fork' if the newer tree is proven to have another root at the older
 * size, else 'bad_tile' (tiles do not hash to the signed root) or 'inconsistent'.
 */
export async function proveConsistency(
  ctx: ClientContext,
  older: VerifiedCheckpoint,
  newer: VerifiedCheckpoint,
  source: ProofSource,
  trustedSide: TrustedSide,
): Promise<Uint8Array[]> {
  const m = older.checkpoint.size;
  const n = newer.checkpoint.size;
  const answer = await fetchConsistencyProof(ctx, m, n, source);
  try {
    verifyConsistency(m, n, older.checkpoint.rootHash, newer.checkpoint.rootHash, answer.proof);
    return answer.proof;
  } catch (err) {
    if (!(err instanceof MerkleError)) throw err;
    throw await diagnoseInconsistency(ctx, { older, newer, source, trustedSide, answer, cause: err.code });
  }
}

/** A consistency proof that did not verify, and what the diagnosis needs to know about it. */
interface FailedConsistency {
  readonly older: VerifiedCheckpoint;
  readonly newer: VerifiedCheckpoint;
  readonly source: ProofSource;
  readonly trustedSide: TrustedSide;
  readonly answer: ApiConsistencyProof;
  /** Code of the MerkleError the proof failed with. */
  readonly cause: string;
}

/**
 * Why a consistency proof failed. A proven fork first: if the newer (signed) tree has another
 * root at the older size and the proof verifies from that root, the log signed two trees of
 * one size. Then, for tile proofs, whether the tiles hash to the newer signed root at all
 * ('bad_tile'). Otherwise 'inconsistent'.
 */
async function diagnoseInconsistency(ctx: ClientContext, f: FailedConsistency): Promise<VerifyError> {
  const { older, newer, source, answer, cause } = f;
  const m = older.checkpoint.size;
  const n = newer.checkpoint.size;
  const oldRoot = older.checkpoint.rootHash;
  const newRoot = newer.checkpoint.rootHash;
  const evidence = {
    trusted: f.trustedSide === 'old' ? older.note : newer.note,
    checkpoint: f.trustedSide === 'old' ? newer.note : older.note,
    proof: answer.proof.map(toBase64),
    proofSource: source,
  } as const;
  const alt = source === 'tiles' && m > 0 ? await tryPrefixRoot(ctx, m, n) : answer.claimedOldRoot;
  if (alt !== undefined && !bytesEqual(alt, oldRoot) && consistent(m, n, alt, newRoot, answer.proof)) {
    return new VerifyError(
      'fork',
      `split view: the signed tree of size ${n} has root ${toBase64(alt)} at size ${m}, ` +
        `but the log also signed root ${toBase64(oldRoot)} for size ${m}`,
      { ...evidence, forkedRoot: toBase64(alt), size: m, cause },
    );
  }
  if (source === 'tiles' && !(await tilesMatchRoot(ctx.tiles, n, newRoot))) {
    return treeTilesRefusal(ctx.tiles, n, { ...evidence, cause });
  }
  return new VerifyError('inconsistent', `checkpoint of size ${n} is not proven consistent with size ${m}`, {
    ...evidence,
    cause,
  });
}

/** The root at size m of the tree of size n, from its tiles; undefined if they cannot be read. */
async function tryPrefixRoot(ctx: ClientContext, m: number, n: number): Promise<Uint8Array | undefined> {
  try {
    return await prefixRootFromTiles(ctx.tiles, m, n);
  } catch {
    return undefined;
  }
}

/** True iff `proof` proves the tree of size m with root `a` a prefix of the tree of size n with root `b`. */
function consistent(
  m: number,
  n: number,
  a: Uint8Array,
  b: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  try {
    verifyConsistency(m, n, a, b, proof);
    return true;
  } catch {
    return false;
  }
}
