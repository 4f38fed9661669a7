/**
 * Runs every benchmark: `npm run bench` (full) or `npm run bench:quick` (same table, small
 * sizes). Prints the combined table, writes bench/results/summary[.quick].json and, for a full
 * run, the generated section of bench/README.md.
 * `--only=append,ingest,growth,profile,postgres,mirror` runs a subset (growth, profile and
 * postgres run ingest first: they reuse its best setting and compare with it).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run as append } from './append.js';
import { withGoals } from './goals.js';
import { run as growth } from './growth.js';
import { CONCURRENCY, run as ingest } from './ingest.js';
import { machine, QUICK, RESULTS_DIR, type Result, ROOT, table } from './lib.js';
import { run as mirror } from './mirror.js';
import { run as postgres } from './postgres.js';
import { run as profile } from './profile.js';

const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const want = (part: string) => only === undefined || only.includes(part);
const started = Date.now();
const all: Result[] = [];

if (want('append')) all.push(...(await append()));
const needsIngest = ['ingest', 'growth', 'profile', 'postgres'].some(want);
const ing = needsIngest ? await ingest() : undefined;
if (ing) all.push(...ing.results);
if (want('growth') && ing) all.push(...(await growth(ing.summary)));
if (want('postgres') && ing) all.push(...(await postgres(ing.summary)));
if (want('mirror')) all.push(...(await mirror(ing?.summary)));
// The profile runs in full runs (and with --only=profile), not in quick ones.
const prof =
  ((!QUICK && only === undefined) || only?.includes('profile') === true) && ing
    ? await profile(ing.summary.best.concurrency, ing.summary.best.tunables)
    : undefined;

const minutes = (Date.now() - started) / 60_000;
const m = machine();
const order = [
  'opa_ingest_decisions_per_s',
  'opa_ingest_vs_floor',
  'ingest_floor_decisions_per_s',
  'append_entries_per_s',
  'ack_to_checkpoint_p99_ms',
  'inclusion_proofs_per_s',
  'tile_gets_per_s',
  'entry_bundle_gets_per_s',
  'entry_bundle_gets_per_s_identity',
  'rss_peak_mb',
  'rss_peak_mb_ingest_0',
  'disk_bytes_per_decision',
  'disk_bytes_per_decision_in_use',
  'disk_bytes_per_decision_vs_gzip_upload',
  'startup_ms_10m',
  'client_verifications_per_s',
  'ingest_10m_vs_0',
  'inclusion_proof_p99_ms_10m_vs_0',
  'pg_ingest_decisions_per_s_1',
  'pg_ingest_decisions_per_s_2',
  'pg_ack_to_checkpoint_p99_ms',
  'nginx_tile_gets_per_s',
];
const goaled = withGoals(all);
const headline = order
  .map((k) => goaled.find((r) => r.metric === k))
  .filter((r): r is Result => r !== undefined);
const rest = goaled.filter((r) => !order.includes(r.metric) && r.metric !== 'append_entries_per_s');
const combined = [...headline, ...rest];
const projections = combined.filter((r) => r.metric.includes('_projected_'));
writeFileSync(
  join(RESULTS_DIR, `summary${QUICK ? '.quick' : ''}.json`),
  `${JSON.stringify({ machine: m, minutes: Math.round(minutes * 10) / 10, date: new Date().toISOString(), quick: QUICK, results: combined }, null, 2)}\n`,
);
console.log(
  `\n== opa-tlog benchmarks${QUICK ? ' (quick)' : ''}: ${minutes.toFixed(1)} min on ${JSON.stringify(m)}`,
);
console.log(table(combined));

if (!QUICK && only === undefined) {
  const readme = join(ROOT, 'bench', 'README.md');
  const BEGIN = '<!-- bench:begin (written by npm run bench) -->';
  const END = '<!-- bench:end -->';
  const body = [
    BEGIN,
    `Latest full run: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${minutes.toFixed(1)} min.`,
    `Machine: ${m.nproc} vCPU ${m.cpu} (SHA-NI ${m.sha_ni}), ${m.memory_gib} GiB RAM, Node ${m.node}.`,
    `Ingest concurrencies tried: ${CONCURRENCY.join(', ')}; best: ${ing?.summary.best.concurrency}.`,
    '',
    table(headline),
    '',
    'All rows:',
    '',
    table(combined),
    '',
    ...(projections.length > 0
      ? [
          'Growth fit (bench/fit.ts: least squares of y = a + b·log10(n) and of y = a·n^b on the 0 / 1M / 10M points,',
          'n = mean leaves during each measurement; the smaller relative residual is kept). Projections, not measurements:',
          '',
          ...projections.map((r) => `- ${r.metric}: ${r.value} ${r.unit} (${r.note ?? ''})`),
          '',
        ]
      : []),
    ...(prof
      ? ['Server CPU profile under the best ingest load (`node --cpu-prof`):', '', '```', prof, '```', '']
      : []),
    END,
  ].join('\n');
  const old = existsSync(readme) ? readFileSync(readme, 'utf8') : `# Benchmarks\n\n${BEGIN}\n${END}\n`;
  const a = old.indexOf(BEGIN);
  const b = old.indexOf(END);
  const next = a >= 0 && b > a ? old.slice(0, a) + body + old.slice(b + END.length) : `${old}\n${body}\n`;
  writeFileSync(readme, next);
  console.log(`\nwrote ${readme}`);
}
