/**
 * Offline proofs (c2sp.org/tlog-proof@v1): parse, format and verify a proof file that shows a
 * leaf is included in a signed (and optionally cosigned) checkpoint, without any network.
 */
import { fromBase64, parseCanonicalDecimal, toBase64 } from '../core/bytes.js';
import { HASH_SIZE } from '../core/hash.js';
import { leafHash, MerkleError, verifyInclusion } from '../core/merkle.js';
import { type Trust, type VerifiedCheckpoint, verifyCheckpointNote } from './checkpoint.js';
import { VerifyError } from './errors.js';

/** First line of every tlog-proof file. */
export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';

/** A parsed tlog-proof (nothing verified). */
export interface TlogProof {
  /** The optional, unauthenticated `extra` data (for opa-tlog: the entry bytes). */
  readonly extra?: Uint8Array;
  /** Leaf index. */
  readonly index: number;
  /** Inclusion proof PATH(index, size), leaf sibling first. */
  readonly proof: readonly Uint8Array[];
  /** The checkpoint note, verbatim (text, blank line, signatures). */
  readonly checkpoint: string;
}

function malformed(message: string): VerifyError {
  return new VerifyError('malformed_proof', `tlog-proof: ${message}`, { proofSource: 'file' });
}

/** Parses a tlog-proof file strictly; throws 'malformed_proof'. */
export function parseTlogProof(text: string): TlogProof {
  const blank = text.indexOf('\n\n');
  if (blank < 0) throw malformed('no blank line before the checkpoint');
  const head = text.slice(0, blank).split('\n');
  const checkpoint = text.slice(blank + 2);
  if (head[0] !== TLOG_PROOF_HEADER) throw malformed(`first line must be ${TLOG_PROOF_HEADER}`);
  let i = 1;
  let extra: Uint8Array | undefined;
  if (head[i]?.startsWith('extra ')) {
    extra = fromBase64(head[i]!.slice(6));
    if (extra === undefined) throw malformed('extra is not strict base64');
    i++;
  }
  const idx = head[i]?.startsWith('index ') ? parseCanonicalDecimal(head[i]!.slice(6)) : undefined;
  if (idx === undefined) throw malformed(`line ${i + 1} must be "index <canonical decimal>"`);
  i++;
  const proof: Uint8Array[] = [];
  for (; i < head.length; i++) {
    const h = fromBase64(head[i]!);
    if (h === undefined || h.length !== HASH_SIZE)
      throw malformed(`line ${i + 1} is not a base64 32-byte hash`);
    proof.push(h);
  }
  if (checkpoint.length === 0) throw malformed('no checkpoint after the blank line');
  return { ...(extra !== undefined ? { extra } : {}), index: idx, proof, checkpoint };
}

/** Formats a tlog-proof file (the inverse of {@link parseTlogProof}). */
export function formatTlogProof(p: TlogProof): string {
  let s = `${TLOG_PROOF_HEADER}\n`;
  if (p.extra !== undefined) s += `extra ${toBase64(p.extra)}\n`;
  s += `index ${p.index}\n`;
  for (const h of p.proof) s += `${toBase64(h)}\n`;
  return `${s}\n${p.checkpoint}`;
}

/** Result of {@link verifyTlogProof}. */
export interface TlogProofVerification {
  readonly index: number;
  /** The entry bytes whose leaf hash was proven included. */
  readonly entry: Uint8Array;
  readonly leafHash: Uint8Array;
  readonly checkpoint: VerifiedCheckpoint;
}

/**
 * Verifies a tlog-proof offline, in the order of c2sp.org/tlog-proof: leaf hash of `entry`
 * (default: the file's `extra`), the checkpoint signature and witness quorum, then the
 * inclusion proof against the checkpoint's size and root. Throws a VerifyError
 * ('malformed_proof', checkpoint codes, 'bad_inclusion').
 */
export function verifyTlogProof(text: string, trust: Trust, entry?: Uint8Array): TlogProofVerification {
  const p = parseTlogProof(text);
  const bytes = entry ?? p.extra;
  if (bytes === undefined) {
    throw new VerifyError('usage', 'the proof has no extra line: give the entry bytes to check');
  }
  const leaf = leafHash(bytes);
  const checkpoint = verifyCheckpointNote(p.checkpoint, trust);
  checkInclusion(p.index, leaf, p.proof, checkpoint, 'file');
  return { index: p.index, entry: bytes, leafHash: leaf, checkpoint };
}

/**
 * Checks an inclusion proof of `leaf` at `index` against a verified checkpoint; throws
 * 'bad_inclusion' with the proof, leaf hash and checkpoint as evidence.
 */
export function checkInclusion(
  index: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  cp: VerifiedCheckpoint,
  proofSource: 'tiles' | 'api' | 'response' | 'file',
): void {
  try {
    verifyInclusion(index, cp.checkpoint.size, leaf, proof, cp.checkpoint.rootHash);
  } catch (err) {
    if (!(err instanceof MerkleError)) throw err;
    throw new VerifyError(
      'bad_inclusion',
      `leaf ${index} is not proven included in the tree of size ${cp.checkpoint.size}: ${err.message}`,
      {
        index,
        size: cp.checkpoint.size,
        leafHash: toBase64(leaf),
        proof: proof.map(toBase64),
        proofSource,
        checkpoint: cp.note,
        cause: err.code,
      },
    );
  }
}
