/** Assertion helper for Merkle tests. */
import { expect } from 'vitest';
import { MerkleError } from '../../src/core/merkle.js';

/** Asserts that `fn` throws a MerkleError with exactly `code`. */
export function expectMerkleError(fn: () => unknown, code: MerkleError['code']): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error(`expected MerkleError(${code}), nothing was thrown`);
  expect(thrown).toBeInstanceOf(MerkleError);
  expect((thrown as MerkleError).code).toBe(code);
}
