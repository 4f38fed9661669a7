/**
 * Checkpoint verification for the client: the log's signature with its configured key, then
 * (optionally) a C2SP tlog-policy witness quorum. Core NoteErrors become {@link VerifyError}s
 * whose evidence is the refused note.
 */
import { type Checkpoint, type CheckpointError, openCheckpoint } from '../core/checkpoint.js';
import { NoteError, type NoteVerifier, newEd25519Verifier } from '../core/note.js';
import { type Policy, type PolicyError, parsePolicy, verifyCheckpointWithPolicy } from '../core/policy.js';
import { VerifyError, type VerifyErrorCode } from './errors.js';

/** What the client trusts: the log key and, optionally, a witness policy. */
export interface Trust {
  /** The log's verifier (its name is the checkpoint origin). */
  readonly log: NoteVerifier;
  /** A witness policy whose quorum every checkpoint must meet. */
  readonly policy?: Policy;
}

/** A checkpoint whose signature (and quorum, if a policy is set) verified. */
export interface VerifiedCheckpoint {
  /** The signed note, verbatim. */
  readonly note: string;
  /** The parsed body. */
  readonly checkpoint: Checkpoint;
  /** Policy names of the witnesses whose cosignatures verified (empty without a policy). */
  readonly witnesses: readonly string[];
}

/** Notes that verified, per trust (a trust's key and policy never change). */
const verifiedNotes = new WeakMap<Trust, Map<string, VerifiedCheckpoint>>();

/**
 * Builds a {@link Trust} from a vkey string (Ed25519) and an optional policy (text or parsed).
 * Throws 'usage' for an invalid vkey or policy.
 */
export function makeTrust(vkey: string | NoteVerifier, policy?: string | Policy): Trust {
  let log: NoteVerifier;
  try {
    log = typeof vkey === 'string' ? newEd25519Verifier(vkey.trim()) : vkey;
  } catch (err) {
    throw new VerifyError('usage', `invalid log verifier key: ${(err as Error).message}`);
  }
  if (policy === undefined) return { log };
  try {
    return { log, policy: typeof policy === 'string' ? parsePolicy(policy) : policy };
  } catch (err) {
    throw new VerifyError('usage', `invalid witness policy: ${(err as Error).message}`);
  }
}

function mapNoteError(err: NoteError | CheckpointError | PolicyError): VerifyErrorCode {
  switch (err.code) {
    case 'malformed_note':
    case 'malformed_checkpoint':
      return 'malformed_checkpoint';
    case 'origin_mismatch':
      return 'origin_mismatch';
    case 'unknown_log':
      return 'unknown_log';
    case 'policy_unsatisfied':
      return 'quorum_not_met';
    default:
      return 'bad_signature';
  }
}

/**
 * Verifies a checkpoint note: parse, origin equals the log key name, a valid signature by the
 * log key (any failing known signature is fatal, unknown ones are ignored), then the policy's
 * witness quorum. Throws a VerifyError carrying the note as evidence.
 */
export function verifyCheckpointNote(note: string, trust: Trust): VerifiedCheckpoint {
  // The same note verified under the same trust gives the same answer: remember the last few,
  // so verifying many decisions against one checkpoint checks its signatures once.
  let memo = verifiedNotes.get(trust);
  const hit = memo?.get(note);
  if (hit) return hit;
  try {
    const opened = openCheckpoint(note, trust.log);
    let v: VerifiedCheckpoint;
    if (trust.policy === undefined) v = { note, checkpoint: opened.checkpoint, witnesses: [] };
    else
      v = {
        note,
        checkpoint: opened.checkpoint,
        witnesses: verifyCheckpointWithPolicy(note, trust.policy).witnesses,
      };
    if (!memo) {
      memo = new Map();
      verifiedNotes.set(trust, memo);
    }
    memo.set(note, v);
    if (memo.size > 16) memo.delete(memo.keys().next().value!);
    return v;
  } catch (err) {
    if (!(err instanceof NoteError)) throw err;
    const who = err.details.name !== undefined ? ` (key ${err.details.name})` : '';
    throw new VerifyError(mapNoteError(err), `checkpoint refused: ${err.message}${who}`, {
      checkpoint: note,
      cause: err.code,
    });
  }
}
