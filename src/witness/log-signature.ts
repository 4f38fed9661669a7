/**
 * How the witness side (add-checkpoint, gossip, the monitor) decides that a checkpoint is the
 * log's: signed by at least one configured key of its origin (several during a signer key
 * rotation), and every signature line attributed to a configured key verifies, repeated lines
 * included. The second half is stricter than Go's note.Open, which verifies only the first
 * line per (name, key ID) and skips repeats unread; c2sp.org/signed-note says a verifier MUST
 * verify every signature whose name and key ID match a known key and SHOULD reject the note
 * when one fails, and a witness cosigns, so it takes the strict reading (spec/witness.md §2.1).
 */
import { utf8 } from '../core/bytes.js';
import type { OpenedCheckpoint } from '../core/checkpoint.js';
import { openCheckpointWithLogKeys } from '../core/log-keys.js';
import { formatKeyId, NoteError, type NoteVerifier, parseNote } from '../core/note.js';

/**
 * Opens a checkpoint signed by any of `logKeys` (core's openCheckpointWithLogKeys: origin,
 * failing known lines, unknown lines ignored), then verifies every further line from a key of
 * `logKeys` or `cosigners` that repeats an already verified (name, key ID) with other bytes;
 * one that fails throws invalid_signature. On success every line attributable to a known key
 * is a valid signature of the text.
 */
export function openLogCheckpoint(
  note: string | Uint8Array,
  logKeys: readonly NoteVerifier[],
  cosigners: readonly NoteVerifier[] = [],
): OpenedCheckpoint & { logKey: NoteVerifier } {
  const opened = openCheckpointWithLogKeys(note, logKeys, cosigners);
  const checked = new Set(opened.note.verified.map((s) => s.line));
  const known = [...logKeys, ...cosigners];
  const { text, signatures } = parseNote(note);
  const msg = utf8(text);
  for (const s of signatures) {
    if (checked.has(s.line)) continue;
    const key = known.find((k) => k.name === s.name && k.keyId === s.keyId);
    if (key === undefined) continue;
    if (!key.verify(msg, s.sig)) {
      throw new NoteError(
        'invalid_signature',
        `repeated signature line of key ${s.name}+${formatKeyId(s.keyId)} does not verify`,
        { name: s.name, keyId: s.keyId },
      );
    }
    checked.add(s.line);
  }
  return opened;
}
