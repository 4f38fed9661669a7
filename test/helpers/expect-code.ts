/**
 * Assertions on coded errors, shared by the core tests: what a function threw, its stable
 * `code`, and for the signed-note family (notes, checkpoints, cosignatures, policies) that the
 * error is a NoteError of the subclass owning that code.
 */
import { expect } from 'vitest';
import { CheckpointError, type CheckpointErrorCode } from '../../src/core/checkpoint.js';
import { CosignatureError, type CosignatureErrorCode } from '../../src/core/cosignature.js';
import { NoteError, type NoteErrorCode } from '../../src/core/note.js';
import { PolicyError, type PolicyErrorCode } from '../../src/core/policy.js';

/** Every code of the signed-note family. */
export type SignedNoteErrorCode =
  | NoteErrorCode
  | CheckpointErrorCode
  | CosignatureErrorCode
  | PolicyErrorCode;

/** What `f` threw; fails the test if it returned normally. */
export function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, nothing was thrown');
}

/**
 * The code of the `cls` error `f` throws, or undefined if it throws nothing; any other error is
 * rethrown (so a wrong error class fails the test instead of passing as "no code").
 */
export function errorCodeOf<C extends string>(
  f: () => unknown,
  cls: abstract new (...args: never[]) => { code: C },
): C | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof cls) return e.code;
    throw e;
  }
  return undefined;
}

/** The NoteError `f` throws (fails the test otherwise). */
export function noteErrorOf(f: () => unknown): NoteError<SignedNoteErrorCode> {
  const e = thrownBy(f);
  expect(e).toBeInstanceOf(NoteError);
  return e as NoteError<SignedNoteErrorCode>;
}

const OWNER: Record<SignedNoteErrorCode, abstract new (...args: never[]) => Error> = {
  malformed_note: NoteError,
  invalid_signature: NoteError,
  unverified_note: NoteError,
  invalid_key: NoteError,
  ambiguous_key: NoteError,
  invalid_signer: NoteError,
  malformed_checkpoint: CheckpointError,
  origin_mismatch: CheckpointError,
  malformed_cosignature: CosignatureError,
  malformed_policy: PolicyError,
  unknown_log: PolicyError,
  policy_unsatisfied: PolicyError,
};

/**
 * Asserts that `f` throws a NoteError with exactly `code`, of the class owning that code, with a
 * message matching `message` if given; returns the error for further checks.
 */
export function expectCode(
  f: () => unknown,
  code: SignedNoteErrorCode,
  message?: string | RegExp,
): NoteError<SignedNoteErrorCode> {
  const e = noteErrorOf(f);
  expect(e.code).toBe(code);
  expect(e).toBeInstanceOf(OWNER[code]);
  if (message !== undefined) expect(e.message).toMatch(message);
  return e;
}
