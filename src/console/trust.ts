/**
 * Trust on first use, made visible: the first visit shows the key the log presents and asks
 * the reader to pin it (or takes it from `?vkey=`); afterwards every check uses the pinned key
 * only. A changed key, a failed proof or an inconsistent checkpoint becomes a red refusal
 * whose evidence (the VerifyError's notes, proofs, URLs) downloads as a JSON file.
 */
import {
  type Evidence,
  type HttpSource,
  LocalStorageStateStore,
  LogClient,
  VerifyError,
} from '../client/index.js';
import { MAX_JSON_RESPONSE_BYTES } from '../core/response-caps.js';
import { download, h } from './dom.js';
import { fingerprint, isoTime } from './format.js';
import { type ConsoleEnv, pinKey, pinnedKey, pinnedPolicy } from './settings.js';

/** The answer of `GET /v1/stats` (absent on logs that do not serve it). */
export interface Stats {
  readonly origin: string;
  readonly vkey: string | null;
  readonly committed_size: number;
  readonly tree_size: number;
  readonly checkpoint_signed_at: number;
  readonly now: number;
  readonly samples: readonly (readonly [number, number, number])[];
}

/** Fetches `/v1/stats`; undefined if the log does not serve it (or answers nonsense). */
export async function fetchStats(api: HttpSource): Promise<Stats | undefined> {
  try {
    const s = (await api.json('v1/stats', MAX_JSON_RESPONSE_BYTES)) as Stats;
    return typeof s?.tree_size === 'number' && Array.isArray(s.samples) ? s : undefined;
  } catch {
    return undefined;
  }
}

/** A refusal to show and to download. */
export interface Refusal {
  readonly code: string;
  readonly message: string;
  readonly evidence: Evidence | Record<string, unknown>;
}

/** A refusal from a VerifyError. */
export function refusalOf(err: VerifyError): Refusal {
  return { code: err.code, message: err.message, evidence: err.evidence };
}

/** The red, unmissable refusal box with the evidence and its download button. */
export function refusalBox(title: string, r: Refusal, logUrl: string): HTMLElement {
  const file = {
    refused: r.code,
    message: r.message,
    log: logUrl,
    pinned_vkey: pinnedKey(logUrl) ?? null,
    time: isoTime(Date.now()),
    evidence: r.evidence,
  };
  const text = `${JSON.stringify(file, null, 2)}\n`;
  return h(
    'section',
    { class: 'refusal', role: 'alert', 'aria-labelledby': 'refusal-title' },
    h('h2', { id: 'refusal-title' }, `✗ ${title}`),
    h('p', null, h('strong', null, r.code), `: ${r.message}`),
    h(
      'button',
      {
        type: 'button',
        onclick: () => download(`opa-tlog-evidence-${r.code}-${Date.now()}.json`, text, 'application/json'),
      },
      'Download the evidence (JSON)',
    ),
    h(
      'details',
      null,
      h('summary', null, 'Evidence'),
      // Focusable so the keyboard can scroll it.
      h('pre', { class: 'evidence', tabindex: 0, 'aria-label': 'Evidence (JSON)' }, text),
    ),
  );
}

/** The result of establishing trust: a client, or an element to show instead. */
export type TrustOutcome = { client: LogClient } | { show: HTMLElement };

/**
 * Decides which key to trust for `logUrl`: the pinned one (a different `?vkey=` or a different
 * key presented by the log is a refusal), else `?vkey=` (pinned now), else a prompt to pin the
 * key the log presents. `rerender` runs after the reader pins a key.
 */
export function establishTrust(
  env: ConsoleEnv,
  logUrl: string,
  stats: Stats | undefined,
  rerender: () => void,
): TrustOutcome {
  let pinned = pinnedKey(logUrl);
  if (env.vkeyParam !== undefined) {
    if (pinned === undefined) {
      pinKey(logUrl, env.vkeyParam);
      pinned = env.vkeyParam;
    } else if (pinned !== env.vkeyParam) {
      return { show: keyChanged(logUrl, pinned, env.vkeyParam, 'the ?vkey= of this page') };
    }
  }
  if (pinned === undefined) return { show: pinPrompt(logUrl, stats, rerender) };
  if (stats?.vkey && stats.vkey !== pinned)
    return { show: keyChanged(logUrl, pinned, stats.vkey, 'the log') };
  try {
    const policy = pinnedPolicy(logUrl);
    const client = new LogClient({
      url: logUrl,
      vkey: pinned,
      ...(policy !== undefined ? { policy } : {}),
      store: new LocalStorageStateStore(),
    });
    return { client };
  } catch (err) {
    if (!(err instanceof VerifyError)) throw err;
    return { show: refusalBox('The pinned key or policy is unusable', refusalOf(err), logUrl) };
  }
}

function keyChanged(logUrl: string, pinned: string, presented: string, by: string): HTMLElement {
  return refusalBox(
    'The log key changed',
    {
      code: 'key_changed',
      message: `${by} presents key ${fingerprint(presented)}, but this browser pinned ${fingerprint(pinned)}. Nothing is verified against an unpinned key; unpin it in Settings only if the operator announced a key rotation.`,
      evidence: { pinned, presented, presented_by: by },
    },
    logUrl,
  );
}

function pinPrompt(logUrl: string, stats: Stats | undefined, rerender: () => void): HTMLElement {
  const input = h('input', {
    id: 'vkey-input',
    type: 'text',
    value: stats?.vkey ?? '',
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-describedby': 'vkey-help',
  });
  const pin = (ev: Event) => {
    ev.preventDefault();
    const v = input.value.trim();
    if (v === '') return;
    pinKey(logUrl, v);
    rerender();
  };
  return h(
    'section',
    { class: 'pin', 'aria-labelledby': 'pin-title' },
    h('h2', { id: 'pin-title' }, 'Pin the log key (trust on first use)'),
    h(
      'p',
      { id: 'vkey-help' },
      stats?.vkey
        ? `This log presents the key ${fingerprint(stats.vkey)}. Compare it with the key its operator published, then pin it: from now on, this browser verifies everything against it and refuses any other key.`
        : 'This log does not present its key: paste the verifier key its operator published.',
    ),
    h(
      'form',
      { onsubmit: pin },
      h('label', { for: 'vkey-input' }, 'Verifier key'),
      input,
      h('button', { type: 'submit', id: 'pin-button' }, 'Pin this key'),
    ),
  );
}
