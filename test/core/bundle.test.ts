/**
 * The entry-bundle codec of src/core/bundle.ts: the reference 8-leaf bundle (§4.5), round
 * trips at the edges of the 16-bit length prefix, and every truncation refused with its code.
 */
import { describe, expect, it } from 'vitest';
import {
  BundleError,
  type BundleErrorCode,
  decodeEntryBundle,
  encodeEntryBundle,
  MAX_BUNDLE_ENTRY_SIZE,
} from '../../src/core/bundle.js';
import { toHex } from '../../src/core/bytes.js';
import { VECTOR_BUNDLE_HEX, VECTOR_LEAVES } from '../helpers/vectors.js';

function bundleError(f: () => unknown): BundleError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BundleError);
    return e as BundleError;
  }
  throw new Error('expected a BundleError, nothing was thrown');
}

function expectBundleError(f: () => unknown, code: BundleErrorCode, entry: number): void {
  const e = bundleError(f);
  expect(e.code).toBe(code);
  expect(e.entry).toBe(entry);
}

describe('entry bundles', () => {
  it('encode the reference 8-leaf bundle and decode it back', () => {
    const bundle = encodeEntryBundle(VECTOR_LEAVES);
    expect(toHex(bundle)).toBe(VECTOR_BUNDLE_HEX);
    expect(decodeEntryBundle(bundle).map(toHex)).toEqual(VECTOR_LEAVES.map(toHex));
  });

  it('round-trip empty bundles, empty entries and the largest entry', () => {
    expect(encodeEntryBundle([])).toEqual(new Uint8Array(0));
    expect(decodeEntryBundle(new Uint8Array(0))).toEqual([]);
    const big = new Uint8Array(MAX_BUNDLE_ENTRY_SIZE).fill(7);
    const entries = [new Uint8Array(0), big, Uint8Array.of(1), new Uint8Array(256).fill(2)];
    const bundle = encodeEntryBundle(entries);
    expect(bundle.subarray(2, 4)).toEqual(Uint8Array.of(0xff, 0xff));
    expect(decodeEntryBundle(bundle)).toEqual(entries);
  });

  it('refuse an entry the 16-bit prefix cannot frame', () => {
    expectBundleError(
      () => encodeEntryBundle([Uint8Array.of(1), new Uint8Array(MAX_BUNDLE_ENTRY_SIZE + 1)]),
      'entry_too_large',
      1,
    );
  });

  it('refuse every truncation of a valid bundle, at the prefix or inside an entry', () => {
    const bundle = encodeEntryBundle(VECTOR_LEAVES);
    // Offsets where each entry's prefix starts: cutting one byte into it ends inside the prefix.
    const starts: number[] = [];
    let o = 0;
    for (const e of VECTOR_LEAVES) {
      starts.push(o);
      o += 2 + e.length;
    }
    for (let cut = 1; cut < bundle.length; cut++) {
      const part = bundle.subarray(0, cut);
      if (starts.includes(cut)) {
        expect(decodeEntryBundle(part).length).toBe(starts.indexOf(cut));
        continue;
      }
      const i = starts.filter((s) => s < cut).length - 1;
      if (cut === starts[i]! + 1) {
        expectBundleError(() => decodeEntryBundle(part), 'truncated_length', i);
      } else {
        expectBundleError(() => decodeEntryBundle(part), 'truncated_entry', i);
      }
    }
  });

  it('name the entry where the bytes run out', () => {
    const e = bundleError(() => decodeEntryBundle(Uint8Array.of(0, 0, 0, 3, 1)));
    expect(e.code).toBe('truncated_entry');
    expect(e.message).toBe('entry bundle ends inside entry 1');
    expect(bundleError(() => decodeEntryBundle(Uint8Array.of(0))).message).toBe(
      'entry bundle ends inside a length prefix',
    );
  });
});
