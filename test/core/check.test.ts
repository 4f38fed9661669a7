/** The shared validators of src/core/check.ts, at the edges of every range. */
import { describe, expect, it } from 'vitest';
import {
  hasLoneSurrogate,
  isByte,
  isCanonicalDecimal,
  isHash,
  isIntInRange,
  isSafeUint,
  isUint32,
  loneSurrogateIndex,
} from '../../src/core/check.js';

describe('integer validators', () => {
  it('isSafeUint accepts 0 .. 2^53 - 1 and nothing else', () => {
    for (const n of [0, 1, Number.MAX_SAFE_INTEGER]) expect(isSafeUint(n)).toBe(true);
    for (const n of [-1, 0.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, '1', 1n, null]) {
      expect(isSafeUint(n), String(n)).toBe(false);
    }
  });
  it('isIntInRange is inclusive at both ends and refuses fractions', () => {
    expect(isIntInRange(1, 1, 256)).toBe(true);
    expect(isIntInRange(256, 1, 256)).toBe(true);
    expect(isIntInRange(0, 1, 256)).toBe(false);
    expect(isIntInRange(257, 1, 256)).toBe(false);
    expect(isIntInRange(1.5, 1, 256)).toBe(false);
    expect(isIntInRange('2', 1, 256)).toBe(false);
  });
  it('isUint32 and isByte', () => {
    expect(isUint32(0xffffffff)).toBe(true);
    expect(isUint32(2 ** 32)).toBe(false);
    expect(isUint32(-1)).toBe(false);
    expect(isByte(255)).toBe(true);
    expect(isByte(256)).toBe(false);
  });
  it('isCanonicalDecimal: digits, no sign, no leading zero', () => {
    for (const s of ['0', '7', '10', '9007199254740993']) expect(isCanonicalDecimal(s), s).toBe(true);
    for (const s of ['', '00', '01', '+1', '-1', '1.0', ' 1', '1e3', '٣']) {
      expect(isCanonicalDecimal(s), s).toBe(false);
    }
  });
});

describe('isHash', () => {
  it('accepts exactly 32-byte Uint8Arrays', () => {
    expect(isHash(new Uint8Array(32))).toBe(true);
    expect(isHash(new Uint8Array(31))).toBe(false);
    expect(isHash(new Uint8Array(33))).toBe(false);
    expect(isHash(Array(32).fill(0))).toBe(false);
    expect(isHash(undefined)).toBe(false);
  });
});

describe('lone surrogates', () => {
  it('finds the first lone surrogate, high or low, and accepts pairs', () => {
    expect(loneSurrogateIndex('abc')).toBe(-1);
    expect(loneSurrogateIndex('a\ud83d\ude00b')).toBe(-1);
    expect(loneSurrogateIndex('ab\ud800')).toBe(2);
    expect(loneSurrogateIndex('a\udc00\ud800')).toBe(1);
    expect(loneSurrogateIndex('\ud800\ud800\udc00')).toBe(0);
    expect(loneSurrogateIndex('\ud800\udc00\udc00')).toBe(2);
    expect(hasLoneSurrogate('x\ud800')).toBe(true);
    expect(hasLoneSurrogate('\ud83d\ude00')).toBe(false);
  });
});
