/**
 * The decision page (`/decisions/{id}[?source=]`, `/entries/{index}`): runs every check of
 * verify-steps.ts in the page and shows each outcome, a summary that says "verified" only when
 * all passed, the event pretty-printed (or the erasure that removed it), a download of the C2SP
 * tlog-proof file for `opa-tlog verify proof`, and on failure the red refusal with evidence.
 */
import { type LogClient, VerifyError } from '../client/index.js';
import { MAX_JSON_RESPONSE_BYTES } from '../core/response-caps.js';
import { download, h, replace } from './dom.js';
import { prettyJson } from './format.js';
import { readToken } from './settings.js';
import { refusalBox, refusalOf } from './trust.js';
import {
  checkLookup,
  fetchLookup,
  type LookupCheck,
  type LookupTarget,
  lookupPath,
  type Step,
} from './verify-steps.js';

/** What the decision page needs from the shell. */
export interface DecisionDeps {
  readonly client: LogClient;
  readonly logUrl: string;
  readonly root: HTMLElement;
}

const ICON: Record<Step['status'], string> = { passed: '✓', failed: '✗', skipped: '–' };

/** Loads, verifies and renders the decision or entry `t` into `deps.root`. */
export async function showDecision(deps: DecisionDeps, t: LookupTarget): Promise<void> {
  const title = t.index !== undefined ? `Entry ${t.index}` : `Decision ${t.id}`;
  replace(deps.root, h('h1', null, title), h('p', { role: 'status' }, 'Verifying in this browser…'));
  let check: LookupCheck;
  try {
    const { response, claimedLeafHash } = await fetchLookup(deps.client, t, readToken());
    check = await checkLookup(deps.client, response, claimedLeafHash, t);
  } catch (err) {
    if (!(err instanceof VerifyError)) throw err;
    const box =
      err.code === 'not_found' || err.code === 'network' || err.code === 'unauthorized'
        ? h('p', { class: 'warn', role: 'alert' }, err.message)
        : refusalBox('The log’s answer was refused', refusalOf(err), deps.logUrl);
    replace(deps.root, h('h1', null, title), box);
    return;
  }
  replace(deps.root, h('h1', null, title), ...body(deps, t, check));
}

const SUMMARY_CLASS: Record<LookupCheck['verdict']['state'], string> = {
  verified: 'summary ok',
  partial: 'summary partial',
  failed: 'summary bad',
};

/** The summary line (verdict.ts): green, neutral or red; announced to screen readers. */
function summary(check: LookupCheck): HTMLElement {
  const { state, text } = check.verdict;
  return h('p', { id: 'summary', class: SUMMARY_CLASS[state], role: 'status', 'aria-live': 'polite' }, text);
}

function body(deps: DecisionDeps, t: LookupTarget, check: LookupCheck): HTMLElement[] {
  const out: HTMLElement[] = [summary(check)];
  if (check.refusal) out.push(refusalBox('Verification failed', refusalOf(check.refusal), deps.logUrl));
  out.push(
    h(
      'section',
      { 'aria-labelledby': 'checks-title' },
      h('h2', { id: 'checks-title' }, 'Checks (run in this browser)'),
      h(
        'ol',
        { class: 'checks', id: 'checks' },
        check.steps.map((s) =>
          h(
            'li',
            { class: `step ${s.status}`, 'data-step': s.id, 'data-status': s.status },
            h('span', { class: 'icon', 'aria-hidden': 'true' }, ICON[s.status]),
            h('strong', null, s.label),
            h('span', { class: 'visually-hidden' }, `: ${s.status}`),
            h('span', { class: 'detail' }, s.detail),
          ),
        ),
      ),
    ),
  );
  if (check.erasure) {
    out.push(
      h(
        'section',
        { class: 'erasure', id: 'erasure', 'aria-labelledby': 'erasure-title' },
        h('h2', { id: 'erasure-title' }, 'Payload erased'),
        h(
          'p',
          null,
          `Erased by entry ${check.erasure.index}. Reason: ${check.erasure.reason || '(none given)'}.`,
        ),
        h('p', null, 'The leaf stays in the log: its inclusion proof still verifies.'),
      ),
    );
  }
  out.push(proofSection(deps, t, check));
  if (check.event !== undefined) {
    out.push(
      h(
        'section',
        { 'aria-labelledby': 'event-title' },
        h('h2', { id: 'event-title' }, 'Event (decoded from the verified payload)'),
        h(
          'pre',
          { class: 'event', id: 'event', tabindex: 0, 'aria-labelledby': 'event-title' },
          prettyJson(check.event),
        ),
      ),
    );
  }
  return out;
}

function proofSection(deps: DecisionDeps, t: LookupTarget, check: LookupCheck): HTMLElement {
  const name = `${t.index !== undefined ? `entry-${t.index}` : `decision-${t.id}`}.tlog-proof`.replace(
    /[^\w.-]/g,
    '_',
  );
  const get = async () => {
    const path = lookupPath(t).replace(/(\?|$)/, '/tlog-proof$1');
    download(name, await deps.client.http.text(path, MAX_JSON_RESPONSE_BYTES), 'text/plain');
  };
  return h(
    'section',
    { 'aria-labelledby': 'proof-title' },
    h('h2', { id: 'proof-title' }, 'Offline proof'),
    h(
      'p',
      null,
      `Entry ${check.response.index}, checkpoint of size ${check.checkpoint?.checkpoint.size ?? '?'}.`,
    ),
    h(
      'button',
      { type: 'button', id: 'download-proof', onclick: () => void get() },
      'Download the tlog-proof file',
    ),
    h('p', { class: 'muted' }, h('code', null, `opa-tlog verify proof ${name} --vkey <pinned key>`)),
  );
}
