/**
 * The leaf (entry) format: what the log appends and what every RFC 6962 leaf hash commits to.
 * Entries are PUBLIC. They carry identifiers and times, and a salted commitment to the event,
 * never the event itself: SHA-256(salt || payload) with a 32-byte random salt and
 * payload = deterministic CBOR of the event. Erasing the salt and payload (kept off-log) makes
 * the commitment meaningless while every leaf, root and proof stays valid.
 *
 * An entry is the deterministic CBOR (see `cbor.ts`) of a text-keyed map; `spec/entry-format.md`
 * is the normative description, with a worked example that the tests check byte for byte.
 */
import { MAX_BUNDLE_ENTRY_SIZE } from './bundle.js';
import { type ByteSlab, bytesEqual, Scratch } from './bytes.js';
import {
  CborError,
  type CborObject,
  type CborValue,
  decodeDeterministic,
  encodeDeterministic,
  headSize,
  writeHeadTo,
} from './cbor.js';
import { hasLoneSurrogate, isSafeUint } from './check.js';
import { type Sha256, sha256 } from './hash.js';

/** The only entry format version. */
export const ENTRY_VERSION = 1;
/** Maximum encoded entry size: the uint16 length prefix of a tlog-tiles entry bundle. */
export const MAX_ENTRY_SIZE = MAX_BUNDLE_ENTRY_SIZE;
/** Size of a commitment salt. */
export const SALT_SIZE = 32;
/** Size of a commitment (SHA-256). */
export const COMMITMENT_SIZE = 32;
/** Maximum length of `kind` and of each flag. */
export const MAX_TOKEN_LENGTH = 64;

/** Kinds defined so far; any other non-empty printable-ASCII token is accepted too. */
export type KnownEntryKind = 'opa.decision' | 'event' | 'erasure' | 'k8s.audit';
/** An entry kind: a known one or a future one (printable ASCII, 1 to 64 characters). */
export type EntryKind = KnownEntryKind | (string & Record<never, never>);

/** Fields shared by every entry. */
export interface EntryCommon {
  /** Format version, always 1. */
  v: 1;
  /** Source of the event (OPA: `labels.id`); '' if unknown. */
  src: string;
  /** Id of the event within its source (OPA: `decision_id`); '' if the event had none. */
  id: string;
  /** The event's own timestamp, exactly as received; absent if the event had none. */
  ts?: string;
  /** When the log received the event: integer milliseconds since the Unix epoch. */
  recv: number;
  /** Problems found in the event (e.g. 'missing_decision_id'); absent when none. */
  flags?: readonly string[];
}

/** An entry that commits to an event payload (every kind except 'erasure'). */
export interface CommitmentEntry extends EntryCommon {
  /** Kind of event; never 'erasure'. */
  kind: EntryKind;
  /** SHA-256(salt || payload), 32 bytes. */
  c: Uint8Array;
}

/** An entry recording that the salt and payload of an earlier entry were erased. */
export interface ErasureEntry extends EntryCommon {
  kind: 'erasure';
  /** Index of the erased leaf. */
  erases: number;
  /** Why (public: a reference or legal basis, never personal data). */
  reason: string;
}

/** A log entry. Narrow with `'c' in e` (or `isErasure`). */
export type Entry = CommitmentEntry | ErasureEntry;

/** Stable machine-readable reasons for an `EntryError`. */
export type EntryErrorCode =
  | 'bad_cbor'
  | 'not_a_map'
  | 'unknown_field'
  | 'missing_field'
  | 'bad_version'
  | 'bad_kind'
  | 'bad_field'
  | 'too_large'
  | 'bad_salt'
  | 'bad_event';

/** Error thrown by entry functions; `code` is stable, `field` names the offending field. */
export class EntryError extends Error {
  /** Stable reason code. */
  readonly code: EntryErrorCode;
  /** The entry field concerned, if any. */
  readonly field: string | undefined;
  constructor(code: EntryErrorCode, message: string, field?: string, options?: { cause?: unknown }) {
    super(`entry: ${message}`, options);
    this.name = 'EntryError';
    this.code = code;
    this.field = field;
  }
}

const COMMON_FIELDS = ['v', 'kind', 'src', 'id', 'ts', 'recv', 'flags'];
const COMMITMENT_FIELDS = new Set([...COMMON_FIELDS, 'c']);
const ERASURE_FIELDS = new Set([...COMMON_FIELDS, 'erases', 'reason']);
const TOKEN = /^[\x21-\x7e]+$/;

/** True if `e` is an erasure entry. */
export function isErasure(e: Entry): e is ErasureEntry {
  return e.kind === 'erasure';
}

function fieldError(code: EntryErrorCode, field: string, message: string): EntryError {
  return new EntryError(code, `${field}: ${message}`, field);
}

function checkText(v: unknown, field: string, nonEmpty = false): string {
  if (typeof v !== 'string') throw fieldError('bad_field', field, `must be a string, got ${typeof v}`);
  if (hasLoneSurrogate(v))
    throw fieldError('bad_field', field, 'contains a lone surrogate (not valid Unicode)');
  if (nonEmpty && v === '') throw fieldError('bad_field', field, 'must not be empty');
  return v;
}

function checkToken(v: unknown, field: string, code: EntryErrorCode): string {
  if (!isToken(v)) {
    throw fieldError(code, field, `must be 1 to ${MAX_TOKEN_LENGTH} printable ASCII characters (no spaces)`);
  }
  return v;
}

function checkUint(v: unknown, field: string): number {
  if (!isSafeUint(v)) {
    throw fieldError('bad_field', field, 'must be a non-negative safe integer');
  }
  return v;
}

/** Own enumerable fields of `e` (a plain object), rejecting anything else. */
function fieldsOf(e: unknown): Record<string, unknown> {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) {
    throw new EntryError('not_a_map', 'an entry must be a map with text keys');
  }
  const proto: unknown = Object.getPrototypeOf(e);
  if (proto !== Object.prototype && proto !== null) {
    throw new EntryError('not_a_map', 'an entry must be a plain object');
  }
  return e as Record<string, unknown>;
}

/**
 * Validates `e` and returns the CBOR map that encodes it (optional fields that are undefined,
 * and empty flags, are left out; flags are sorted). Throws EntryError.
 */
function toMap(e: unknown): CborObject {
  const f = fieldsOf(e);
  const has = (k: string) => f[k] !== undefined;
  if (!has('v')) throw fieldError('missing_field', 'v', 'missing');
  if (f.v !== ENTRY_VERSION) throw fieldError('bad_version', 'v', `unsupported version ${String(f.v)}`);
  if (!has('kind')) throw fieldError('missing_field', 'kind', 'missing');
  const kind = checkToken(f.kind, 'kind', 'bad_kind');
  const erasure = kind === 'erasure';
  const allowed = erasure ? ERASURE_FIELDS : COMMITMENT_FIELDS;
  for (const k of Object.keys(f)) {
    if (!allowed.has(k) && f[k] !== undefined) {
      throw fieldError('unknown_field', k, `not a field of a v1 ${erasure ? 'erasure' : 'commitment'} entry`);
    }
  }
  for (const k of erasure ? ['src', 'id', 'recv', 'erases', 'reason'] : ['src', 'id', 'recv', 'c']) {
    if (!has(k)) throw fieldError('missing_field', k, 'missing');
  }
  const m: CborObject = {
    v: ENTRY_VERSION,
    kind,
    src: checkText(f.src, 'src'),
    id: checkText(f.id, 'id'),
    recv: checkUint(f.recv, 'recv'),
  };
  if (has('ts')) m.ts = checkText(f.ts, 'ts');
  if (has('flags')) {
    const flags = f.flags;
    if (!Array.isArray(flags)) throw fieldError('bad_field', 'flags', 'must be an array of strings');
    const list = flags.map((x: unknown) => checkToken(x, 'flags', 'bad_field')).sort();
    for (let i = 1; i < list.length; i++) {
      if (list[i] === list[i - 1]) throw fieldError('bad_field', 'flags', `duplicate flag ${list[i]}`);
    }
    if (list.length > 0) m.flags = list;
  }
  if (erasure) {
    m.erases = checkUint(f.erases, 'erases');
    m.reason = checkText(f.reason, 'reason', true);
  } else {
    const c = f.c;
    if (!(c instanceof Uint8Array) || c.length !== COMMITMENT_SIZE) {
      throw fieldError('bad_field', 'c', `must be ${COMMITMENT_SIZE} bytes`);
    }
    m.c = c;
  }
  return m;
}

/** True if `v` is a string of ASCII characters only (so its UTF-8 bytes are its char codes). */
function isAscii(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Writes an ASCII string as a CBOR text item at `p`; returns the next position. */
function putAscii(out: Uint8Array, p: number, s: string): number {
  let q = writeHeadTo(out, 0x60, s.length, p);
  for (let i = 0; i < s.length; i++) out[q++] = s.charCodeAt(i);
  return q;
}

/** The encoded keys, in deterministic order (shorter first, then bytewise). */
const KEY_C = [0x61, 0x63];
const KEY_V = [0x61, 0x76];
const KEY_ID = [0x62, 0x69, 0x64];
const KEY_TS = [0x62, 0x74, 0x73];
const KEY_SRC = [0x63, 0x73, 0x72, 0x63];
const KEY_KIND = [0x64, 0x6b, 0x69, 0x6e, 0x64];
const KEY_RECV = [0x64, 0x72, 0x65, 0x63, 0x76];
const KEY_FLAGS = [0x65, 0x66, 0x6c, 0x61, 0x67, 0x73];

function putKey(out: Uint8Array, p: number, key: readonly number[]): number {
  for (let i = 0; i < key.length; i++) out[p + i] = key[i]!;
  return p + key.length;
}

/**
 * encodeEntry for the entry every decision makes: a commitment entry (plain object, only v1
 * commitment fields) whose text fields are all ASCII, written straight into its bytes in the
 * deterministic key order (c, v, id, ts, src, kind, recv, flags). Undefined, and the generic
 * path (toMap + the CBOR encoder) decides, for anything else: an erasure, a non-ASCII text, an
 * unknown or ill-typed field, a bad or duplicate flag, an entry over the size limit. The
 * generic path cost ~4 us per decision on the ingest thread, this one ~0.5; the two are
 * checked byte for byte against each other (test/core/entry.test.ts).
 */
function asciiCommitmentEntry(e: Entry, slab: ByteSlab | undefined): Uint8Array | undefined {
  if (typeof e !== 'object' || e === null || Object.getPrototypeOf(e) !== Object.prototype) return undefined;
  const f = e as unknown as Record<string, unknown>;
  for (const k in f) if (!COMMITMENT_FIELDS.has(k) && f[k] !== undefined) return undefined;
  const { kind, src, id, ts, recv, c, flags } = f;
  if (f.v !== ENTRY_VERSION || kind === 'erasure' || !isToken(kind)) return undefined;
  if (!isAscii(src) || !isAscii(id) || (ts !== undefined && !isAscii(ts))) return undefined;
  if (!isSafeUint(recv) || !(c instanceof Uint8Array) || c.length !== COMMITMENT_SIZE) return undefined;
  let list: string[] | undefined;
  if (flags !== undefined) {
    if (!Array.isArray(flags) || !flags.every(isToken)) return undefined;
    list = [...(flags as string[])].sort(); // ASCII: code-unit order is byte order
    for (let i = 1; i < list.length; i++) if (list[i] === list[i - 1]) return undefined;
    if (list.length === 0) list = undefined;
  }
  const text = (s: string) => headSize(s.length) + s.length;
  let size = 1 + 2 + 2 + COMMITMENT_SIZE + 2 + 1 + 3 + text(id) + 4 + text(src) + 5 + text(kind);
  size += 5 + headSize(recv);
  if (ts !== undefined) size += 3 + text(ts);
  if (list !== undefined) size += 6 + headSize(list.length) + list.reduce((n, x) => n + text(x), 0);
  if (size > MAX_ENTRY_SIZE) return undefined;
  const out = slab ? slab.alloc(size) : new Uint8Array(size);
  let p = writeHeadTo(out, 0xa0, 6 + (ts !== undefined ? 1 : 0) + (list !== undefined ? 1 : 0));
  p = putKey(out, p, KEY_C);
  out[p++] = 0x58;
  out[p++] = COMMITMENT_SIZE;
  out.set(c, p);
  p += COMMITMENT_SIZE;
  p = putKey(out, p, KEY_V);
  out[p++] = ENTRY_VERSION;
  p = putAscii(out, putKey(out, p, KEY_ID), id);
  if (ts !== undefined) p = putAscii(out, putKey(out, p, KEY_TS), ts);
  p = putAscii(out, putKey(out, p, KEY_SRC), src);
  p = putAscii(out, putKey(out, p, KEY_KIND), kind);
  p = writeHeadTo(out, 0x00, recv, putKey(out, p, KEY_RECV));
  if (list !== undefined) {
    p = writeHeadTo(out, 0x80, list.length, putKey(out, p, KEY_FLAGS));
    for (const x of list) p = putAscii(out, p, x);
  }
  if (p !== size) throw new Error(`entry encoder wrote ${p} of ${size} bytes`); // a bug, never input
  return out;
}

/** A valid `kind` or flag: 1 to 64 printable ASCII characters. */
function isToken(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_TOKEN_LENGTH && TOKEN.test(v);
}

/**
 * Validates `e` and encodes it as deterministic CBOR. Optional fields set to undefined are
 * absent; empty `flags` are omitted; `flags` are written sorted (bytewise) and must be unique.
 * Throws EntryError (with `code` and `field`) on any invalid field and 'too_large' beyond
 * MAX_ENTRY_SIZE bytes. With `slab`, the bytes are a view into it (see ByteSlab).
 */
export function encodeEntry(e: Entry, slab?: ByteSlab): Uint8Array {
  const fast = asciiCommitmentEntry(e, slab);
  if (fast !== undefined) return fast;
  const b = encodeDeterministic(toMap(e), slab ? { slab } : undefined);
  if (b.length > MAX_ENTRY_SIZE) {
    throw new EntryError('too_large', `encoded entry is ${b.length} bytes, more than ${MAX_ENTRY_SIZE}`);
  }
  return b;
}

/**
 * Decodes and validates an entry strictly: at most MAX_ENTRY_SIZE bytes, deterministic CBOR,
 * version 1, every required field with the right type, no unknown field, flags (if present)
 * non-empty, sorted and unique. So `encodeEntry(decodeEntry(b))` equals `b` for every accepted
 * `b`. Throws EntryError ('bad_cbor' wraps the CborError as `cause`).
 */
export function decodeEntry(bytes: Uint8Array): Entry {
  if (!(bytes instanceof Uint8Array)) throw new EntryError('bad_cbor', 'entry must be a Uint8Array');
  if (bytes.length > MAX_ENTRY_SIZE) {
    throw new EntryError('too_large', `entry is ${bytes.length} bytes, more than ${MAX_ENTRY_SIZE}`);
  }
  let v: CborValue;
  try {
    v = decodeDeterministic(bytes, { maxDepth: 2 });
  } catch (err) {
    if (err instanceof CborError) {
      throw new EntryError('bad_cbor', `not deterministic CBOR (${err.code}): ${err.message}`, undefined, {
        cause: err,
      });
    }
    throw err;
  }
  if (
    v === null ||
    typeof v !== 'object' ||
    Array.isArray(v) ||
    v instanceof Uint8Array ||
    v instanceof Map
  ) {
    throw new EntryError('not_a_map', 'an entry must be a map with text keys');
  }
  const m = toMap(v);
  const flags = (v as CborObject).flags;
  if (flags !== undefined) {
    // toMap sorts and drops empty flags: the stored form must already be that.
    const canon = m.flags as string[] | undefined;
    if (canon === undefined || !(flags as string[]).every((x, i) => x === canon[i])) {
      throw fieldError('bad_field', 'flags', 'must be non-empty and sorted');
    }
  }
  return m as unknown as Entry;
}

/**
 * The commitment SHA-256(salt || payload). `salt` must be SALT_SIZE (32) bytes; `payload` is
 * the deterministic CBOR of the event. Throws EntryError 'bad_salt'.
 */
export function commitment(salt: Uint8Array, payload: Uint8Array, sha: Sha256 = sha256): Uint8Array {
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_SIZE) {
    throw new EntryError('bad_salt', `salt must be ${SALT_SIZE} bytes`);
  }
  if (!(payload instanceof Uint8Array)) throw new EntryError('bad_event', 'payload must be a Uint8Array');
  const buf = scratch.take(SALT_SIZE + payload.length);
  buf.set(salt);
  buf.set(payload, SALT_SIZE);
  return sha(buf);
}

/**
 * Where the 32 bytes of `c` sit in an encoded commitment entry: offset 5, always. `c` is the
 * first key in deterministic order (one-byte keys sort first, "c" < "v"), so every commitment
 * entry starts with the map head, text "c" (61 63) and the byte-string head (58 20). Lets the
 * committing thread write the commitment into an entry encoded with a placeholder (see
 * {@link sealEntry}). Throws EntryError 'bad_field' if `entry` does not start that way.
 */
export function commitmentOffset(entry: Uint8Array): number {
  const head = entry[0] ?? 0;
  if (
    head < 0xa6 ||
    head > 0xa8 ||
    entry[1] !== 0x61 ||
    entry[2] !== 0x63 ||
    entry[3] !== 0x58 ||
    entry[4] !== 0x20
  )
    throw fieldError('bad_field', 'c', 'not a commitment entry');
  return 5;
}

/**
 * Seals an entry encoded with a placeholder commitment: writes c = SHA-256(salt || payload)
 * into `entry` at {@link commitmentOffset} (in place) and returns it. So a thread that has
 * validated and encoded an entry can leave the salt and the hashing to the thread that
 * commits it; the result equals encodeEntry of the same fields with that `c`. Throws
 * EntryError 'bad_salt' (salt not 32 bytes) or 'bad_field' (not a commitment entry).
 */
export function sealEntry(
  entry: Uint8Array,
  salt: Uint8Array,
  payload: Uint8Array,
  sha: Sha256 = sha256,
): Uint8Array {
  entry.set(commitment(salt, payload, sha), commitmentOffset(entry));
  return entry;
}

/** A fresh commitment: the secret salt and payload (kept off-log) and the public hash. */
export interface Commitment {
  /** 32 random bytes (or the given salt). */
  salt: Uint8Array;
  /** encodeDeterministic(event). */
  payload: Uint8Array;
  /** SHA-256(salt || payload): the entry's `c`. */
  commitment: Uint8Array;
}

const SALT_POOL_SIZE = 4096; // 128 salts per getRandomValues call (a call costs ~2.5 us)
let saltPool = new Uint8Array(0);
let saltPoolOffset = 0;

/**
 * A fresh 32-byte salt from crypto.getRandomValues, drawn 128 at a time: a view into a pool
 * that is filled once and never refilled (the next salts come from a new pool), so no two
 * salts share bytes. A view, not a copy: a copy was one more off-heap buffer per leaf, and
 * the pool holds only salts handed out (alive in their holders anyway) and ones not yet drawn.
 */
export function randomSalt(): Uint8Array {
  if (saltPoolOffset + SALT_SIZE > saltPool.length) {
    saltPool = globalThis.crypto.getRandomValues(new Uint8Array(SALT_POOL_SIZE));
    saltPoolOffset = 0;
  }
  const salt = saltPool.subarray(saltPoolOffset, saltPoolOffset + SALT_SIZE);
  saltPoolOffset += SALT_SIZE;
  return salt;
}

/** The input of a commitment hash (salt || payload), reused: Sha256 does not keep its input. */
const scratch = new Scratch();

/**
 * Encodes `event` as deterministic CBOR and commits to it with `salt` (default: `randomSalt()`,
 * 32 bytes from crypto.getRandomValues). Throws EntryError 'bad_event' (cause: the CborError) if the event
 * cannot be encoded, 'bad_salt' for a salt that is not 32 bytes.
 */
export function makeCommitment(event: CborValue, opts: { salt?: Uint8Array; sha?: Sha256 } = {}): Commitment {
  const salt = opts.salt ?? randomSalt();
  const payload = encodePayload(event);
  return { salt, payload, commitment: commitment(salt, payload, opts.sha) };
}

/**
 * The payload of `event`: its deterministic CBOR, what an entry's `c` commits to. Throws
 * EntryError 'bad_event' (cause: the CborError) if the event cannot be encoded. With `slab`,
 * the bytes are a view into it (see ByteSlab).
 */
export function encodePayload(event: CborValue, slab?: ByteSlab): Uint8Array {
  try {
    return encodeDeterministic(event, slab ? { slab } : undefined);
  } catch (err) {
    if (err instanceof CborError) {
      throw new EntryError('bad_event', `event cannot be encoded (${err.code}): ${err.message}`, undefined, {
        cause: err,
      });
    }
    throw err;
  }
}

/**
 * True if `entry` commits to exactly `payload` under `salt`. False for an erasure entry, a salt
 * that is not 32 bytes, or any mismatch. (Not constant time: commitments are public.)
 */
export function verifyCommitment(
  entry: Entry,
  salt: Uint8Array,
  payload: Uint8Array,
  sha: Sha256 = sha256,
): boolean {
  if (!('c' in entry) || !(entry.c instanceof Uint8Array)) return false;
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_SIZE || !(payload instanceof Uint8Array))
    return false;
  return bytesEqual(commitment(salt, payload, sha), entry.c);
}
