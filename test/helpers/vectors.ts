/** Published test data shared by several test files (reference §1.8: transparency-dev/merkle). */
import { fromHex } from '../../src/core/bytes.js';

/** Strict hex to bytes; throws on malformed hex (a typo in a vector must fail loudly). */
export const unhex = (s: string): Uint8Array => {
  const b = fromHex(s);
  if (!b) throw new Error(`bad hex ${s}`);
  return b;
};

/** The eight leaves (entry bytes) of the reference 8-leaf tree. */
export const VECTOR_LEAVES: readonly Uint8Array[] = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(unhex);
