/**
 * Scale-out ingest on PostgreSQL (issue 13): a throwaway cluster on this machine (services.ts),
 * then `opa-tlog serve --store postgres://…` with its defaults (sign interval 1 s, max batch
 * 10,000), first one server on a fresh database, then two servers on another fresh database
 * (the same log.key in both data directories, as spec/scale-out.md says), with the same load
 * generator, bodies and concurrency as the best SQLite ingest of the same run. With two
 * servers the load is split: one load process per server, half the uploaders each, disjoint
 * halves of the bodies; the figure is the sum. Each load process polls its own server's
 * /checkpoint, so ack-to-checkpoint includes a follower's adoption delay (≤ ¼ period).
 * Everything (the database, the servers, the loaders) shares this machine's 2 cores: the
 * figures say what one machine does, not what a dedicated database host would.
 * Skipped with a printed reason when PostgreSQL is not installed, unless
 * OPA_TLOG_REQUIRE_POSTGRES=1.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BODY_COUNT, type IngestSummary } from './ingest.js';
import {
  type Proc,
  peakRssMb,
  QUICK,
  type Result,
  result,
  runLoad,
  startLogServer,
  TOKEN,
  writeResults,
} from './lib.js';
import type { LoadReport } from './loadgen.js';
import { bodiesFile, OPA_HEADERS } from './opa.js';
import { missing, type PgCluster, pgBin, startPgCluster } from './services.js';

const DURATION_MS = QUICK ? 4000 : 12_000;
const WARMUP_MS = QUICK ? 1000 : 2000;

/** What one PostgreSQL run (N servers on one database) measured. */
export interface PgRun {
  readonly servers: number;
  readonly decisionsPerS: number;
  readonly reports: LoadReport[];
  readonly ackP99Ms: number;
  readonly signIntervalMs: number;
  readonly rssPeakMb: number[];
}

/** Starts `servers` servers on a fresh database of `cluster` (one key), loads them, stops them. */
async function pgRun(cluster: PgCluster, servers: number, ingest: IngestSummary): Promise<PgRun> {
  const url = await cluster.createDatabase();
  const dirs = Array.from({ length: servers }, () => mkdtempSync(join(tmpdir(), 'opa-tlog-bench-pgserve-')));
  const procs: Proc[] = [];
  const extra = ['--store', url];
  try {
    procs.push(await startLogServer(dirs[0]!, { tunables: ingest.best.tunables, extra }));
    for (const d of dirs.slice(1)) {
      for (const f of ['log.key', 'log.vkey']) copyFileSync(join(dirs[0]!, f), join(d, f));
      procs.push(await startLogServer(d, { tunables: ingest.best.tunables, extra }));
    }
    const c = ingest.best.concurrency;
    const share = Math.floor(BODY_COUNT / servers);
    const reports = await Promise.all(
      procs.map((p, i) =>
        runLoad({
          url: p.url,
          method: 'POST',
          bodiesFile: bodiesFile(BODY_COUNT),
          bodyOffset: i * share,
          bodyCount: share,
          paths: ['/logs'],
          headers: { ...OPA_HEADERS, Authorization: `Bearer ${TOKEN}` },
          concurrency: Math.max(1, Math.round(c / servers)),
          durationMs: DURATION_MS,
          warmupMs: WARMUP_MS,
          pollCheckpoint: true,
        }),
      ),
    );
    for (const r of reports) {
      const bad = Object.entries(r.statuses).filter(([s]) => !s.startsWith('2'));
      if (bad.length || r.errors)
        console.log(`  warning: statuses ${JSON.stringify(r.statuses)}, ${r.errors} errors`);
      if (r.exhausted) console.log('  note: a load process used every body it had before the end');
    }
    const acks = reports.map((r) => r.ackToCheckpoint).filter((a) => a !== undefined);
    return {
      servers,
      decisionsPerS: reports.reduce((s, r) => s + r.reqPerS * ingest.eventsPerBody, 0),
      reports,
      ackP99Ms: Math.max(...acks.map((a) => a.p99Ms)),
      signIntervalMs: Math.max(...acks.map((a) => a.signIntervalMs)),
      rssPeakMb: procs.map((p) => peakRssMb(p.proc.pid!)),
    };
  } finally {
    for (const p of procs) await p.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

function describe(r: PgRun): string {
  return (
    `PostgreSQL, ${r.servers} server(s): ${Math.round(r.decisionsPerS)} decisions/s, ` +
    `upload p99 ${Math.max(...r.reports.map((x) => x.p99Ms)).toFixed(0)} ms, ack->checkpoint p99 ${r.ackP99Ms.toFixed(0)} ms, ` +
    `RSS peak ${r.rssPeakMb.map((m) => m.toFixed(0)).join('/')} MiB`
  );
}

/** The PostgreSQL rows, next to the SQLite ingest of the same run (`ingest`). */
export async function run(ingest: IngestSummary): Promise<Result[]> {
  const why = missing('postgresql', pgBin() !== undefined, 'OPA_TLOG_REQUIRE_POSTGRES');
  if (why !== undefined) {
    console.log(`postgres: ${why}`);
    return [];
  }
  const cluster = await startPgCluster();
  let one: PgRun;
  let two: PgRun;
  try {
    one = await pgRun(cluster, 1, ingest);
    console.log(describe(one));
    two = await pgRun(cluster, 2, ingest);
    console.log(describe(two));
  } finally {
    cluster.stop();
  }
  const c = ingest.best.concurrency;
  const sqlite = ingest.best.decisionsPerS;
  const results = [
    result(
      'pg_ingest_decisions_per_s_1',
      one.decisionsPerS,
      'decisions/s',
      'opa_ingest_decisions_per_s',
      sqlite,
      `1 server on PostgreSQL (same machine), c=${c}; baseline: SQLite, same run`,
    ),
    result(
      'pg_ingest_decisions_per_s_2',
      two.decisionsPerS,
      'decisions/s',
      'pg_ingest_decisions_per_s_1',
      one.decisionsPerS,
      `2 servers on one PostgreSQL, load split (c=${Math.round(c / 2)} each), sum`,
    ),
    result(
      'pg_ingest_2_vs_sqlite',
      two.decisionsPerS,
      'decisions/s',
      'opa_ingest_decisions_per_s',
      sqlite,
      'two PostgreSQL servers vs one SQLite server, same run',
    ),
    result(
      'pg_ack_to_checkpoint_p99_ms',
      one.ackP99Ms,
      'ms',
      'signer_interval_observed_ms',
      one.signIntervalMs,
      `1 server, ${one.reports[0]?.ackToCheckpoint?.samples ?? 0} acks, sign interval 1000 ms`,
    ),
    result(
      'pg_ack_to_checkpoint_p99_ms_2',
      two.ackP99Ms,
      'ms',
      'signer_interval_observed_ms',
      two.signIntervalMs,
      '2 servers, worst of the two (each polls its own server: a follower adopts every ¼ period)',
    ),
  ];
  writeResults('postgres', results, {
    concurrency: c,
    runs: [one, two].map((r) => ({
      servers: r.servers,
      decisions_per_s: Math.round(r.decisionsPerS),
      rss_peak_mb: r.rssPeakMb.map(Math.round),
      reports: r.reports,
    })),
  });
  return results;
}
