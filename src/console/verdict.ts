/**
 * The decision page's summary line, from the outcomes of its checks. Three states, so a green
 * tick always means the same thing: "verified" (green) only when every check passed, "partly
 * verified" (neutral) when nothing failed but some check did not run (no witness policy pinned,
 * payload withheld without a read token), "NOT verified" (red) when any check failed. The one
 * skipped check that stays green is one another passed check stands in for: the commitment of
 * an erased payload, replaced by the erasure check (the summary says so).
 */
import type { Step } from './verify-steps.js';

/** The state of the summary line. */
export type VerdictState = 'verified' | 'partial' | 'failed';

/** The summary line: its state and its text. */
export interface Verdict {
  readonly state: VerdictState;
  readonly text: string;
}

/** True when `s` passed, or was skipped in favour of a check that passed. */
function accountedFor(s: Step, steps: readonly Step[]): boolean {
  if (s.status === 'passed') return true;
  if (s.status !== 'skipped' || s.replacedBy === undefined) return false;
  return steps.some((x) => x.id === s.replacedBy && x.status === 'passed');
}

/** What the passed checks prove, for the neutral line ("signed … and proven included"). */
function proven(steps: readonly Step[]): string {
  const ok = (id: string) => steps.some((s) => s.id === id && s.status === 'passed');
  const parts = [
    ok('signature') ? 'signed by the pinned key' : '',
    ok('inclusion') ? 'proven included' : '',
  ].filter((p) => p !== '');
  return parts.length > 0 ? parts.join(' and ') : 'some checks passed';
}

/**
 * The verdict on `steps`: 'failed' if any failed; 'verified' if every one passed or was
 * replaced by a passed one (the text names the replacement); otherwise 'partial', whose text
 * says what was proven and lists each check that was not (with its `notChecked` reason).
 */
export function verdictOf(steps: readonly Step[]): Verdict {
  const failed = steps.filter((s) => s.status === 'failed').length;
  if (failed > 0) {
    return { state: 'failed', text: `✗ NOT verified: ${failed} check${failed > 1 ? 's' : ''} failed` };
  }
  const open = steps.filter((s) => !accountedFor(s, steps));
  if (open.length === 0) {
    const replaced = steps.filter((s) => s.status === 'skipped');
    const why = replaced.map((s) => `; ${s.notChecked ?? s.label}`).join('');
    return { state: 'verified', text: `✓ verified: every check passed${why}` };
  }
  const missing = open.map((s) => s.notChecked ?? s.label.toLowerCase()).join('; ');
  return { state: 'partial', text: `– ${proven(steps)}; not checked: ${missing}` };
}
