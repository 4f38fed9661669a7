/**
 * Where the server's time goes under the best ingest load: the server runs with
 * `node --cpu-prof`, the profile is summarised as the top functions by self time.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestOnce } from './ingest.js';
import { QUICK, RESULTS_DIR, ROOT } from './lib.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

export interface ProfileLine {
  readonly selfPercent: number;
  readonly fn: string;
}

/** Top `n` functions by self time (share of all samples, idle included). */
export function summarise(file: string, n = 20): ProfileLine[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const counts = new Map<string, number>();
  for (const s of p.samples) {
    const f = byId.get(s)!.callFrame;
    const where = f.url
      ? ` ${f.url.replace(`file://${ROOT}/`, '').replace(/^.*node_modules\//, '')}:${f.lineNumber + 1}`
      : '';
    const key = `${f.functionName || '(anonymous)'}${where}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, c]) => ({ selfPercent: Math.round((1000 * c) / p.samples.length) / 10, fn }));
}

export async function run(concurrency: number, tunables: boolean): Promise<string> {
  const data = mkdtempSync(join(tmpdir(), 'opa-tlog-prof-'));
  const profDir = mkdtempSync(join(tmpdir(), 'opa-tlog-cpuprof-'));
  try {
    const r = await ingestOnce(data, concurrency, tunables, {
      durationMs: QUICK ? 2000 : 10_000,
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    });
    // One profile per thread: CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile (thread 0 = main).
    const files = readdirSync(profDir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort((a, b) => Number(a.split('.')[4]) - Number(b.split('.')[4]));
    if (!files.length) throw new Error('the server wrote no CPU profile');
    const threads = files.map((f) => ({
      thread: Number(f.split('.')[4]) === 0 ? 'main' : `worker ${f.split('.')[4]}`,
      top: summarise(join(profDir, f)),
    }));
    const text: string[] = [];
    for (const t of threads) {
      text.push(`${t.thread} thread, top self time:`);
      for (const l of t.top) text.push(`${l.selfPercent.toFixed(1).padStart(6)} %  ${l.fn}`);
    }
    console.log(
      `\nserver CPU profile (c=${concurrency}, ${Math.round(r.decisionsPerS)} decisions/s while profiling)`,
    );
    console.log(text.join('\n'));
    writeFileSync(
      join(RESULTS_DIR, `profile${QUICK ? '.quick' : ''}.json`),
      `${JSON.stringify({ concurrency, decisions_per_s: Math.round(r.decisionsPerS), threads }, null, 2)}\n`,
    );
    return `c=${concurrency}, ${Math.round(r.decisionsPerS)} decisions/s while profiling (profiling slows the server)\n\n${text.join('\n')}`;
  } finally {
    rmSync(data, { recursive: true, force: true });
    rmSync(profDir, { recursive: true, force: true });
  }
}
