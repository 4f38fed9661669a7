/** The decision page's summary: green only when every check passed (or was replaced by one). */
import { describe, expect, test } from 'vitest';
import { verdictOf } from '../../src/console/verdict.js';
import type { Step, StepStatus } from '../../src/console/verify-steps.js';

const IDS = ['entry', 'commitment', 'leaf_hash', 'signature', 'inclusion', 'witnesses', 'consistency'];

/** Every check passed, then `changes` applied by id. */
function steps(changes: Record<string, Partial<Step> & { status?: StepStatus }> = {}): Step[] {
  return IDS.map((id) => ({ id, label: `Label ${id}`, status: 'passed', detail: '', ...changes[id] }));
}

describe('verdictOf', () => {
  test('every check passed: verified', () => {
    expect(verdictOf(steps())).toEqual({ state: 'verified', text: '✓ verified: every check passed' });
  });

  test('no witness policy pinned: neutral, says what was proven and what was not checked', () => {
    const v = verdictOf(
      steps({ witnesses: { status: 'skipped', notChecked: 'witness cosignatures (no policy pinned)' } }),
    );
    expect(v).toEqual({
      state: 'partial',
      text: '– signed by the pinned key and proven included; not checked: witness cosignatures (no policy pinned)',
    });
  });

  test('a withheld payload is neutral too, and lists every unchecked part', () => {
    const v = verdictOf(
      steps({
        commitment: { status: 'skipped', notChecked: 'the payload (withheld: no read token)' },
        witnesses: { status: 'skipped', notChecked: 'witness cosignatures (no policy pinned)' },
      }),
    );
    expect(v.state).toBe('partial');
    expect(v.text).toContain('not checked: the payload (withheld: no read token); witness cosignatures');
  });

  test('an erased payload whose erasure entry verified stays green and says the check was replaced', () => {
    const erased = {
      commitment: {
        status: 'skipped' as const,
        replacedBy: 'erasure',
        notChecked: 'the erasure check replaces the commitment check',
      },
    };
    const ok = [
      ...steps(erased),
      { id: 'erasure', label: 'Erasure entry', status: 'passed' as const, detail: '' },
    ];
    expect(verdictOf(ok)).toEqual({
      state: 'verified',
      text: '✓ verified: every check passed; the erasure check replaces the commitment check',
    });
    // Without a passed erasure check the replacement does not count.
    expect(verdictOf(steps(erased)).state).toBe('partial');
  });

  test('any failure is red, whatever else was skipped', () => {
    const v = verdictOf(
      steps({
        inclusion: { status: 'failed' },
        witnesses: { status: 'skipped', notChecked: 'witness cosignatures (no policy pinned)' },
      }),
    );
    expect(v).toEqual({ state: 'failed', text: '✗ NOT verified: 1 check failed' });
  });
});
