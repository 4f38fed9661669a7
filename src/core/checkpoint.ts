/**
 * C2SP tlog-checkpoint bodies (c2sp.org/tlog-checkpoint): formatting, strict parsing, and
 * signing/opening a checkpoint as a signed note whose log key name equals the origin.
 */
import { fromBase64, toBase64 } from './bytes.js';
import { isCanonicalDecimal, isHash, isSafeUint } from './check.js';
import { HASH_SIZE } from './hash.js';
import {
  NoteError,
  type NoteSigner,
  type NoteVerifier,
  noteTextProblem,
  type OpenedNote,
  openNote,
  parseNote,
  signNote,
} from './note.js';

/** A parsed checkpoint body. */
export interface Checkpoint {
  /** First line: the log identity (non-empty). */
  origin: string;
  /** Tree size, a non-negative safe integer. */
  size: number;
  /** 32-byte root hash. */
  rootHash: Uint8Array;
  /** Extension lines after the root hash, in order, each non-empty (usually none). */
  extensions: string[];
}

/** Input of {@link formatCheckpoint}; `extensions` defaults to none. */
export interface CheckpointInput {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions?: readonly string[];
}

/** Stable machine-readable error codes of {@link CheckpointError}. */
export type CheckpointErrorCode =
  /** A checkpoint body does not follow c2sp.org/tlog-checkpoint. */
  | 'malformed_checkpoint'
  /** The key name of the log key does not equal the checkpoint origin. */
  | 'origin_mismatch';

/** A checkpoint refused for its body or its origin (a {@link NoteError}, so one catch serves). */
export class CheckpointError extends NoteError<CheckpointErrorCode> {
  override readonly name = 'CheckpointError';
}

function malformed(message: string): CheckpointError {
  return new CheckpointError('malformed_checkpoint', message);
}

/** Throws malformed_checkpoint unless `line` can be a checkpoint line (non-empty, no "\n" or controls). */
function checkLine(line: string, what: string): void {
  if (line.length === 0) throw malformed(`${what} is empty`);
  if (line.includes('\n')) throw malformed(`${what} contains a newline`);
  const problem = noteTextProblem(line);
  if (problem !== undefined) throw malformed(`${what}: ${problem}`);
}

/**
 * The checkpoint text `<origin>\n<size>\n<base64 root>\n[<extension>\n...]`. Validates every
 * field (non-empty lines without control characters, safe-integer size, 32-byte root) so that
 * the output parses back with {@link parseCheckpoint} to the same values.
 */
export function formatCheckpoint(cp: CheckpointInput): string {
  checkLine(cp.origin, 'origin');
  if (!isSafeUint(cp.size)) {
    throw malformed(`tree size ${cp.size} is not a non-negative safe integer`);
  }
  if (!isHash(cp.rootHash)) {
    throw malformed(`root hash must be ${HASH_SIZE} bytes, got ${cp.rootHash.length}`);
  }
  let text = `${cp.origin}\n${cp.size}\n${toBase64(cp.rootHash)}\n`;
  for (const [i, ext] of (cp.extensions ?? []).entries()) {
    checkLine(ext, `extension line ${i + 1}`);
    text += `${ext}\n`;
  }
  return text;
}

/**
 * Parses a checkpoint text (a note text, final "\n" included): at least three lines, all
 * non-empty, no control characters; line 2 a canonical decimal not above
 * Number.MAX_SAFE_INTEGER; line 3 strict standard base64 of exactly 32 bytes; further lines
 * kept verbatim as extensions. Proves only syntax, not any signature.
 */
export function parseCheckpoint(text: string): Checkpoint {
  const problem = noteTextProblem(text);
  if (problem !== undefined) throw malformed(`checkpoint: ${problem}`);
  if (!text.endsWith('\n')) throw malformed('checkpoint text does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw malformed(`checkpoint has ${lines.length} line(s), needs at least 3`);
  for (const [i, line] of lines.entries()) {
    if (line.length === 0) throw malformed(`checkpoint line ${i + 1} is empty`);
  }
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (!isCanonicalDecimal(sizeLine)) {
    throw malformed(`tree size ${JSON.stringify(sizeLine)} is not a canonical decimal`);
  }
  const size = Number(sizeLine);
  if (!isSafeUint(size)) {
    throw malformed(`tree size ${sizeLine} exceeds Number.MAX_SAFE_INTEGER (2^53 - 1), unsupported`);
  }
  const rootHash = fromBase64(rootLine);
  if (rootHash === undefined) throw malformed('root hash is not strict standard base64');
  if (!isHash(rootHash)) {
    throw malformed(`root hash must be ${HASH_SIZE} bytes, got ${rootHash.length}`);
  }
  return { origin, size, rootHash, extensions };
}

/**
 * The signed-note checkpoint: formats `cp` and signs it with `signer`, or with each of several
 * signers in order (one signature line each: a log during a key rotation signs with its old and
 * its new key). Every signer's key name must equal the origin (origin_mismatch otherwise).
 * `existing` signatures are carried over as in signNote.
 */
export function signCheckpoint(
  cp: CheckpointInput,
  signer: NoteSigner | readonly NoteSigner[],
  existing: Parameters<typeof signNote>[2] = [],
): string {
  const text = formatCheckpoint(cp);
  const signers: readonly NoteSigner[] = Array.isArray(signer) ? signer : [signer];
  for (const s of signers) {
    if (s.name !== cp.origin) {
      throw new CheckpointError(
        'origin_mismatch',
        `log key name ${JSON.stringify(s.name)} does not equal origin ${JSON.stringify(cp.origin)}`,
        { name: s.name, keyId: s.keyId },
      );
    }
  }
  return signNote(text, signers, existing);
}

/** Result of {@link openCheckpoint}. */
export interface OpenedCheckpoint {
  checkpoint: Checkpoint;
  note: OpenedNote;
}

/**
 * Opens a signed checkpoint: parses the note and its body, requires `logVerifier.name` to equal
 * the origin (origin_mismatch), verifies with the log key plus optional `cosigners` (openNote
 * rules: a failing known signature throws invalid_signature, unknown lines are ignored), and
 * requires a valid signature from the log key itself (unverified_note otherwise). On success the
 * checkpoint is proven signed by the log; `note.verified` also lists verified cosignatures.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  logVerifier: NoteVerifier,
  cosigners: readonly NoteVerifier[] = [],
): OpenedCheckpoint {
  const parsed = parseNote(note);
  const checkpoint = parseCheckpoint(parsed.text);
  if (logVerifier.name !== checkpoint.origin) {
    throw new CheckpointError(
      'origin_mismatch',
      `log key name ${JSON.stringify(logVerifier.name)} does not equal origin ${JSON.stringify(checkpoint.origin)}`,
      { name: logVerifier.name, keyId: logVerifier.keyId },
    );
  }
  const opened = openNote(note, [logVerifier, ...cosigners]);
  if (!opened.verified.some((s) => s.name === logVerifier.name && s.keyId === logVerifier.keyId)) {
    throw new NoteError('unverified_note', `checkpoint is not signed by log key ${logVerifier.name}`, {
      name: logVerifier.name,
      keyId: logVerifier.keyId,
    });
  }
  return { checkpoint, note: opened };
}
