/**
 * A log's keys during a signer key rotation: one origin, one or several log verifier keys all
 * named after it (the old and the new key during the overlap). A checkpoint is the log's when
 * at least one of those keys signed it; the keys are a set, not an order.
 *
 * Pure and browser-safe; shared by the verifying client and the witness side.
 */
import { type OpenedCheckpoint, openCheckpoint } from './checkpoint.js';
import { formatKeyId, NoteError, type NoteVerifier, parseNote } from './note.js';

/**
 * The origin of a set of log keys: their common key name. Throws invalid_key when the set is
 * empty, when two keys have different names (every log key is named after the one origin), or
 * when two keys share a (name, key ID) (a note signed by either could not be attributed).
 */
export function logKeysOrigin(keys: readonly NoteVerifier[]): string {
  const first = keys[0];
  if (first === undefined) throw new NoteError('invalid_key', 'no log key given');
  const seen = new Set<number>();
  for (const k of keys) {
    if (k.name !== first.name) {
      throw new NoteError(
        'invalid_key',
        `log keys name two origins (${JSON.stringify(first.name)}, ${JSON.stringify(k.name)}): every log key is named after the log's origin`,
        { name: k.name, keyId: k.keyId },
      );
    }
    if (seen.has(k.keyId)) {
      throw new NoteError('invalid_key', `log key ${k.name}+${formatKeyId(k.keyId)} is listed twice`, {
        name: k.name,
        keyId: k.keyId,
      });
    }
    seen.add(k.keyId);
  }
  return first.name;
}

/**
 * Opens a checkpoint signed by any one of `keys` (see {@link logKeysOrigin}), with the rules of
 * {@link openCheckpoint}: the origin must be the keys' name (origin_mismatch), every signature
 * line from any of the keys or `cosigners` is verified (a failing one throws
 * invalid_signature, so a corrupt line by the old key is refused even when the new key
 * signed), unknown lines are ignored, and at least one log key must have signed
 * (unverified_note). Returns the opened checkpoint and the log key that signed it (the
 * first of `keys` with a verified line); `note.verified` lists every verified line.
 */
export function openCheckpointWithLogKeys(
  note: string | Uint8Array,
  keys: readonly NoteVerifier[],
  cosigners: readonly NoteVerifier[] = [],
): OpenedCheckpoint & { logKey: NoteVerifier } {
  logKeysOrigin(keys);
  const lines = parseNote(note).signatures;
  // openCheckpoint requires its log key's own line; pick a key that has one (the others are
  // verified alongside as known keys). With none, keys[0] yields the precise refusal.
  const logKey = keys.find((k) => lines.some((s) => s.name === k.name && s.keyId === k.keyId)) ?? keys[0]!;
  const others = keys.filter((k) => k !== logKey);
  return { ...openCheckpoint(note, logKey, [...others, ...cosigners]), logKey };
}
