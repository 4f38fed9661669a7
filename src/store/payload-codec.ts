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
import { constants, createDeflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';
import { bytesEqual } from '../core/bytes.js';
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
    return tagged(deflateRawSync(cbor, DEFLATE_OPTIONS));
  }
  // Tag plus the shortest deflate stream (2 bytes) is 3 bytes: nothing shorter can shrink.
  if (cbor.length <= 3) return cbor;
  if (fastDeflate !== undefined) {
    // Room for less than the CBOR: output that does not fit is not worth storing.
    if (scratch.length < cbor.length) scratch = new Uint8Array(cbor.length * 2);
    const n = fastDeflate(cbor, scratch.subarray(0, cbor.length - 1));
    return n === undefined ? cbor : tagged(scratch.subarray(0, n));
  }
  const z = deflateRawSync(cbor, DEFLATE_OPTIONS);
  return z.length + 1 < cbor.length ? tagged(z) : cbor;
}

/**
 * The bytes to store for payload `cbor` without compressing it (a row that lives only until its
 * bundle fills, payload-bundles.ts): `cbor` itself, unless it starts with a reserved tag (not
 * deterministic CBOR), which {@link encodeStoredPayload} tags. {@link decodeStoredPayload}
 * returns exactly `cbor`.
 */
export function rawStoredPayload(cbor: Uint8Array): Uint8Array {
  return cbor.length > 0 && RESERVED_TAGS.has(cbor[0]!) ? encodeStoredPayload(cbor) : cbor;
}

const DEFLATE_OPTIONS = { level: PAYLOAD_DEFLATE_LEVEL, dictionary: PAYLOAD_DICTIONARY_V1 };

/** `0x1c ‖ z`, a new array. */
function tagged(z: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + z.length);
  out[0] = PAYLOAD_DEFLATE_V1;
  out.set(z, 1);
  return out;
}

/** The part of a zlib stream's native handle {@link reusedDeflate} drives (Node internals). */
interface ZlibHandle {
  reset(): void;
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
}

/**
 * One deflate context (dictionary v1) reused for every payload of this thread: the raw deflate
 * of `cbor` written into `out`, its length returned, or undefined if it does not fit.
 *
 * Why: `deflateRawSync` builds and tears down a zlib stream object per call; on ~550-byte OPA
 * payloads it costs ~19 µs of CPU where resetting one native context (deflateReset + the
 * dictionary again, as the stream's own reset does) costs 12-14 µs (spec/storage.md), and the
 * commit runs this for every decision in the writer thread. It
 * drives the stream's undocumented `_handle`, so it is checked once at load against
 * `deflateRawSync`, byte for byte; if Node lacks it or it differs, the codec uses
 * `deflateRawSync` (same bytes, slower).
 */
function reusedDeflate(): ((cbor: Uint8Array, out: Uint8Array) => number | undefined) | undefined {
  try {
    const stream = createDeflateRaw(DEFLATE_OPTIONS) as unknown as {
      _handle?: Partial<ZlibHandle>;
      _writeState?: Uint32Array;
    };
    const h = stream._handle;
    const state = stream._writeState; // [avail_out, avail_in] after writeSync
    if (typeof h?.reset !== 'function' || typeof h.writeSync !== 'function' || !state) return undefined;
    const handle = h as ZlibHandle;
    const run = (cbor: Uint8Array, out: Uint8Array): number | undefined => {
      handle.reset();
      handle.writeSync(constants.Z_FINISH, cbor, 0, cbor.length, out, 0, out.length);
      // Output space left means deflate reached the end of the stream (Z_STREAM_END).
      return state[1] === 0 && state[0]! > 0 ? out.length - state[0]! : undefined;
    };
    const probe = PAYLOAD_DICTIONARY_V1.subarray(0, 700);
    for (const input of [probe, probe.subarray(100, 400)]) {
      const out = new Uint8Array(input.length + 64);
      const n = run(input, out);
      if (n === undefined || !bytesEqual(out.subarray(0, n), deflateRawSync(input, DEFLATE_OPTIONS)))
        return undefined;
    }
    return run;
  } catch {
    return undefined;
  }
}

const fastDeflate = reusedDeflate();
let scratch = new Uint8Array(4096);

/** True when this thread compresses with the reused context (the fast path), for tests and ops. */
export const PAYLOAD_FAST_DEFLATE: boolean = fastDeflate !== undefined;

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
