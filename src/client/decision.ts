/**
 * Verification of a decision (or entry) answer of `GET /v1/decisions/{id}` and
 * `GET /v1/entries/{index}`. Only bytes are trusted after being checked: the entry is decoded
 * from `entry`, the leaf hash recomputed from it, the commitment recomputed from `salt` and
 * `payload`, the event decoded from `payload`, and the tree size and root taken from the
 * verified checkpoint. The answer's `event`, `leaf_hash` and `tree_size` are ignored.
 */
import { fromBase64, toBase64 } from '../core/bytes.js';
import { type CborValue, decodeDeterministic } from '../core/cbor.js';
import { isSafeUint } from '../core/check.js';
import { decodeEntry, type Entry, EntryError, isErasure, verifyCommitment } from '../core/entry.js';
import { HASH_SIZE } from '../core/hash.js';
import { leafHash } from '../core/merkle.js';
import { type Trust, type VerifiedCheckpoint, verifyCheckpointNote } from './checkpoint.js';
import { VerifyError } from './errors.js';
import { checkInclusion } from './tlog-proof.js';

/** The answer of the decision / entry lookup API, shape-checked but not yet verified. */
export interface EntryResponse {
  readonly index: number;
  readonly entry: Uint8Array;
  readonly salt: Uint8Array | null;
  readonly payload: Uint8Array | null;
  readonly erased: { readonly erasureIndex: number; readonly reason: string } | null;
  readonly proof: readonly Uint8Array[];
  readonly checkpoint: string;
  readonly tlogProof: string | null;
  /** Indices of later entries with the same ids and other content (`conflicts`), [] if none. */
  readonly conflicts: readonly number[];
}

function bad(message: string): VerifyError {
  return new VerifyError('malformed_response', `lookup answer: ${message}`);
}

function b64(v: unknown, field: string, nullable: boolean): Uint8Array | null {
  if (v === null || v === undefined) {
    if (nullable) return null;
    throw bad(`${field} is missing`);
  }
  const bytes = typeof v === 'string' ? fromBase64(v) : undefined;
  if (bytes === undefined) throw bad(`${field} is not strict base64`);
  return bytes;
}

/** The indices of a lookup answer's `conflicts` (spec/endpoints.md); [] when absent. */
function conflictIndices(v: unknown): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad('conflicts is not an array');
  return v.map((c: { index?: unknown } | null) => {
    const i = c?.index;
    if (typeof i !== 'number' || !Number.isSafeInteger(i) || i < 0)
      throw bad('conflicts[].index is not an integer');
    return i;
  });
}

/** Checks the JSON shape of a lookup answer and decodes its base64 fields. Throws 'malformed_response'. */
export function parseEntryResponse(body: unknown): EntryResponse {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('not a JSON object');
  const o = body as Record<string, unknown>;
  const index = o.index;
  if (!isSafeUint(index)) throw bad('index is not an integer');
  if (!Array.isArray(o.proof)) throw bad('proof is not an array');
  const proof = o.proof.map((h, i) => {
    const bytes = b64(h, `proof[${i}]`, false)!;
    if (bytes.length !== HASH_SIZE) throw bad(`proof[${i}] is not 32 bytes`);
    return bytes;
  });
  if (typeof o.checkpoint !== 'string') throw bad('checkpoint is not a string');
  let erased: EntryResponse['erased'] = null;
  if (o.erased !== null && o.erased !== undefined) {
    const e = o.erased as Record<string, unknown>;
    if (
      typeof e !== 'object' ||
      typeof e.erasure_index !== 'number' ||
      !Number.isSafeInteger(e.erasure_index)
    ) {
      throw bad('erased.erasure_index is not an integer');
    }
    erased = { erasureIndex: e.erasure_index, reason: typeof e.reason === 'string' ? e.reason : '' };
  }
  const tlogProof = o.tlog_proof;
  if (tlogProof !== undefined && tlogProof !== null && typeof tlogProof !== 'string') {
    throw bad('tlog_proof is not a string');
  }
  return {
    index,
    entry: b64(o.entry, 'entry', false)!,
    salt: b64(o.salt, 'salt', true),
    payload: b64(o.payload, 'payload', true),
    erased,
    proof,
    checkpoint: o.checkpoint,
    tlogProof: typeof tlogProof === 'string' ? tlogProof : null,
    conflicts: conflictIndices(o.conflicts),
  };
}

/** What the lookup must be about. */
export interface EntryExpectation {
  /** The decision id asked for (entry `id`). */
  readonly id?: string;
  /** The source asked for (entry `src`). */
  readonly source?: string;
  /** The leaf index asked for. */
  readonly index?: number;
}

/** How the committed payload was checked. */
export type CommitmentStatus =
  /** SHA-256(salt || payload) equals the entry's commitment. */
  | 'verified'
  /** The log says the payload was erased (the erasure is checked separately). */
  | 'erased'
  /** The payload was withheld (no read token); only the leaf's inclusion was checked. */
  | 'withheld';

/** A verified entry lookup. */
export interface EntryVerification {
  readonly index: number;
  /** The entry bytes (the leaf). */
  readonly entryBytes: Uint8Array;
  /** The decoded entry. */
  readonly entry: Entry;
  /** SHA-256(0x00 || entry), recomputed. */
  readonly leafHash: Uint8Array;
  /** The checkpoint the inclusion was proven against (signature and quorum verified). */
  readonly checkpoint: VerifiedCheckpoint;
  readonly commitment: CommitmentStatus;
  /** The event decoded from the verified payload (undefined unless commitment is 'verified'). */
  readonly event?: CborValue;
  /** The verified payload and salt (undefined unless commitment is 'verified'). */
  readonly payload?: Uint8Array;
  readonly salt?: Uint8Array;
  /** The log's erasure claim (checked by the client when commitment is 'erased'). */
  readonly erased: EntryResponse['erased'];
  /** The answer's tlog-proof file, if it sent one (verified to prove the same leaf). */
  readonly tlogProof: string | null;
}

/**
 * Verifies a parsed lookup answer: entry decodes, is what was asked for, commitment
 * SHA-256(salt || payload) equals entry.c (unless erased or withheld), the checkpoint
 * verifies, and the inclusion proof of SHA-256(0x00 || entry) leads to its root. Does not
 * check the checkpoint against trusted state (the {@link LogClient} does that).
 */
export function verifyEntryResponse(
  r: EntryResponse,
  trust: Trust,
  expect: EntryExpectation,
): EntryVerification {
  const entry = decodeAnsweredEntry(r);
  checkEntryIsAsked(r, entry, expect);
  const { commitment, event } = checkCommitment(r, entry);
  const leaf = leafHash(r.entry);
  const checkpoint = verifyCheckpointNote(r.checkpoint, trust);
  checkInclusion(r.index, leaf, r.proof, checkpoint, 'response');
  return {
    index: r.index,
    entryBytes: r.entry,
    entry,
    leafHash: leaf,
    checkpoint,
    commitment,
    ...(event !== undefined ? { event, payload: r.payload!, salt: r.salt! } : {}),
    erased: r.erased,
    tlogProof: r.tlogProof,
  };
}

/** The answer's entry bytes decoded as a v1 entry; 'bad_entry' if they do not decode. */
function decodeAnsweredEntry(r: EntryResponse): Entry {
  try {
    return decodeEntry(r.entry);
  } catch (err) {
    if (!(err instanceof EntryError)) throw err;
    throw new VerifyError('bad_entry', `entry ${r.index} does not decode: ${err.message}`, {
      index: r.index,
      entry: toBase64(r.entry),
      cause: err.code,
    });
  }
}

/** Checks that the answer is about the index, decision id and source asked for; 'entry_mismatch' otherwise. */
function checkEntryIsAsked(r: EntryResponse, entry: Entry, expect: EntryExpectation): void {
  const mismatch = (what: string, expected: string, actual: string): VerifyError =>
    new VerifyError(
      'entry_mismatch',
      `the log answered another entry: ${what} is ${actual}, asked ${expected}`,
      { index: r.index, entry: toBase64(r.entry), expected, actual },
    );
  if (expect.index !== undefined && r.index !== expect.index) {
    throw mismatch('index', String(expect.index), String(r.index));
  }
  // A withheld id or source (spec/entry-format.md §2.1) is "" in the leaf: nothing to compare.
  const withheld = (f: string, v: string) => v === '' && entry.flags?.includes(f) === true;
  if (expect.id !== undefined && entry.id !== expect.id && !withheld('withheld_id', entry.id)) {
    throw mismatch('id', expect.id, entry.id);
  }
  if (expect.source !== undefined && entry.src !== expect.source && !withheld('withheld_src', entry.src)) {
    throw mismatch('source', expect.source, entry.src);
  }
}

/**
 * How the answer's payload relates to the entry's commitment: with salt and payload,
 * SHA-256(salt || payload) must equal entry.c and the payload must be deterministic CBOR (the
 * event is decoded from it), else 'commitment_mismatch'; without them the payload is erased
 * (the log says so), withheld, or absent by nature (an erasure entry commits to nothing).
 */
function checkCommitment(
  r: EntryResponse,
  entry: Entry,
): { commitment: CommitmentStatus; event?: CborValue } {
  if (r.salt === null || r.payload === null) {
    if (r.erased !== null) return { commitment: 'erased' };
    // An erasure entry commits to nothing: the entry itself is the record.
    return { commitment: isErasure(entry) ? 'verified' : 'withheld' };
  }
  if (isErasure(entry) || !verifyCommitment(entry, r.salt, r.payload)) {
    throw new VerifyError(
      'commitment_mismatch',
      `SHA-256(salt || payload) does not equal the commitment of entry ${r.index}`,
      {
        index: r.index,
        entry: toBase64(r.entry),
        expected: 'c' in entry ? toBase64(entry.c) : 'none (erasure entry)',
      },
    );
  }
  try {
    return { commitment: 'verified', event: decodeDeterministic(r.payload) };
  } catch (err) {
    throw new VerifyError(
      'commitment_mismatch',
      `payload is not deterministic CBOR: ${(err as Error).message}`,
      {
        index: r.index,
      },
    );
  }
}
