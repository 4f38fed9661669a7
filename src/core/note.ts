/**
 * C2SP signed notes (c2sp.org/signed-note), byte-compatible with Go's
 * golang.org/x/mod/sumdb/note: key names, key IDs, vkey/skey encodings, Ed25519 (type 0x01)
 * signers and verifiers, note formatting, parsing and verification.
 *
 * Pure and browser-safe: SHA-256 from ./hash.ts, Ed25519 from @noble/ed25519 (sync API enabled
 * below with @noble/hashes' SHA-512), no Node-only modules.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, fromBase64, toBase64, utf8 } from './bytes.js';
import { hasLoneSurrogate, isByte, isUint32, loneSurrogateIndex } from './check.js';
import { type Sha256, sha256 } from './hash.js';

ed.hashes.sha512 = sha512;

/** Signature type byte of plain Ed25519 note signatures (log checkpoint signatures). */
export const SIG_TYPE_ED25519 = 0x01;
/** Signature type byte of timestamped Ed25519 cosignature/v1 (c2sp.org/tlog-cosignature). */
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;
/** Maximum number of signature lines accepted by {@link parseNote} (same cap as Go's note.Open). */
export const MAX_NOTE_SIGNATURES = 100;
/** The signature line prefix: U+2014 EM DASH followed by one U+0020 SPACE. */
export const SIGNATURE_LINE_PREFIX = '\u2014 ';

/**
 * Stable machine-readable error codes of the signed-note module itself. Checkpoints,
 * cosignatures and policies own their codes ({@link CheckpointErrorCode} and the others, each
 * in its module) and throw subclasses of {@link NoteError}.
 */
export type NoteErrorCode =
  /** The note does not follow the signed-note syntax (or a text to sign is invalid). */
  | 'malformed_note'
  /** A signature from a known (name, key ID) failed to verify. */
  | 'invalid_signature'
  /** The note parsed but no signature from a known key verified (or a required key is absent). */
  | 'unverified_note'
  /** A vkey/skey/key name/seed/verifier is malformed or inconsistent. */
  | 'invalid_key'
  /** Two configured verifiers share one (name, key ID) and a signature matched them. */
  | 'ambiguous_key'
  /** A signer is unusable (invalid name or key ID, or produced no signature bytes). */
  | 'invalid_signer';

/** Optional context attached to a {@link NoteError}. */
export interface NoteErrorDetails {
  /** 1-based line number in the input (policy files). */
  line?: number;
  /** Key name of the offending signature or key. */
  name?: string;
  /** Key ID of the offending signature or key. */
  keyId?: number;
}

/**
 * The error of the signed-note family. Thrown as is, with a {@link NoteErrorCode}, by this
 * module (and by the checkpoint, cosignature and policy modules when the cause is a note, key or
 * signature); those modules throw subclasses with their own code unions, so one
 * `instanceof NoteError` still catches every refusal of a signed note. `C` is the code union.
 */
export class NoteError<C extends string = NoteErrorCode> extends Error {
  override readonly name: string = 'NoteError';
  readonly code: C;
  readonly details: NoteErrorDetails;

  // NoInfer: a plain `new NoteError(code, ...)` is checked against NoteErrorCode, not widened.
  constructor(code: NoInfer<C>, message: string, details: NoteErrorDetails = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/** Verifies signatures of one key, identified by (name, keyId). */
export interface NoteVerifier {
  /** Key name; a signature line is attributed to this verifier only if name and keyId both match. */
  readonly name: string;
  /** uint32 key ID. */
  readonly keyId: number;
  /** True iff `sig` (the payload bytes after the 4-byte key ID) is a valid signature of `msg`. */
  verify(msg: Uint8Array, sig: Uint8Array): boolean;
}

/** Produces signatures for one key, identified by (name, keyId). Synchronous. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes (without the key ID) over `msg`, the exact note text bytes. */
  sign(msg: Uint8Array): Uint8Array;
}

/** One signature line of a note. */
export interface NoteSignature {
  /** Key name as written on the line. */
  name: string;
  /** uint32 key ID: the first 4 payload bytes, big-endian. */
  keyId: number;
  /** The payload after the key ID (at least 1 byte). */
  sig: Uint8Array;
  /** The whole line as it appeared, starting with "— " and without its trailing "\n". */
  line: string;
}

/** Result of {@link parseNote}: syntax only, nothing verified. */
export interface ParsedNote {
  /** The signed text, including its final "\n" (excluding the blank separator line). */
  text: string;
  /** Every signature line, in order, duplicates included. */
  signatures: NoteSignature[];
}

/** Result of {@link openNote}. */
export interface OpenedNote {
  /** The signed text, including its final "\n". Trust it only because `verified` is non-empty. */
  text: string;
  /** Signatures that verified against a configured key (first one per (name, keyId) only). */
  verified: NoteSignature[];
  /** Signatures whose (name, keyId) matched no configured key (identical lines kept once). */
  unverified: NoteSignature[];
}

/** A decoded verifier key (vkey). */
export interface VerifierKey {
  name: string;
  /** The key ID written in the vkey; it has been checked to equal {@link computeKeyId}. */
  keyId: number;
  /** Signature type byte (first byte of the base64 key material). */
  type: number;
  /** Public key bytes after the type byte (non-empty). */
  publicKey: Uint8Array;
}

/** A decoded signer key (skey). */
export interface SignerKey {
  name: string;
  /** The key ID written in the skey (the ID of the *public* key; checked by the caller per type). */
  keyId: number;
  /** Signature type byte. */
  type: number;
  /** Secret key bytes after the type byte (non-empty); the 32-byte seed for Ed25519. */
  secret: Uint8Array;
}

/** An Ed25519 signer that also exposes its public key and vkey. */
export interface Ed25519NoteSigner extends NoteSigner {
  readonly publicKey: Uint8Array;
  /** The vkey `<name>+<keyId hex>+<base64(0x01 || publicKey)>`. */
  readonly vkey: string;
}

/** An Ed25519 verifier that also exposes its public key. */
export interface Ed25519NoteVerifier extends NoteVerifier {
  readonly publicKey: Uint8Array;
}

// Go's unicode.IsSpace: Latin-1 spaces plus the Unicode White_Space property (U+FEFF excluded).
const UNICODE_SPACES = new Set<number>([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
  0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/**
 * Why `s` is not acceptable as (part of) a signed note: it must be representable in UTF-8 and
 * contain no code point below U+0020 other than "\n". Returns undefined when acceptable.
 */
export function noteTextProblem(s: string): string | undefined {
  const bad = loneSurrogateIndex(s);
  if (bad >= 0) return `lone UTF-16 surrogate at offset ${bad} (not valid UTF-8)`;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) {
      return `control character U+${c.toString(16).padStart(4, '0').toUpperCase()} at offset ${i}`;
    }
  }
  return undefined;
}

/**
 * True iff `name` is a valid signed-note key name, exactly as Go's isValidName: non-empty,
 * valid UTF-8 (no lone surrogates), no '+' and no Unicode white space (Go unicode.IsSpace).
 */
export function isValidKeyName(name: string): boolean {
  if (name.length === 0 || hasLoneSurrogate(name)) return false;
  for (const ch of name) {
    if (ch === '+' || UNICODE_SPACES.has(ch.codePointAt(0)!)) return false;
  }
  return true;
}

/** Throws invalid_key unless `name` is a valid key name. */
function checkKeyName(name: string, what: string): void {
  if (!isValidKeyName(name)) {
    throw new NoteError(
      'invalid_key',
      `${what}: invalid key name ${JSON.stringify(name)} (must be non-empty UTF-8 without '+' or white space)`,
      { name },
    );
  }
}

/** 4-byte big-endian encoding of a uint32 key ID. */
function keyIdBytes(keyId: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, keyId, false);
  return out;
}

/**
 * The key ID of a key: first 4 bytes, big-endian, of SHA-256(name || 0x0A || type || publicKey).
 * Proves nothing by itself (a 32-bit hint); it only selects which configured key to try.
 */
export function computeKeyId(
  name: string,
  type: number,
  publicKey: Uint8Array,
  hash: Sha256 = sha256,
): number {
  if (!isByte(type)) {
    throw new NoteError('invalid_key', `signature type ${type} is not a byte`);
  }
  const digest = hash(concatBytes(utf8(name), Uint8Array.of(0x0a, type), publicKey));
  return new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0, false);
}

/** The 8-digit lowercase zero-padded hex spelling of a uint32 key ID, as used in vkeys/skeys. */
export function formatKeyId(keyId: number): string {
  if (!isUint32(keyId)) throw new NoteError('invalid_key', `key ID ${keyId} is not a uint32`);
  return keyId.toString(16).padStart(8, '0');
}

/** Parses exactly 8 lowercase hex digits into a uint32, or undefined. */
function parseKeyIdHex(s: string): number | undefined {
  if (!/^[0-9a-f]{8}$/.test(s)) return undefined;
  return Number.parseInt(s, 16);
}

/** Go's chop: split at the first `sep`; if absent, returns [s, '']. */
function chop(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)];
}

/**
 * Encodes a vkey `<name>+<8 hex keyId>+<base64(type || publicKey)>`, computing the key ID.
 * Validates the name and type; does not check that `publicKey` is a valid key for `type`.
 */
export function formatVerifierKey(name: string, type: number, publicKey: Uint8Array): string {
  checkKeyName(name, 'verifier key');
  if (publicKey.length === 0) throw new NoteError('invalid_key', 'verifier key: empty public key');
  const keyId = computeKeyId(name, type, publicKey);
  return `${name}+${formatKeyId(keyId)}+${toBase64(concatBytes(Uint8Array.of(type), publicKey))}`;
}

/**
 * Decodes a vkey of any signature type, with Go note.NewVerifier's checks: split on '+' at most
 * twice, hex part exactly 8 lowercase digits, strict base64, non-empty key material, valid name,
 * and the key ID recomputed from (name, type, key) equals the written one. Key lengths are
 * type-specific and checked by the caller.
 */
export function parseVerifierKey(vkey: string): VerifierKey {
  const [name, rest] = chop(vkey, '+');
  const [hex, b64] = chop(rest, '+');
  const keyId = parseKeyIdHex(hex);
  if (keyId === undefined) {
    throw new NoteError(
      'invalid_key',
      `verifier key: key ID ${JSON.stringify(hex)} is not 8 lowercase hex digits`,
    );
  }
  checkKeyName(name, 'verifier key');
  const raw = fromBase64(b64);
  if (raw === undefined || raw.length < 2) {
    throw new NoteError('invalid_key', 'verifier key: key material is not strict base64 of type byte + key');
  }
  const type = raw[0]!;
  const publicKey = raw.slice(1);
  const expected = computeKeyId(name, type, publicKey);
  if (expected !== keyId) {
    throw new NoteError(
      'invalid_key',
      `verifier key: key ID ${hex} does not match the key (expected ${formatKeyId(expected)})`,
      { name, keyId },
    );
  }
  return { name, keyId, type, publicKey };
}

/**
 * Decodes an skey `PRIVATE+KEY+<name>+<8 hex>+<base64(type || secret)>` (split on '+' at most four
 * times), checking the prefix, hex, strict base64, non-empty secret and name. The key ID cannot
 * be checked without deriving the public key; type-specific constructors do that.
 */
export function parseSignerKey(skey: string): SignerKey {
  const [priv1, r1] = chop(skey, '+');
  const [priv2, r2] = chop(r1, '+');
  const [name, r3] = chop(r2, '+');
  const [hex, b64] = chop(r3, '+');
  if (priv1 !== 'PRIVATE' || priv2 !== 'KEY') {
    throw new NoteError('invalid_key', 'signer key: must start with "PRIVATE+KEY+"');
  }
  const keyId = parseKeyIdHex(hex);
  if (keyId === undefined) {
    throw new NoteError('invalid_key', 'signer key: key ID is not 8 lowercase hex digits');
  }
  checkKeyName(name, 'signer key');
  const raw = fromBase64(b64);
  if (raw === undefined || raw.length < 2) {
    throw new NoteError('invalid_key', 'signer key: key material is not strict base64 of type byte + secret');
  }
  return { name, keyId, type: raw[0]!, secret: raw.slice(1) };
}

/**
 * Ed25519 (RFC 8032, pure) verification of a 64-byte signature; false on any malformed input.
 * Uses noble's strict RFC 8032 mode (canonical encodings, small-order keys rejected).
 */
export function ed25519Verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (publicKey.length !== 32 || sig.length !== 64) return false;
  try {
    return ed.verify(sig, msg, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Ed25519 public key of a 32-byte seed (RFC 8032 private key). */
export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  if (seed.length !== 32)
    throw new NoteError('invalid_key', `Ed25519 seed must be 32 bytes, got ${seed.length}`);
  return ed.getPublicKey(seed);
}

/** Deterministic Ed25519 signature of `msg` with a 32-byte seed. */
export function ed25519Sign(seed: Uint8Array, msg: Uint8Array): Uint8Array {
  if (seed.length !== 32)
    throw new NoteError('invalid_key', `Ed25519 seed must be 32 bytes, got ${seed.length}`);
  return ed.sign(msg, seed);
}

/** 32 random bytes from crypto.getRandomValues (through noble). */
export function randomSeed(): Uint8Array {
  return ed.utils.randomSecretKey();
}

/**
 * The Ed25519 (type 0x01) verifier of a vkey. Rejects (invalid_key) anything Go's
 * note.NewVerifier rejects, other types, and keys that are not 32 bytes.
 */
export function newEd25519Verifier(vkey: string): Ed25519NoteVerifier {
  const k = parseVerifierKey(vkey);
  if (k.type !== SIG_TYPE_ED25519) {
    throw new NoteError('invalid_key', `verifier key: unsupported signature type 0x${k.type.toString(16)}`, {
      name: k.name,
      keyId: k.keyId,
    });
  }
  if (k.publicKey.length !== 32) {
    throw new NoteError(
      'invalid_key',
      `verifier key: Ed25519 key must be 32 bytes, got ${k.publicKey.length}`,
    );
  }
  const publicKey = k.publicKey;
  return {
    name: k.name,
    keyId: k.keyId,
    publicKey,
    verify: (msg, sig) => ed25519Verify(publicKey, msg, sig),
  };
}

/** The Ed25519 (type 0x01) signer for `name` and a 32-byte seed; its key ID is computed. */
export function ed25519SignerFromSeed(name: string, seed: Uint8Array): Ed25519NoteSigner {
  checkKeyName(name, 'signer key');
  const publicKey = ed25519PublicKey(seed);
  const keyId = computeKeyId(name, SIG_TYPE_ED25519, publicKey);
  const secret = seed.slice();
  return {
    name,
    keyId,
    publicKey,
    vkey: formatVerifierKey(name, SIG_TYPE_ED25519, publicKey),
    sign: (msg) => ed25519Sign(secret, msg),
  };
}

/**
 * The Ed25519 (type 0x01) signer of an skey, with Go note.NewSigner's checks: format, type 0x01,
 * 32-byte seed, and the written key ID equals the ID of the derived public key.
 */
export function newEd25519Signer(skey: string): Ed25519NoteSigner {
  const k = parseSignerKey(skey);
  if (k.type !== SIG_TYPE_ED25519) {
    throw new NoteError('invalid_key', `signer key: unsupported signature type 0x${k.type.toString(16)}`);
  }
  if (k.secret.length !== 32) {
    throw new NoteError('invalid_key', `signer key: Ed25519 seed must be 32 bytes, got ${k.secret.length}`);
  }
  const signer = ed25519SignerFromSeed(k.name, k.secret);
  if (signer.keyId !== k.keyId) {
    throw new NoteError(
      'invalid_key',
      `signer key: key ID ${formatKeyId(k.keyId)} does not match the key (expected ${formatKeyId(signer.keyId)})`,
      { name: k.name, keyId: k.keyId },
    );
  }
  return signer;
}

/** Encodes an skey `PRIVATE+KEY+<name>+<hex keyId>+<base64(type || secret)>`. */
export function formatSignerKey(name: string, keyId: number, type: number, secret: Uint8Array): string {
  checkKeyName(name, 'signer key');
  return `PRIVATE+KEY+${name}+${formatKeyId(keyId)}+${toBase64(concatBytes(Uint8Array.of(type), secret))}`;
}

/**
 * A new Ed25519 (type 0x01) key pair for `name`, as Go note.GenerateKey: the skey holds the
 * 32-byte seed, both carry the public key's ID. `seed` defaults to 32 random bytes.
 */
export function generateEd25519Key(
  name: string,
  seed: Uint8Array = randomSeed(),
): { skey: string; vkey: string } {
  const signer = ed25519SignerFromSeed(name, seed);
  return { skey: formatSignerKey(name, signer.keyId, SIG_TYPE_ED25519, seed), vkey: signer.vkey };
}

/**
 * One signature line `— <name> <base64(keyId || sig)>\n`. Validates the name, the key ID and
 * that the payload is at least 5 bytes (so that the line parses back).
 */
export function formatSignatureLine(name: string, keyId: number, sig: Uint8Array): string {
  if (!isValidKeyName(name)) {
    throw new NoteError('invalid_signer', `invalid key name ${JSON.stringify(name)}`, { name });
  }
  if (!isUint32(keyId)) throw new NoteError('invalid_signer', `key ID ${keyId} is not a uint32`, { name });
  if (sig.length === 0) throw new NoteError('invalid_signer', 'empty signature', { name, keyId });
  return `${SIGNATURE_LINE_PREFIX}${name} ${toBase64(concatBytes(keyIdBytes(keyId), sig))}\n`;
}

/** Throws malformed_note unless `text` is a valid note text: non-empty, valid, ends with "\n". */
export function checkNoteText(text: string): void {
  if (text.length === 0) throw new NoteError('malformed_note', 'note text is empty');
  if (!text.endsWith('\n')) throw new NoteError('malformed_note', 'note text does not end with a newline');
  const problem = noteTextProblem(text);
  if (problem !== undefined) throw new NoteError('malformed_note', `note text: ${problem}`);
}

/**
 * Assembles a note from a text and already-computed signatures: text, blank line, one line per
 * signature, in the given order. The output parses back with {@link parseNote} to the same text
 * and signatures. Proves nothing about the signatures.
 */
export function formatNote(
  text: string,
  signatures: readonly Pick<NoteSignature, 'name' | 'keyId' | 'sig'>[],
): string {
  checkNoteText(text);
  if (signatures.length === 0) throw new NoteError('malformed_note', 'a note needs at least one signature');
  if (signatures.length > MAX_NOTE_SIGNATURES) {
    throw new NoteError('malformed_note', `more than ${MAX_NOTE_SIGNATURES} signatures`);
  }
  let out = `${text}\n`;
  for (const s of signatures) out += formatSignatureLine(s.name, s.keyId, s.sig);
  return out;
}

/**
 * Signs `text` with each signer (over the exact UTF-8 bytes of the text, final "\n" included)
 * and returns the note. As Go note.Sign, `existing` signatures come first, except those from a
 * (name, keyId) that is re-signing now, then the new signatures in signer order.
 */
export function signNote(
  text: string,
  signers: readonly NoteSigner[],
  existing: readonly Pick<NoteSignature, 'name' | 'keyId' | 'sig'>[] = [],
): string {
  checkNoteText(text);
  if (signers.length === 0 && existing.length === 0) {
    throw new NoteError('malformed_note', 'a note needs at least one signature');
  }
  const msg = utf8(text);
  const fresh: Pick<NoteSignature, 'name' | 'keyId' | 'sig'>[] = [];
  const replaced = new Set<string>();
  for (const s of signers) {
    if (!isValidKeyName(s.name)) {
      throw new NoteError('invalid_signer', `invalid signer name ${JSON.stringify(s.name)}`, {
        name: s.name,
      });
    }
    if (!isUint32(s.keyId)) throw new NoteError('invalid_signer', `signer key ID ${s.keyId} is not a uint32`);
    const sig = s.sign(msg);
    if (!(sig instanceof Uint8Array) || sig.length === 0) {
      throw new NoteError('invalid_signer', `signer ${s.name} produced no signature bytes`, {
        name: s.name,
        keyId: s.keyId,
      });
    }
    replaced.add(pairKey(s.name, s.keyId));
    fresh.push({ name: s.name, keyId: s.keyId, sig });
  }
  const kept = existing.filter((s) => !replaced.has(pairKey(s.name, s.keyId)));
  return formatNote(text, [...kept, ...fresh]);
}

/** Map key for a (name, keyId) pair; names never contain "\n". */
function pairKey(name: string, keyId: number): string {
  return `${name}\n${keyId}`;
}

const noteDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes strict UTF-8 keeping a leading BOM (the signed bytes must round-trip exactly). */
function decodeNoteBytes(msg: Uint8Array): string {
  try {
    return noteDecoder.decode(msg);
  } catch {
    throw new NoteError('malformed_note', 'note is not valid UTF-8');
  }
}

/**
 * Parses a signed note with the rules of Go's note.Open, without verifying anything: valid UTF-8,
 * no control characters but "\n", text/signatures split at the LAST "\n\n" (text keeps its final
 * "\n"), a non-empty signature block ending in "\n" where every line is `— <name> <base64>` with
 * the name split at the first space, a valid name, strict base64 of at least 5 bytes, and at
 * most {@link MAX_NOTE_SIGNATURES} lines. Throws malformed_note otherwise.
 */
export function parseNote(msg: string | Uint8Array): ParsedNote {
  const s = typeof msg === 'string' ? msg : decodeNoteBytes(msg);
  const problem = noteTextProblem(s);
  if (problem !== undefined) throw new NoteError('malformed_note', `note: ${problem}`);
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed_note', 'note has no blank line before the signatures');
  const text = s.slice(0, split + 1);
  let block = s.slice(split + 2);
  if (block.length === 0) throw new NoteError('malformed_note', 'note has no signature lines');
  if (!block.endsWith('\n')) throw new NoteError('malformed_note', 'note does not end with a newline');
  const signatures: NoteSignature[] = [];
  let lineNo = 0;
  while (block.length > 0) {
    const nl = block.indexOf('\n');
    const line = block.slice(0, nl);
    block = block.slice(nl + 1);
    lineNo++;
    if (lineNo > MAX_NOTE_SIGNATURES) {
      throw new NoteError('malformed_note', `note has more than ${MAX_NOTE_SIGNATURES} signature lines`);
    }
    if (!line.startsWith(SIGNATURE_LINE_PREFIX)) {
      throw new NoteError('malformed_note', `signature line ${lineNo} does not start with "— "`);
    }
    const [name, b64] = chop(line.slice(SIGNATURE_LINE_PREFIX.length), ' ');
    if (!isValidKeyName(name)) {
      throw new NoteError(
        'malformed_note',
        `signature line ${lineNo}: invalid key name ${JSON.stringify(name)}`,
      );
    }
    const payload = fromBase64(b64);
    if (b64.length === 0 || payload === undefined) {
      throw new NoteError(
        'malformed_note',
        `signature line ${lineNo}: signature is not strict standard base64`,
      );
    }
    if (payload.length < 5) {
      throw new NoteError('malformed_note', `signature line ${lineNo}: signature shorter than 5 bytes`);
    }
    const keyId = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, false);
    signatures.push({ name, keyId, sig: payload.slice(4), line });
  }
  return { text, signatures };
}

/**
 * Parses and verifies a note against `verifiers` (Go note.Open semantics). A signature whose
 * (name, keyId) matches no verifier is kept in `unverified` (identical lines once) and is never
 * fatal; a repeated signature from an already-seen known (name, keyId) is ignored unverified; a
 * known key whose signature fails throws invalid_signature; two verifiers with the matched
 * (name, keyId) throw ambiguous_key; if nothing verified, throws unverified_note.
 * On success the text is signed by every key listed in `verified`.
 */
export function openNote(msg: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const parsed = parseNote(msg);
  const known = new Map<string, NoteVerifier[]>();
  for (const v of verifiers) {
    if (!isUint32(v.keyId)) throw new NoteError('invalid_key', `verifier ${v.name}: key ID is not a uint32`);
    const k = pairKey(v.name, v.keyId);
    const list = known.get(k);
    if (list) list.push(v);
    else known.set(k, [v]);
  }
  const textBytes = utf8(parsed.text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  const seenUnverified = new Set<string>();
  for (const sig of parsed.signatures) {
    const k = pairKey(sig.name, sig.keyId);
    const candidates = known.get(k);
    if (candidates === undefined) {
      if (!seenUnverified.has(sig.line)) {
        seenUnverified.add(sig.line);
        unverified.push(sig);
      }
      continue;
    }
    if (candidates.length > 1) {
      throw new NoteError('ambiguous_key', `ambiguous key ${sig.name}+${formatKeyId(sig.keyId)}`, {
        name: sig.name,
        keyId: sig.keyId,
      });
    }
    if (seen.has(k)) continue;
    seen.add(k);
    if (!candidates[0]!.verify(textBytes, sig.sig)) {
      throw new NoteError(
        'invalid_signature',
        `invalid signature for key ${sig.name}+${formatKeyId(sig.keyId)}`,
        {
          name: sig.name,
          keyId: sig.keyId,
        },
      );
    }
    verified.push(sig);
  }
  if (verified.length === 0) throw new NoteError('unverified_note', 'note has no verifiable signatures');
  return { text: parsed.text, verified, unverified };
}
