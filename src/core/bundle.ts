/**
 * C2SP tlog-tiles entry bundles (`tile/entries/<N>[.p/<W>]`): the entries of up to 256
 * consecutive leaves, each written as a 16-bit big-endian length followed by the entry bytes.
 * The one codec for the format: the log writes bundles with it, the client and the tests read
 * them with it. Pure. Paths are in `tiles.ts`; how many entries a bundle must hold follows from
 * its path and is the reader's check, not the codec's.
 */

/** Largest entry a bundle can frame: its length must fit the 16-bit prefix. */
export const MAX_BUNDLE_ENTRY_SIZE = 0xffff;

/** Stable machine-readable reasons for a {@link BundleError}. */
export type BundleErrorCode =
  /** An entry is longer than {@link MAX_BUNDLE_ENTRY_SIZE} bytes (encoding only). */
  | 'entry_too_large'
  /** The bytes end inside a 2-byte length prefix. */
  | 'truncated_length'
  /** The bytes end inside an entry: its length prefix promises more than is left. */
  | 'truncated_entry';

/** Error thrown by the entry-bundle codec; `entry` is the 0-based position of the entry concerned. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
  readonly code: BundleErrorCode;
  readonly entry: number;

  constructor(code: BundleErrorCode, entry: number, message: string) {
    super(message);
    this.code = code;
    this.entry = entry;
  }
}

/**
 * The entry bundle of `entries`, in order: `uint16 BE length || entry` for each. Throws
 * entry_too_large for an entry the prefix cannot frame, so a bundle always parses back
 * ({@link decodeEntryBundle}) to exactly the entries given.
 */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const [i, e] of entries.entries()) {
    if (e.length > MAX_BUNDLE_ENTRY_SIZE) {
      throw new BundleError(
        'entry_too_large',
        i,
        `entry ${i} is ${e.length} bytes, more than ${MAX_BUNDLE_ENTRY_SIZE}`,
      );
    }
    n += 2 + e.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const e of entries) {
    out[o] = e.length >>> 8;
    out[o + 1] = e.length & 0xff;
    out.set(e, o + 2);
    o += 2 + e.length;
  }
  return out;
}

/**
 * Splits an entry bundle into its entries (views into `data`, not copies). Strict framing: the
 * bytes must be exactly a sequence of length-prefixed entries, so truncation anywhere throws
 * (truncated_length or truncated_entry). Zero-length entries are valid. Proves only framing:
 * the entries are authenticated by hashing them into a root the caller trusts.
 */
export function decodeEntryBundle(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 0;
  while (o < data.length) {
    if (o + 2 > data.length) {
      throw new BundleError('truncated_length', out.length, 'entry bundle ends inside a length prefix');
    }
    const n = (data[o]! << 8) | data[o + 1]!;
    if (o + 2 + n > data.length) {
      throw new BundleError('truncated_entry', out.length, `entry bundle ends inside entry ${out.length}`);
    }
    out.push(data.subarray(o + 2, o + 2 + n));
    o += 2 + n;
  }
  return out;
}
