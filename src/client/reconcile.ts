/**
 * Reconciliation with the trusted state: the last verified checkpoint of the log is reloaded
 * (and re-verified, a store is not trusted to keep notes intact), then a newly verified
 * checkpoint is compared with it by size. Only a checkpoint proven consistent with the trusted
 * one replaces it; a smaller tree is a rollback unless the caller accepts a proven prefix.
 */
import { bytesEqual, toBase64 } from '../core/bytes.js';
import { logKeysOnly, type VerifiedCheckpoint, verifyCheckpointNote } from './checkpoint.js';
import { proveConsistency } from './consistency.js';
import type { ClientContext, ProofSource } from './context.js';
import { VerifyError } from './errors.js';

/** How a checkpoint relates to the trusted state. */
export type CheckpointStatus =
  /** No trusted state yet: the checkpoint is now trusted (trust on first use). */
  | 'first_use'
  /** Same as the trusted checkpoint. */
  | 'unchanged'
  /** Larger tree, proven consistent: the checkpoint replaced the trusted one. */
  | 'advanced'
  /** Smaller tree, proven to be a prefix of the trusted one (state unchanged). */
  | 'older';

/** Result of {@link LogClient.update} and {@link LogClient.reconcile}. */
export interface CheckpointCheck {
  readonly checkpoint: VerifiedCheckpoint;
  /** The trusted checkpoint it was compared with (undefined on first use). */
  readonly trusted?: VerifiedCheckpoint;
  readonly status: CheckpointStatus;
  /** The consistency proof that was checked (empty when none was needed). */
  readonly proof: readonly Uint8Array[];
  /** Where that proof came from. */
  readonly proofSource: ProofSource;
}

/** Options of {@link reconcileCheckpoint}. */
export interface ReconcileOptions {
  /** Accept a smaller tree once proven a prefix of the trusted one (default false: 'rollback'). */
  allowOlder?: boolean;
  /** Where consistency proofs come from (default: the client's). */
  source?: ProofSource;
}

/**
 * The trusted checkpoint, re-verified with the log keys (a store is not trusted to keep notes
 * intact); 'bad_state' if the stored note does not verify.
 */
export async function loadTrusted(ctx: ClientContext): Promise<VerifiedCheckpoint | undefined> {
  const note = await ctx.store.load(ctx.trust.origin);
  if (note === undefined) return undefined;
  try {
    return verifyCheckpointNote(note, logKeysOnly(ctx.trust));
  } catch (err) {
    if (!(err instanceof VerifyError)) throw err;
    throw new VerifyError('bad_state', `the stored trusted checkpoint does not verify: ${err.message}`, {
      trusted: note,
      ...(err.evidence.cause !== undefined ? { cause: err.evidence.cause } : {}),
    });
  }
}

/**
 * Checks an already verified checkpoint against the trusted state. A larger tree must be
 * proven consistent (then it is stored); an equal size must have the same root ('fork'
 * otherwise); a smaller tree is 'rollback' unless `allowOlder`, in which case it must be
 * proven to be a prefix of the trusted tree (the state is kept).
 */
export async function reconcileCheckpoint(
  ctx: ClientContext,
  cp: VerifiedCheckpoint,
  opts: ReconcileOptions = {},
): Promise<CheckpointCheck> {
  const proofSource = opts.source ?? ctx.consistency;
  const trusted = await loadTrusted(ctx);
  if (trusted === undefined) {
    await ctx.store.save(ctx.trust.origin, cp.note);
    return { checkpoint: cp, status: 'first_use', proof: [], proofSource };
  }
  const m = trusted.checkpoint.size;
  const n = cp.checkpoint.size;
  if (n === m) {
    if (!bytesEqual(trusted.checkpoint.rootHash, cp.checkpoint.rootHash)) throw sameSizeFork(trusted, cp);
    return { checkpoint: cp, trusted, status: 'unchanged', proof: [], proofSource };
  }
  if (n > m) {
    const proof = await proveConsistency(ctx, trusted, cp, proofSource, 'old');
    await ctx.store.save(ctx.trust.origin, cp.note);
    return { checkpoint: cp, trusted, status: 'advanced', proof, proofSource };
  }
  if (!opts.allowOlder) {
    throw new VerifyError(
      'rollback',
      `the log presents a tree of size ${n}, smaller than the trusted size ${m}`,
      { trusted: trusted.note, checkpoint: cp.note, size: n, expected: `>= ${m}`, actual: String(n) },
    );
  }
  const proof = await proveConsistency(ctx, cp, trusted, proofSource, 'new');
  return { checkpoint: cp, trusted, status: 'older', proof, proofSource };
}

/**
 * The 'fork' refusal for two signed checkpoints of the same size with different roots (the
 * caller has compared the roots): one log cannot have both, so the pair proves a split view.
 */
export function sameSizeFork(trusted: VerifiedCheckpoint, cp: VerifiedCheckpoint): VerifyError {
  const size = cp.checkpoint.size;
  return new VerifyError('fork', `two signed checkpoints of size ${size} have different roots`, {
    trusted: trusted.note,
    checkpoint: cp.note,
    size,
    expected: toBase64(trusted.checkpoint.rootHash),
    actual: toBase64(cp.checkpoint.rootHash),
  });
}
