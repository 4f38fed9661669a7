/**
 * Checkpoint verification for the client: the log's signature with one of its configured keys
 * (several during a signer key rotation), then (optionally) a C2SP tlog-policy witness quorum.
 * Core NoteErrors become {@link VerifyError}s whose evidence is the refused note.
 */
import type { Checkpoint, CheckpointError } from '../core/checkpoint.js';
import { logKeysOrigin, openCheckpointWithLogKeys } from '../core/log-keys.js';
import { NoteError, type NoteVerifier, newEd25519Verifier } from '../core/note.js';
import { type Policy, type PolicyError, parsePolicy, verifyCheckpointWithPolicy } from '../core/policy.js';
import { VerifyError, type VerifyErrorCode } from './errors.js';

/** What the client trusts: the log's keys and, optionally, a witness policy. */
export interface Trust {
  /** The log origin: the key name of every log key. */
  readonly origin: string;
  /** The log's verifiers (at least one); a checkpoint signed by any one of them is the log's. */
  readonly logs: readonly NoteVerifier[];
  /** A witness policy whose quorum every checkpoint must meet. */
  readonly policy?: Policy;
}

/** The log key(s) a client is pinned to: one vkey or verifier, or several (key rotation). */
export type LogKeys = string | NoteVerifier | readonly (string | NoteVerifier)[];

/** A checkpoint whose signature (and quorum, if a policy is set) verified. */
export interface VerifiedCheckpoint {
  /** The signed note, verbatim. */
  readonly note: string;
  /** The parsed body. */
  readonly checkpoint: Checkpoint;
  /** Policy names of the witnesses whose cosignatures verified (empty without a policy). */
  readonly witnesses: readonly string[];
}

/** Notes that verified, per trust (a trust's keys and policy never change). */
const verifiedNotes = new WeakMap<Trust, Map<string, VerifiedCheckpoint>>();
/** The policy-free trust of each trust (see {@link logKeysOnly}). */
const keysOnly = new WeakMap<Trust, Trust>();

/**
 * Builds a {@link Trust} from the log key(s) (Ed25519 vkey strings or verifiers; several
 * during a key rotation, all named after the one origin) and an optional policy (text or
 * parsed). Throws 'usage' for an invalid or empty key list, keys naming different origins or
 * listed twice, or an invalid policy.
 */
export function makeTrust(vkey: LogKeys, policy?: string | Policy): Trust {
  const given = typeof vkey === 'string' || 'verify' in vkey ? [vkey] : vkey;
  let logs: NoteVerifier[];
  let origin: string;
  try {
    logs = given.map((k) => (typeof k === 'string' ? newEd25519Verifier(k.trim()) : k));
    origin = logKeysOrigin(logs);
  } catch (err) {
    throw new VerifyError('usage', `invalid log verifier key: ${(err as Error).message}`);
  }
  if (policy === undefined) return { origin, logs };
  try {
    return { origin, logs, policy: typeof policy === 'string' ? parsePolicy(policy) : policy };
  } catch (err) {
    throw new VerifyError('usage', `invalid witness policy: ${(err as Error).message}`);
  }
}

/**
 * The same log keys without the witness policy: what stored checkpoints (trusted state, audit
 * state) are re-verified with, since they were accepted under the policy of their time. One
 * object per trust, so that verified notes stay memoized.
 */
export function logKeysOnly(trust: Trust): Trust {
  if (trust.policy === undefined) return trust;
  let t = keysOnly.get(trust);
  if (t === undefined) {
    t = { origin: trust.origin, logs: trust.logs };
    keysOnly.set(trust, t);
  }
  return t;
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
 * Verifies a checkpoint note: parse, origin equals the log keys' name, a valid signature by at
 * least one trusted log key (any failing signature from a trusted key is fatal, unknown ones
 * are ignored), then the policy's witness quorum. Throws a VerifyError carrying the note as
 * evidence.
 */
export function verifyCheckpointNote(note: string, trust: Trust): VerifiedCheckpoint {
  // The same note verified under the same trust gives the same answer: remember the last few,
  // so verifying many decisions against one checkpoint checks its signatures once.
  let memo = verifiedNotes.get(trust);
  const hit = memo?.get(note);
  if (hit) return hit;
  try {
    const opened = openCheckpointWithLogKeys(note, trust.logs);
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
