/**
 * OPA ingest over HTTP: the real server (opa-tlog serve, default settings: synchronous=FULL,
 * max batch 10,000, max delay 2 ms, sign interval 1 s) on a fresh data directory, driven by
 * the load generator in its own process: `c` concurrent uploaders (think: c OPA instances,
 * each with one upload in flight) POSTing distinct OPA-shaped gzip bodies to /logs with OPA's
 * headers and an ingest token. Next to: the no-op hono POST server receiving the same bodies
 * at the same concurrency, and the in-process pipeline limit (pipeline.ts) on the same bodies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { floor } from './floor.js';
import {
  peakRssMb,
  QUICK,
  type Result,
  result,
  runLoad,
  startLogServer,
  startNoopServer,
  TOKEN,
  writeResults,
} from './lib.js';
import type { LoadReport } from './loadgen.js';
import { bodiesFile, cborBytesPerDecision, loadBodies, OPA_HEADERS } from './opa.js';
import { pipeline } from './pipeline.js';

export const BODY_COUNT = QUICK ? 150 : 1500;
export const CONCURRENCY = QUICK ? [4, 16] : [2, 8, 16, 32];
const DURATION_MS = QUICK ? 2000 : 12_000;
const WARMUP_MS = QUICK ? 500 : 2000;

export interface IngestRun {
  readonly concurrency: number;
  readonly tunables: boolean;
  readonly decisionsPerS: number;
  readonly report: LoadReport;
  readonly rssPeakMb: number;
}

/** Everything later parts need from this one. */
export interface IngestSummary {
  readonly best: IngestRun;
  readonly noopRssPeakMb: number;
  readonly eventsPerBody: number;
  readonly rawBytesPerEvent: number;
  /** Deterministic CBOR payload bytes per decision (what the log commits to). */
  readonly cborBytesPerEvent: number;
  /** Compressed upload bytes per decision (gzip body / its decisions). */
  readonly gzBytesPerEvent: number;
}

const headers = { ...OPA_HEADERS, Authorization: `Bearer ${TOKEN}` };

/** One load run against a log server on `data` (started and stopped here). */
export async function ingestOnce(
  data: string,
  concurrency: number,
  tunables: boolean,
  opts: { durationMs?: number; nodeArgs?: string[] } = {},
): Promise<IngestRun> {
  const { eventsPerBody } = loadBodies(BODY_COUNT);
  const server = await startLogServer(data, {
    tunables,
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
  });
  try {
    const report = await runLoad({
      url: server.url,
      method: 'POST',
      bodiesFile: bodiesFile(BODY_COUNT),
      paths: ['/logs'],
      headers,
      concurrency,
      durationMs: opts.durationMs ?? DURATION_MS,
      warmupMs: WARMUP_MS,
      pollCheckpoint: true,
    });
    const rss = peakRssMb(server.proc.pid!);
    const bad = Object.entries(report.statuses).filter(([s]) => !s.startsWith('2'));
    if (bad.length || report.errors) {
      console.log(`  warning: non-2xx answers ${JSON.stringify(report.statuses)}, ${report.errors} errors`);
    }
    if (report.exhausted) console.log('  note: the load generator used every cached body before the end');
    return { concurrency, tunables, decisionsPerS: report.reqPerS * eventsPerBody, report, rssPeakMb: rss };
  } finally {
    await server.stop();
  }
}

function fresh(): string {
  return mkdtempSync(join(tmpdir(), 'opa-tlog-ingest-'));
}

export async function run(): Promise<{ results: Result[]; summary: IngestSummary }> {
  const set = loadBodies(BODY_COUNT);
  console.log(
    `bodies: ${set.bodies.length} x ${set.eventsPerBody} decisions, ${Math.round(set.gzBytesPerBody)} B gzip, ` +
      `${Math.round(set.rawBytesPerEvent)} B JSON per decision`,
  );
  const runs: IngestRun[] = [];
  for (const c of CONCURRENCY) {
    const dir = fresh();
    try {
      const r = await ingestOnce(dir, c, true);
      runs.push(r);
      const a = r.report.ackToCheckpoint;
      console.log(
        `ingest c=${c}: ${Math.round(r.decisionsPerS)} decisions/s, upload p50 ${r.report.p50Ms.toFixed(0)} ms ` +
          `p99 ${r.report.p99Ms.toFixed(0)} ms, ack->checkpoint p99 ${a?.p99Ms.toFixed(0)} ms, RSS peak ${r.rssPeakMb.toFixed(0)} MiB`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const best = runs.reduce((a, b) => (b.decisionsPerS > a.decisionsPerS ? b : a));
  // The same best setting without the malloc tunables.
  const dir = fresh();
  let plain: IngestRun;
  try {
    plain = await ingestOnce(dir, best.concurrency, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `ingest c=${best.concurrency} without GLIBC_TUNABLES: ${Math.round(plain.decisionsPerS)} decisions/s`,
  );

  // The no-op hono POST server, same bodies, same concurrencies.
  const noop = await startNoopServer(true);
  const noopRuns = new Map<number, LoadReport>();
  let noopRss = Number.NaN;
  try {
    for (const c of CONCURRENCY) {
      const rep = await runLoad({
        url: noop.url,
        method: 'POST',
        bodiesFile: bodiesFile(BODY_COUNT),
        wrap: true,
        paths: ['/logs'],
        headers,
        concurrency: c,
        durationMs: QUICK ? 1500 : 5000,
        warmupMs: 500,
      });
      noopRuns.set(c, rep);
      console.log(`noop POST c=${c}: ${Math.round(rep.reqPerS)} req/s, p50 ${rep.p50Ms.toFixed(2)} ms`);
    }
    noopRss = peakRssMb(noop.proc.pid!);
  } finally {
    await noop.stop();
  }
  const nb = noopRuns.get(best.concurrency)!;

  const pipe = pipeline(set.bodies.slice(0, QUICK ? 40 : 300));
  console.log(
    `in-process pipeline: ${Math.round(pipe.decisionsPerS)} decisions/s; shares ${JSON.stringify(
      Object.fromEntries(Object.entries(pipe.shares).map(([k, v]) => [k, Math.round(v * 100)])),
    )} %`,
  );

  const fl = await floor(set.bodies.slice(0, QUICK ? 40 : 300));
  console.log(
    `ingest floor: ${Math.round(fl.decisionsPerS)} decisions/s through both threads ` +
      `(gunzip+JSON.parse ${Math.round(fl.parseDecisionsPerS)}/s, inserts ${Math.round(fl.insertDecisionsPerS)}/s)`,
  );
  const cbor = cborBytesPerDecision(set.bodies.slice(0, 20));

  const per = set.eventsPerBody;
  const setting = (r: IngestRun) => `c=${r.concurrency}, ${r.tunables ? 'GLIBC_TUNABLES' : 'default malloc'}`;
  const ack = best.report.ackToCheckpoint!;
  const results: Result[] = [
    result(
      'opa_ingest_decisions_per_s',
      best.decisionsPerS,
      'decisions/s',
      'noop_hono_post_decisions_per_s',
      nb.reqPerS * per,
      setting(best),
    ),
    result(
      'opa_ingest_vs_pipeline',
      best.decisionsPerS,
      'decisions/s',
      'inprocess_pipeline_decisions_per_s',
      pipe.decisionsPerS,
      `pipeline: 1 thread, ${pipe.decisions} decisions`,
    ),
    result(
      'opa_ingest_vs_floor',
      best.decisionsPerS,
      'decisions/s',
      'ingest_floor_decisions_per_s',
      fl.decisionsPerS,
      setting(best),
    ),
    result(
      'ingest_floor_decisions_per_s',
      fl.decisionsPerS,
      'decisions/s',
      'inprocess_pipeline_decisions_per_s',
      pipe.decisionsPerS,
      `${fl.decisions} decisions: gunzip+JSON.parse thread ${Math.round(fl.parseDecisionsPerS)}/s, ` +
        `insert thread (index-free table, 10k-row FULL transactions) ${Math.round(fl.insertDecisionsPerS)}/s, run together`,
    ),
    result(
      'rss_peak_mb_ingest_0',
      best.rssPeakMb,
      'MiB',
      'noop_hono_post_rss_peak_mb',
      noopRss,
      `server VmHWM at full ingest on a fresh log, ${setting(best)}`,
    ),
    result(
      'opa_ingest_upload_p50_ms',
      best.report.p50Ms,
      'ms',
      'noop_hono_post_p50_ms',
      nb.p50Ms,
      setting(best),
    ),
    result(
      'opa_ingest_upload_p99_ms',
      best.report.p99Ms,
      'ms',
      'noop_hono_post_p99_ms',
      nb.p99Ms,
      setting(best),
    ),
    result(
      'ack_to_checkpoint_p99_ms',
      ack.p99Ms,
      'ms',
      'signer_interval_observed_ms',
      ack.signIntervalMs,
      `${ack.samples} acks, poll rtt ${ack.pollRttMs.toFixed(1)} ms, sign interval 1000 ms`,
    ),
    result(
      'ack_to_checkpoint_p50_ms',
      ack.p50Ms,
      'ms',
      'signer_interval_observed_ms',
      ack.signIntervalMs,
      setting(best),
    ),
    result(
      'opa_ingest_without_tunables',
      plain.decisionsPerS,
      'decisions/s',
      'opa_ingest_decisions_per_s',
      best.decisionsPerS,
      setting(plain),
    ),
  ];
  for (const r of runs) {
    const n = noopRuns.get(r.concurrency)!;
    results.push(
      result(
        `opa_ingest_decisions_per_s_c${r.concurrency}`,
        r.decisionsPerS,
        'decisions/s',
        `noop_hono_post_decisions_per_s_c${r.concurrency}`,
        n.reqPerS * per,
        `upload p99 ${r.report.p99Ms.toFixed(0)} ms, ack->cp p99 ${r.report.ackToCheckpoint?.p99Ms.toFixed(0)} ms`,
      ),
    );
  }
  writeResults('ingest', results, {
    bodies: {
      count: set.bodies.length,
      decisions_per_body: per,
      gzip_bytes_per_body: Math.round(set.gzBytesPerBody),
      json_bytes_per_decision: Math.round(set.rawBytesPerEvent),
    },
    best_concurrency: best.concurrency,
    server:
      'opa-tlog serve defaults: synchronous FULL, max-batch 10000, max-delay-ms 2, sign-interval-ms 1000, cache-mib 16, max-queue-mib 32, dedup-window-entries 2000000',
    glibc_tunables: `GLIBC_TUNABLES=${'glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=4194304'} for server and noop (except opa_ingest_without_tunables)`,
    pipeline_shares: pipe.shares,
    floor: fl,
    cbor_bytes_per_decision: Math.round(cbor),
    runs: runs.map((r) => ({
      concurrency: r.concurrency,
      decisions_per_s: Math.round(r.decisionsPerS),
      rss_peak_mb: Math.round(r.rssPeakMb),
      ...r.report,
    })),
    noop: Object.fromEntries([...noopRuns].map(([c, r]) => [`c${c}`, r])),
  });
  return {
    results,
    summary: {
      best,
      noopRssPeakMb: noopRss,
      eventsPerBody: per,
      rawBytesPerEvent: set.rawBytesPerEvent,
      cborBytesPerEvent: cbor,
      gzBytesPerEvent: set.gzBytesPerBody / per,
    },
  };
}
