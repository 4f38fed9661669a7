/**
 * The overview: origin, key fingerprint, verified tree size and the age of the latest
 * checkpoint, the cosigning witnesses and the quorum, and charts of decisions per second and
 * tree size over the last hour. Refreshed every 5 s; each refresh verifies the new checkpoint
 * and proves it consistent with the newest one this browser saw (a refusal stops the page).
 */
import { type CheckpointCheck, type LogClient, VerifyError } from '../client/index.js';
import { decodeCosignatureV1 } from '../core/cosignature.js';
import { parseNote } from '../core/note.js';
import { lineChart } from './chart.js';
import { h, replace } from './dom.js';
import { ago, fingerprint, isoTime } from './format.js';
import { pinnedKey } from './settings.js';
import { fetchStats, refusalBox, refusalOf, type Stats } from './trust.js';

/** Where the overview draws, and what it reads. */
export interface OverviewDeps {
  readonly client: LogClient;
  readonly logUrl: string;
  readonly root: HTMLElement;
}

/** Renders the overview into `deps.root` and refreshes it until the returned stop is called. */
export function showOverview(deps: OverviewDeps): () => void {
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try {
      const [check, stats] = await Promise.all([deps.client.update(), fetchStats(deps.client.http)]);
      if (!stopped) replace(deps.root, overview(deps, check, stats));
    } catch (err) {
      if (stopped) return;
      if (!(err instanceof VerifyError)) throw err;
      if (err.code === 'network' || err.code === 'unauthorized') {
        replace(deps.root, h('p', { class: 'warn', role: 'status' }, `Cannot read the log: ${err.message}`));
        return;
      }
      stopped = true;
      replace(deps.root, refusalBox('The log’s checkpoint was refused', refusalOf(err), deps.logUrl));
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), 5000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

function row(label: string, value: string | HTMLElement, id?: string): HTMLElement[] {
  return [h('dt', null, label), h('dd', id ? { id } : null, value)];
}

function overview(deps: OverviewDeps, check: CheckpointCheck, stats: Stats | undefined): HTMLElement {
  const cp = check.checkpoint.checkpoint;
  const vkey = pinnedKey(deps.logUrl) ?? '';
  const age = stats ? ago(stats.now - stats.checkpoint_signed_at) : 'unknown';
  const seen =
    check.status === 'first_use'
      ? 'first visit: this checkpoint is now the one this browser remembers'
      : `consistent with the checkpoint of size ${check.trusted?.checkpoint.size} seen before (${check.status})`;
  return h(
    'div',
    null,
    h('h1', null, 'Overview'),
    h(
      'dl',
      { class: 'facts', 'aria-label': 'Log facts' },
      row('Origin', cp.origin),
      row('Pinned key', h('code', { title: vkey }, fingerprint(vkey))),
      row('Tree size', cp.size.toLocaleString('en'), 'tree-size'),
      row('Latest checkpoint', `${age} (verified with the pinned key)`),
      row('Consistency', seen),
      stats ? row('Committed, not yet signed', String(stats.committed_size - stats.tree_size)) : null,
    ),
    witnesses(deps.client, check),
    stats ? charts(stats) : h('p', { class: 'muted' }, 'This log serves no /v1/stats: no history.'),
  );
}

function witnesses(client: LogClient, check: CheckpointCheck): HTMLElement {
  const note = check.checkpoint.note;
  const origin = check.checkpoint.checkpoint.origin;
  const lines = parseNote(note).signatures.filter((s) => s.name !== origin);
  const policy = client.trust.policy;
  const verified = new Set(check.checkpoint.witnesses);
  const items = lines.map((s) => {
    const cosig = decodeCosignatureV1(s.sig);
    const when = cosig ? isoTime(Number(cosig.timestamp) * 1000) : 'not a cosignature/v1';
    const name = policy
      ? [...policy.witnesses.values()].find((w) => w.verifier.name === s.name)?.name
      : undefined;
    const status = name !== undefined && verified.has(name) ? 'verified' : 'not checked';
    return h('li', null, `${s.name}: cosigned ${when} (${status})`);
  });
  return h(
    'section',
    { 'aria-labelledby': 'witness-title' },
    h('h2', { id: 'witness-title' }, 'Witnesses'),
    items.length ? h('ul', null, items) : h('p', null, 'No witness cosignatures on the latest checkpoint.'),
    h(
      'p',
      { class: policy ? 'ok' : 'muted' },
      policy
        ? `Quorum "${policy.quorum}" holds for the latest checkpoint (checked in this browser).`
        : 'No witness policy pinned: cosignatures are listed but not checked (pin one in Settings).',
    ),
  );
}

/** The sampled history plus the answer's own sizes as the newest point (samples lag by seconds). */
function series(stats: Stats): (readonly [number, number, number])[] {
  const s = [...stats.samples];
  const last = s.at(-1);
  if (last === undefined || stats.now > last[0]) s.push([stats.now, stats.committed_size, stats.tree_size]);
  return s;
}

function charts(stats: Stats): HTMLElement {
  const s = series(stats);
  const rate: [number, number][] = [];
  for (let i = 1; i < s.length; i++) {
    const dt = (s[i]![0] - s[i - 1]![0]) / 1000;
    if (dt > 0) rate.push([s[i]![0], (s[i]![1] - s[i - 1]![1]) / dt]);
  }
  return h(
    'section',
    { class: 'charts', 'aria-labelledby': 'charts-title' },
    h('h2', { id: 'charts-title' }, 'Last hour'),
    lineChart('Decisions per second', rate, '/s'),
    lineChart(
      'Tree size',
      s.map((x) => [x[0], x[2]] as const),
      'leaves',
    ),
  );
}
