/**
 * The stored form of a payload (the deterministic CBOR an entry commits to): compressed when
 * that is smaller, raw otherwise. Storage-only: every reader above the store, the API and the
 * client see the plain CBOR; nothing on the wire changes. node:zlib is I/O-free but not
 * browser-safe, so this lives in the store, not in core.
 *
 * Format (spec/storage.md, "Payload compression"): the first byte tells them apart. Raw rows,
 * those written before compression and those that do not shrink, are the CBOR itself: its first
 * byte is a CBOR initial byte. A compressed row starts with a tag byte no well-formed CBOR item
 * starts with: 0x1c..0x1e (major type 0 with the reserved additional information 28..30, RFC
 * 8949 section 3) and 0xff (a lone "break"). 0x1c = raw deflate (RFC 1951) with dictionary v1.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { PAYLOAD_DICTIONARY_V1 } from './payload-dictionary.js';

/** Tag of a payload stored as raw deflate with {@link PAYLOAD_DICTIONARY_V1}. */
export const PAYLOAD_DEFLATE_V1 = 0x1c;

/**
 * Deflate level: on ~550-byte OPA decisions a call costs the same at every level (its fixed
 * cost dominates) and level 6 stores ~8 % fewer bytes than level 1 (spec/storage.md).
 */
export const PAYLOAD_DEFLATE_LEVEL = 6;

/**
 * Largest payload a stored row may inflate to. Payloads are bounded far lower by the body and
 * JSON limits of ingestion; this only keeps a damaged row from allocating without bound.
 */
const MAX_INFLATED = 64 * 1024 * 1024;

/** Tags reserved for stored formats (never the first byte of well-formed CBOR). */
const RESERVED_TAGS: ReadonlySet<number> = new Set([0x1c, 0x1d, 0x1e, 0xff]);

/** Stable codes of a {@link PayloadCodecError}. */
export type PayloadCodecErrorCode =
  /** The row starts with a reserved tag this build does not know (written by a newer build). */
  | 'unknown_payload_format'
  /** A compressed row does not inflate (damaged storage). */
  | 'corrupt_payload';

/** A stored payload this build cannot decode. */
export class PayloadCodecError extends Error {
  override readonly name = 'PayloadCodecError';
  readonly code: PayloadCodecErrorCode;

  constructor(code: PayloadCodecErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * The bytes to store for payload `cbor`: the tag 0x1c and its raw deflate with dictionary v1
 * when that is shorter, else `cbor` itself (raw, unambiguous since CBOR never starts with a
 * reserved tag). {@link decodeStoredPayload} returns exactly `cbor` from either.
 */
export function encodeStoredPayload(cbor: Uint8Array): Uint8Array {
  if (cbor.length > 0 && RESERVED_TAGS.has(cbor[0]!)) {
    // Not deterministic CBOR (the log never commits to such bytes); kept decodable anyway.
    return deflated(cbor);
  }
  const z = deflated(cbor);
  return z.length < cbor.length ? z : cbor;
}

function deflated(cbor: Uint8Array): Uint8Array {
  const z = deflateRawSync(cbor, { level: PAYLOAD_DEFLATE_LEVEL, dictionary: PAYLOAD_DICTIONARY_V1 });
  const out = new Uint8Array(1 + z.length);
  out[0] = PAYLOAD_DEFLATE_V1;
  out.set(z, 1);
  return out;
}

/**
 * The payload CBOR from stored bytes: raw rows (legacy, or not worth compressing) as they are,
 * tag 0x1c inflated with dictionary v1. Throws PayloadCodecError unknown_payload_format for
 * another reserved tag, corrupt_payload for a row that does not inflate.
 */
export function decodeStoredPayload(stored: Uint8Array): Uint8Array {
  const tag = stored[0];
  if (tag === undefined || !RESERVED_TAGS.has(tag)) return stored;
  if (tag !== PAYLOAD_DEFLATE_V1) {
    throw new PayloadCodecError(
      'unknown_payload_format',
      `stored payload has unknown format tag 0x${tag.toString(16)}`,
    );
  }
  try {
    return inflateRawSync(stored.subarray(1), {
      dictionary: PAYLOAD_DICTIONARY_V1,
      maxOutputLength: MAX_INFLATED,
    });
  } catch (err) {
    throw new PayloadCodecError('corrupt_payload', 'stored payload does not inflate', { cause: err });
  }
}
