/** Benchmark plumbing: results as ratios to a baseline measured in the same run. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Result {
  metric: string;
  value: number;
  unit: string;
  baseline_metric: string;
  baseline_value: number;
  ratio: number;
}

export const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
export const ROOT = join(import.meta.dirname, '..', '..');
export const RESULTS_DIR = join(ROOT, 'bench', 'results');

export function result(
  metric: string,
  value: number,
  unit: string,
  baselineMetric: string,
  baselineValue: number,
): Result {
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    metric,
    value: round(value),
    unit,
    baseline_metric: baselineMetric,
    baseline_value: round(baselineValue),
    ratio: Math.round((value / baselineValue) * 1000) / 1000,
  };
}

export function writeResults(name: string, results: Result[], meta: Record<string, unknown> = {}): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}${QUICK ? '.quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify({ ...meta, quick: QUICK, results }, null, 2)}\n`);
  console.log(`\n${name}${QUICK ? ' (quick)' : ''} -> ${file}`);
  console.log(table(results));
}

export function table(results: Result[]): string {
  const rows = [['metric', 'value', 'unit', 'baseline', 'baseline value', 'ratio']];
  for (const r of results) {
    rows.push([
      r.metric,
      String(r.value),
      r.unit,
      r.baseline_metric,
      String(r.baseline_value),
      String(r.ratio),
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.slice(1).map(line)].join(
    '\n',
  );
}

/** OPA-shaped decision events: the shared samples if present, with fresh ids. */
export function sampleEvents(): Record<string, unknown>[] {
  const p = join(ROOT, 'test', 'fixtures', 'opa', 'upload-batch.json');
  if (existsSync(p)) return JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>[];
  return Array.from({ length: 50 }, (_, i) => ({
    labels: { id: 'bench', version: '1.4.2' },
    decision_id: `d${i}`,
    path: 'http/authz/allow',
    input: { method: 'GET', path: `/api/v1/orders/${i}`, user: 'alice', roles: ['admin'] },
    result: true,
    timestamp: '2025-06-10T14:03:07.324469575Z',
    metrics: { timer_rego_query_eval_ns: 270493 },
  }));
}

/** A cheap unique id per event (UUID-shaped, random like OPA's decision ids). */
export function randomId(): string {
  return crypto.randomUUID();
}

export function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
