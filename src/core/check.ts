/**
 * Validators shared by the core (and by the layers above it): integers in the ranges the
 * formats use, and strings that UTF-8 can carry. Each returns a boolean or an offset and throws
 * nothing, so that every caller raises its own error, with its own code and message.
 */
import { HASH_SIZE } from './hash.js';

/**
 * True iff `n` is a non-negative safe integer (0 .. 2^53 - 1): a tree size, a leaf index, a
 * count. Sizes never exceed 2^53 so that all index math stays exact in JavaScript numbers.
 */
export function isSafeUint(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** True iff `n` is an integer in [lo, hi] (both inclusive). */
export function isIntInRange(n: unknown, lo: number, hi: number): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= hi;
}

/** True iff `n` is an integer in [0, 2^32 - 1] (a signed-note key ID). */
export function isUint32(n: unknown): n is number {
  return isIntInRange(n, 0, 0xffffffff);
}

/** True iff `n` is an integer in [0, 255] (a signature type byte). */
export function isByte(n: unknown): n is number {
  return isIntInRange(n, 0, 0xff);
}

const CANONICAL_DECIMAL = /^(0|[1-9][0-9]*)$/;

/**
 * True iff `s` is a canonical decimal: digits only, no sign, no leading zero (except "0").
 * Says nothing about its magnitude; pair with {@link isSafeUint} on `Number(s)`.
 */
export function isCanonicalDecimal(s: string): boolean {
  return CANONICAL_DECIMAL.test(s);
}

// A high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Offset of the first lone UTF-16 surrogate in `s`, or -1. A string holding one is not valid
 * Unicode and has no UTF-8 encoding, so every format that commits to text bytes refuses it.
 */
export function loneSurrogateIndex(s: string): number {
  return s.search(LONE_SURROGATE);
}

/** True iff `s` holds a lone UTF-16 surrogate (see {@link loneSurrogateIndex}). */
export function hasLoneSurrogate(s: string): boolean {
  return LONE_SURROGATE.test(s);
}

/** True iff `h` is a Uint8Array of exactly {@link HASH_SIZE} (32) bytes: a SHA-256 hash. */
export function isHash(h: unknown): boolean {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}
