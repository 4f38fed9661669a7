/**
 * Ed25519 checkpoint cosignatures, c2sp.org/tlog-cosignature `cosignature/v1` (signature type
 * 0x04). Payload after the 4-byte key ID: u64 big-endian POSIX timestamp || 64-byte Ed25519
 * signature over "cosignature/v1\ntime <t>\n" || the checkpoint text (final "\n" included).
 */
import { concatBytes, utf8 } from './bytes.js';
import { parseCheckpoint } from './checkpoint.js';
import {
  computeKeyId,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  formatSignatureLine,
  formatSignerKey,
  formatVerifierKey,
  NoteError,
  type NoteSigner,
  type NoteVerifier,
  parseSignerKey,
  parseVerifierKey,
  randomSeed,
  SIG_TYPE_COSIGNATURE_V1,
  SIG_TYPE_ED25519,
} from './note.js';

/** Largest timestamp allowed by the spec: 2^63 - 1. */
export const MAX_COSIGNATURE_TIMESTAMP = (1n << 63n) - 1n;
/** Payload length after the key ID: 8-byte timestamp + 64-byte Ed25519 signature. */
export const COSIGNATURE_V1_SIG_SIZE = 72;

/** Seconds since the POSIX epoch, as used for cosignature timestamps. */
export type Clock = () => bigint;

/** Default clock: floor(Date.now() / 1000). */
export const systemClock: Clock = () => BigInt(Math.floor(Date.now() / 1000));

/** A cosignature/v1 signer (a NoteSigner whose key ID uses type 0x04). */
export interface CosignatureV1Signer extends NoteSigner {
  readonly publicKey: Uint8Array;
  /** The cosigner vkey `<name>+<keyId>+base64(0x04 || publicKey)`. */
  readonly vkey: string;
  /** Signs `msg` (a checkpoint text) at an explicit time; returns timestamp(8) || signature(64). */
  signAt(msg: Uint8Array, timestamp: bigint): Uint8Array;
}

/** A cosignature/v1 verifier (a NoteVerifier whose key ID uses type 0x04). */
export interface CosignatureV1Verifier extends NoteVerifier {
  readonly publicKey: Uint8Array;
  /** The timestamp of `sig` if it is a valid cosignature of `msg`, else undefined. */
  verifiedTimestamp(msg: Uint8Array, sig: Uint8Array): bigint | undefined;
}

/** Stable machine-readable error codes of {@link CosignatureError}. */
export type CosignatureErrorCode =
  /** A cosignature/v1 payload or timestamp is malformed. */
  'malformed_cosignature';

/** A cosignature/v1 payload or timestamp refused (a {@link NoteError}, so one catch serves). */
export class CosignatureError extends NoteError<CosignatureErrorCode> {
  override readonly name = 'CosignatureError';
}

function checkTimestamp(timestamp: bigint): void {
  if (timestamp < 0n || timestamp > MAX_COSIGNATURE_TIMESTAMP) {
    throw new CosignatureError('malformed_cosignature', `timestamp ${timestamp} is outside [0, 2^63 - 1]`);
  }
}

/**
 * The exact signed message: "cosignature/v1\ntime <decimal timestamp>\n" || `text`, where `text`
 * is the whole checkpoint note text (final "\n" and any extension lines included).
 */
export function cosignatureV1Message(text: Uint8Array, timestamp: bigint): Uint8Array {
  checkTimestamp(timestamp);
  return concatBytes(utf8(`cosignature/v1\ntime ${timestamp.toString()}\n`), text);
}

/** Splits a payload (after the key ID) into timestamp and signature; undefined unless 72 bytes and t < 2^63. */
export function decodeCosignatureV1(
  sig: Uint8Array,
): { timestamp: bigint; signature: Uint8Array } | undefined {
  if (sig.length !== COSIGNATURE_V1_SIG_SIZE) return undefined;
  const timestamp = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0, false);
  if (timestamp > MAX_COSIGNATURE_TIMESTAMP) return undefined;
  return { timestamp, signature: sig.slice(8) };
}

/** The payload (after the key ID): u64 big-endian timestamp || 64-byte signature. */
export function encodeCosignatureV1(timestamp: bigint, signature: Uint8Array): Uint8Array {
  checkTimestamp(timestamp);
  if (signature.length !== 64) {
    throw new CosignatureError(
      'malformed_cosignature',
      `Ed25519 signature must be 64 bytes, got ${signature.length}`,
    );
  }
  const out = new Uint8Array(COSIGNATURE_V1_SIG_SIZE);
  new DataView(out.buffer).setBigUint64(0, timestamp, false);
  out.set(signature, 8);
  return out;
}

/**
 * The cosignature/v1 signer for `name` and a 32-byte Ed25519 seed. Its key ID is
 * SHA-256(name || 0x0A || 0x04 || pub)[:4]; `sign` stamps the current `clock()` time.
 */
export function cosignatureV1SignerFromSeed(
  name: string,
  seed: Uint8Array,
  clock: Clock = systemClock,
): CosignatureV1Signer {
  const publicKey = ed25519PublicKey(seed);
  const vkey = formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, publicKey);
  const keyId = computeKeyId(name, SIG_TYPE_COSIGNATURE_V1, publicKey);
  const secret = seed.slice();
  const signAt = (msg: Uint8Array, timestamp: bigint): Uint8Array =>
    encodeCosignatureV1(timestamp, ed25519Sign(secret, cosignatureV1Message(msg, timestamp)));
  return { name, keyId, publicKey, vkey, signAt, sign: (msg) => signAt(msg, clock()) };
}

/**
 * The cosignature/v1 signer of an skey of type 0x04, or of type 0x01 (the same Ed25519 seed;
 * the key ID is then recomputed with type 0x04). The written key ID must match the key ID of the
 * derived public key under the skey's own type (invalid_key otherwise).
 */
export function newCosignatureV1Signer(skey: string, clock: Clock = systemClock): CosignatureV1Signer {
  const k = parseSignerKey(skey);
  if (k.type !== SIG_TYPE_COSIGNATURE_V1 && k.type !== SIG_TYPE_ED25519) {
    throw new NoteError('invalid_key', `signer key: type 0x${k.type.toString(16)} is not 0x04 or 0x01`);
  }
  if (k.secret.length !== 32) {
    throw new NoteError('invalid_key', `signer key: Ed25519 seed must be 32 bytes, got ${k.secret.length}`);
  }
  const signer = cosignatureV1SignerFromSeed(k.name, k.secret, clock);
  if (computeKeyId(k.name, k.type, signer.publicKey) !== k.keyId) {
    throw new NoteError('invalid_key', 'signer key: key ID does not match the key', {
      name: k.name,
      keyId: k.keyId,
    });
  }
  return signer;
}

/**
 * A new cosigner key pair for `name`: skey `PRIVATE+KEY+<name>+<id>+base64(0x04 || seed)` and
 * vkey `<name>+<id>+base64(0x04 || pub)`, with the type-0x04 key ID. Seed defaults to random.
 */
export function generateCosignatureV1Key(
  name: string,
  seed: Uint8Array = randomSeed(),
): { skey: string; vkey: string } {
  const signer = cosignatureV1SignerFromSeed(name, seed);
  return { skey: formatSignerKey(name, signer.keyId, SIG_TYPE_COSIGNATURE_V1, seed), vkey: signer.vkey };
}

/** The cosignature/v1 verifier of a 32-byte Ed25519 public key under `name` (key ID of type 0x04). */
export function cosignatureV1VerifierFromKey(name: string, publicKey: Uint8Array): CosignatureV1Verifier {
  if (publicKey.length !== 32) {
    throw new NoteError('invalid_key', `Ed25519 public key must be 32 bytes, got ${publicKey.length}`);
  }
  formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, publicKey); // validates the name
  const key = publicKey.slice();
  const verifiedTimestamp = (msg: Uint8Array, sig: Uint8Array): bigint | undefined => {
    const d = decodeCosignatureV1(sig);
    if (d === undefined) return undefined;
    return ed25519Verify(key, cosignatureV1Message(msg, d.timestamp), d.signature) ? d.timestamp : undefined;
  };
  return {
    name,
    keyId: computeKeyId(name, SIG_TYPE_COSIGNATURE_V1, key),
    publicKey: key,
    verifiedTimestamp,
    verify: (msg, sig) => verifiedTimestamp(msg, sig) !== undefined,
  };
}

/**
 * The cosignature/v1 verifier of a vkey. Type 0x04 is the normal witness vkey. A type 0x01
 * (plain Ed25519) vkey is also accepted, as Tessera/transparency-dev NewVerifierForCosignatureV1
 * does: the same key is used but the verifier's key ID is recomputed with type 0x04, so it differs
 * from the ID written in the vkey. In both cases the written ID must match its own type.
 */
export function newCosignatureV1Verifier(vkey: string): CosignatureV1Verifier {
  const k = parseVerifierKey(vkey);
  if (k.type !== SIG_TYPE_COSIGNATURE_V1 && k.type !== SIG_TYPE_ED25519) {
    throw new NoteError('invalid_key', `verifier key: type 0x${k.type.toString(16)} is not 0x04 or 0x01`, {
      name: k.name,
      keyId: k.keyId,
    });
  }
  return cosignatureV1VerifierFromKey(k.name, k.publicKey);
}

/**
 * The signature line `— <name> base64(keyId || timestamp || sig)\n` cosigning `checkpointText`,
 * which must be a valid checkpoint body (malformed_checkpoint otherwise). Uses the signer's clock
 * unless `timestamp` is given.
 */
export function cosignatureV1Line(
  signer: CosignatureV1Signer,
  checkpointText: string,
  timestamp?: bigint,
): string {
  parseCheckpoint(checkpointText);
  const msg = utf8(checkpointText);
  const sig = timestamp === undefined ? signer.sign(msg) : signer.signAt(msg, timestamp);
  return formatSignatureLine(signer.name, signer.keyId, sig);
}
