/** Benchmark plumbing: results as ratios to a baseline measured in the same run. */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { SERVE_NODE_FLAGS } from '../src/cli/memory.js';
import type { LoadConfig, LoadReport } from './loadgen.js';

export interface Result {
  metric: string;
  value: number;
  unit: string;
  baseline_metric: string;
  baseline_value: number;
  ratio: number;
  /** Settings or sizes behind the value (e.g. concurrency, the real leaf count). */
  note?: string;
  /** The goal for this row (bench/goals.ts), e.g. "ratio >= 0.5". */
  goal?: string;
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
  note?: string,
): Result {
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    metric,
    value: round(value),
    unit,
    baseline_metric: baselineMetric,
    baseline_value: round(baselineValue),
    ratio: Math.round((value / baselineValue) * 1000) / 1000,
    ...(note !== undefined ? { note } : {}),
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
  const goals = results.some((r) => r.goal !== undefined);
  const head = ['metric', 'value', 'unit', 'baseline', 'baseline value', 'ratio', 'settings'];
  const rows = [goals ? [...head, 'goal'] : head];
  for (const r of results) {
    const row = [
      r.metric,
      String(r.value),
      r.unit,
      r.baseline_metric,
      String(r.baseline_value),
      String(r.ratio),
      r.note ?? '',
    ];
    rows.push(goals ? [...row, r.goal ?? ''] : row);
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

// ---------------------------------------------------------------- processes and machine

export const BUILD = join(ROOT, '.bench-build');
/** The server CLI as compiled by the bench build from the current src/ (same code as dist/). */
export const SERVER_CLI = join(BUILD, 'src', 'cli', 'main.js');
/** glibc malloc settings that keep an HTTP server receiving 32 KiB bodies steady (machine-limits.md). */
export const MALLOC_TUNABLES = 'glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=4194304';
export const TOKEN = 'bench-admin-token-0123456789';

export interface Proc {
  readonly url: string;
  readonly proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function env(tunables: boolean): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.GLIBC_TUNABLES;
  if (tunables) e.GLIBC_TUNABLES = MALLOC_TUNABLES;
  return e;
}

/** Most bytes of a server's output kept for error messages (the head, with its listening line, and a tail). */
const OUTPUT_KEEP = 64 * 1024;

async function spawnListening(args: string[], tunables: boolean, nodeArgs: string[] = []): Promise<Proc> {
  const proc = spawn(process.execPath, [...nodeArgs, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env(tunables),
  });
  // The server logs a line per request: keeping all of it (and matching a regex against the
  // growing text at every chunk) cost this process, on the server's own two cores, half the
  // server's read throughput. Keep the head until the listening line, then a bounded tail.
  let head = '';
  let tail = '';
  let listening = false;
  const keep = (d: Buffer) => {
    if (!listening) head += d.toString();
    else tail = (tail + d.toString()).slice(-OUTPUT_KEEP);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const out = () => (tail ? `${head}\n...\n${tail}` : head);
  const exited = new Promise<void>((res) => proc.on('exit', () => res()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start:\n${out()}`)), 120_000);
    const check = () => {
      const m = /listening on (http:\/\/[^\s]+) /.exec(head);
      if (m) {
        listening = true;
        clearTimeout(timer);
        proc.stdout!.off('data', check);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code}:\n${out()}`));
    });
  });
  return {
    url,
    proc,
    output: out,
    stop: async () => {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Starts `node SERVE_NODE_FLAGS opa-tlog serve --data DIR --port 0 --tokens admin:TOKEN ...extra` (as npm start runs it; defaults otherwise). */
export function startLogServer(
  data: string,
  opts: { tunables: boolean; extra?: string[]; nodeArgs?: string[] },
): Promise<Proc> {
  return spawnListening(
    [SERVER_CLI, 'serve', '--data', data, '--port', '0', '--tokens', `admin:${TOKEN}`, ...(opts.extra ?? [])],
    opts.tunables,
    [...SERVE_NODE_FLAGS, ...(opts.nodeArgs ?? [])],
  );
}

/** Starts the no-op hono server (noop-server.ts). */
export function startNoopServer(tunables: boolean): Promise<Proc> {
  return spawnListening([join(BUILD, 'bench', 'noop-server.js')], tunables);
}

/** Runs the load generator in its own process; resolves with its report. */
export function runLoad(cfg: LoadConfig): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const file = join(tmpdir(), `opa-tlog-load-${process.pid}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(cfg));
    const p = spawn(process.execPath, [join(BUILD, 'bench', 'loadgen.js'), file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.on('exit', (code) => {
      rmSync(file, { force: true });
      if (code !== 0) reject(new Error(`loadgen exited with ${code}: ${out}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as LoadReport);
    });
  });
}

/** The best of GET loads on `paths` at each of `concurrencies` (random reads: tiles, proofs). */
export async function bestGet(
  url: string,
  paths: string[],
  concurrencies: readonly number[],
  durationMs: number,
  headers: Readonly<Record<string, string>> = {},
): Promise<LoadReport & { concurrency: number }> {
  let best: (LoadReport & { concurrency: number }) | undefined;
  for (const c of concurrencies) {
    const r = await runLoad({
      url,
      method: 'GET',
      paths,
      headers,
      concurrency: c,
      durationMs,
      warmupMs: 500,
    });
    const bad = Object.keys(r.statuses).filter((s) => !s.startsWith('2'));
    if (bad.length) console.log(`  warning: GET ${paths[0]}: statuses ${JSON.stringify(r.statuses)}`);
    if (!best || r.reqPerS > best.reqPerS) best = { ...r, concurrency: c };
  }
  return best!;
}

/** Peak resident set (VmHWM) of a process, MiB. */
export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN;
}

/** The machine, for the results and the README. */
export function machine(): Record<string, string | number> {
  const cpu =
    /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? '?';
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync('nproc').toString().trim());
  } catch {
    // keep os.cpus()
  }
  const flags = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc,
    cpu,
    sha_ni: / sha_ni/.test(flags) ? 'yes' : 'no',
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}
