/**
 * Byte helpers shared by the core: strict base64 (RFC 4648 standard alphabet, padded), hex,
 * comparison and concatenation. Strictness matters because the C2SP formats are compared
 * byte-for-byte: a lenient decoder would accept two spellings of one hash.
 */
import { isCanonicalDecimal, isSafeUint } from './check.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** The alphabet's character codes. */
const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));
/** Characters made per String.fromCharCode call (well under any engine's argument limit). */
const B64_CHUNK = 8192;
/** Scratch for the characters of one chunk. */
const b64Scratch = new Uint8Array(B64_CHUNK);

/**
 * Standard base64 with padding. Characters are written as codes into a scratch array and made
 * into a string by one String.fromCharCode call per 8 KiB, not appended one by one: appending
 * built a rope of ~4 pieces a 3 bytes, flattened again when sent (a proof answer's 26 hashes:
 * ~6 % of its CPU).
 */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  let o = 0;
  const flush = (): void => {
    out += String.fromCharCode.apply(null, b64Scratch.subarray(0, o) as unknown as number[]);
    o = 0;
  };
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    if (o + 4 > B64_CHUNK) flush();
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    b64Scratch[o++] = B64_CODES[n >>> 18]!;
    b64Scratch[o++] = B64_CODES[(n >>> 12) & 63]!;
    b64Scratch[o++] = B64_CODES[(n >>> 6) & 63]!;
    b64Scratch[o++] = B64_CODES[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    if (o + 4 > B64_CHUNK) flush();
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    b64Scratch[o++] = B64_CODES[n >>> 18]!;
    b64Scratch[o++] = B64_CODES[(n >>> 12) & 63]!;
    b64Scratch[o++] = rest === 2 ? B64_CODES[(n >>> 6) & 63]! : 61; // '='
    b64Scratch[o++] = 61;
  }
  if (o > 0) flush();
  return out;
}

/**
 * Strict standard base64 decoding: only the standard alphabet, mandatory padding, and the
 * unused bits of the last symbol must be zero (so every byte string has exactly one
 * accepted spelling). Returns undefined for anything else.
 */
export function fromBase64(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0) return undefined;
  let pad = 0;
  if (s.endsWith('==')) pad = 2;
  else if (s.endsWith('=')) pad = 1;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const last = i + 4 === s.length;
    const vals = [0, 0, 0, 0];
    for (let j = 0; j < 4; j++) {
      const c = s.charCodeAt(i + j);
      if (last && j >= 4 - pad) {
        if (c !== 61) return undefined; // '='
        continue;
      }
      const v = c < 128 ? B64_INDEX[c]! : -1;
      if (v < 0) return undefined;
      vals[j] = v;
    }
    const n = (vals[0]! << 18) | (vals[1]! << 12) | (vals[2]! << 6) | vals[3]!;
    if (last && pad === 2) {
      if ((n & 0xffff) !== 0) return undefined;
      out[o++] = n >>> 16;
    } else if (last && pad === 1) {
      if ((n & 0xff) !== 0) return undefined;
      out[o++] = n >>> 16;
      out[o++] = (n >>> 8) & 0xff;
    } else {
      out[o++] = n >>> 16;
      out[o++] = (n >>> 8) & 0xff;
      out[o++] = n & 0xff;
    }
  }
  return out;
}

/** Lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Strict lowercase-or-uppercase hex of even length; undefined otherwise. */
export function fromHex(s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Byte-wise equality. Not constant time: use only on public data. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Small byte strings copied into shared slabs: each `copy` or `alloc` returns a view into the
 * current slab, and a fresh slab is started when it is full. Why: every `new Uint8Array` of
 * more than 64 bytes (and every `slice`) is its own off-heap ArrayBuffer, which costs a
 * native allocation, external-memory accounting and a sweep by the collector; on the ingest
 * path (several per decision) those allocations cost more than the encoding they hold
 * (bench/README.md, session 6). The price: a view keeps its whole slab alive, so keep only
 * short-lived values in slabs (a long-lived holder should copy), and a view's `.buffer` is
 * the shared slab (use `byteOffset`/`byteLength`, never transfer it).
 */
export class ByteSlab {
  readonly #size: number;
  readonly #make: (n: number) => Uint8Array;
  #slab: Uint8Array;
  #at = 0;

  /**
   * `size`: bytes per slab; requests over a quarter of it get their own buffer. `make`
   * allocates slabs (and those own buffers): a Uint8Array by default; a Node Buffer maker makes
   * every view a Buffer too (subarray keeps the class).
   */
  constructor(size = 64 * 1024, make: (n: number) => Uint8Array = (n) => new Uint8Array(n)) {
    if (!isSafeUint(size) || size < 64)
      throw new RangeError(`slab size must be an integer >= 64, got ${size}`);
    this.#size = size;
    this.#make = make;
    this.#slab = make(0);
  }

  /** `n` bytes (as `make` made them: zero-filled by default) as a view of a slab. */
  alloc(n: number): Uint8Array {
    if (n > this.#size >>> 2) return this.#make(n);
    if (this.#at + n > this.#slab.length) {
      this.#slab = this.#make(this.#size);
      this.#at = 0;
    }
    const out = this.#slab.subarray(this.#at, this.#at + n);
    this.#at = (this.#at + n + 7) & ~7; // 8-byte aligned starts
    return out;
  }

  /** A copy of `src` in a slab (so `src` may be reused by its owner). */
  copy(src: Uint8Array): Uint8Array {
    const out = this.alloc(src.length);
    out.set(src);
    return out;
  }
}

/**
 * One reusable buffer for bytes that live only during a synchronous call (the input of a
 * hash: prefix || data). `take(n)` returns a view of the first n bytes, valid until the next
 * `take`; past `max` bytes a fresh buffer is returned instead, so one huge input is not kept.
 */
export class Scratch {
  readonly #max: number;
  #buf = new Uint8Array(1024);

  constructor(max = 64 * 1024) {
    this.#max = max;
  }

  take(n: number): Uint8Array {
    if (n > this.#max) return new Uint8Array(n);
    if (n > this.#buf.length) {
      let size = this.#buf.length;
      while (size < n) size *= 2;
      this.#buf = new Uint8Array(size);
    }
    return this.#buf.subarray(0, n);
  }
}

/** Concatenation of byte strings. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 encoding of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Strict UTF-8 decoding; undefined on invalid UTF-8. */
export function fromUtf8(b: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(b);
  } catch {
    return undefined;
  }
}

/**
 * The number written by the two ASCII digits of `s` at `i`, read without a substring (the
 * caller has checked they are digits, e.g. with a regex test): the RFC 3339 readers run it for
 * every decision.
 */
export function twoDigits(s: string, i: number): number {
  return (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;
}

/** Canonical decimal (no sign, no leading zeroes) of a non-negative safe integer, or undefined. */
export function parseCanonicalDecimal(s: string): number | undefined {
  if (!isCanonicalDecimal(s)) return undefined;
  const n = Number(s);
  return isSafeUint(n) ? n : undefined;
}
