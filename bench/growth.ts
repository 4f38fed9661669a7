/**
 * Growth and reads. For each size (0 = a fresh directory, then the cached 1M and 10M logs;
 * quick: 0, 10k, 100k): copy the cached data directory (copy fsynced, not timed), start the
 * server on it, run the same upload load as the best ingest setting, then measure inclusion
 * proof latency (GET /v1/proof/inclusion, random indices, 1 request in flight). Reports the
 * rate at each size, `ingest_10m_vs_0`, disk bytes per decision and the server's peak RSS.
 * At the largest size, on the same server: inclusion proofs/s, full tiles/s and full entry
 * bundles/s (random, from a separate load process), next to a no-op hono GET in the same run,
 * and the client verification benchmark (verify.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTileIndex } from '../src/core/tiles.js';
import type { IngestSummary } from './ingest.js';
import { BODY_COUNT } from './ingest.js';
import {
  type Proc,
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
import { copyDataDir, dbBytes, ensureLogs } from './logcache.js';
import { bodiesFile, loadBodies, OPA_HEADERS } from './opa.js';
import { run as verify } from './verify.js';

/** Full: 1M and 10M (BENCH_GROWTH_LEAVES overrides the largest, e.g. while a 10M cache is not generated yet). */
const BIG = Number(process.env.BENCH_GROWTH_LEAVES ?? 10_000_000);
const SIZES = QUICK ? [10_000, 100_000] : [1_000_000, BIG];
const INGEST_MS = QUICK ? 2500 : 10_000;
const READ_MS = QUICK ? 1500 : 5000;
const READ_CONCURRENCY = QUICK ? [8] : [4, 16];

const label = (n: number) => (n >= 1e6 ? `${n / 1e6}m` : n >= 1e3 ? `${n / 1e3}k` : String(n));

interface SizeRun {
  size: number;
  leavesAfter: number;
  decisionsPerS: number;
  uploadP99Ms: number;
  ackP99Ms: number;
  proofP50Ms: number;
  proofP99Ms: number;
  rssPeakMb: number;
  diskBytesPerLeaf: number;
}

async function checkpointSize(url: string): Promise<number> {
  const text = await (await fetch(`${url}/checkpoint`)).text();
  return Number(text.split('\n')[1]);
}

function randomPaths(n: number, f: () => string): string[] {
  return Array.from({ length: n }, f);
}

async function bestGet(url: string, paths: string[]): Promise<LoadReport & { concurrency: number }> {
  let best: (LoadReport & { concurrency: number }) | undefined;
  for (const c of READ_CONCURRENCY) {
    const r = await runLoad({
      url,
      method: 'GET',
      paths,
      headers: {},
      concurrency: c,
      durationMs: READ_MS,
      warmupMs: 500,
    });
    const bad = Object.keys(r.statuses).filter((s) => !s.startsWith('2'));
    if (bad.length) console.log(`  warning: GET ${paths[0]}: statuses ${JSON.stringify(r.statuses)}`);
    if (!best || r.reqPerS > best.reqPerS) best = { ...r, concurrency: c };
  }
  return best!;
}

export async function run(ingest: IngestSummary): Promise<Result[]> {
  const { eventsPerBody } = loadBodies(BODY_COUNT);
  const logs = await ensureLogs(SIZES);
  const c = ingest.best.concurrency;
  const runs: SizeRun[] = [];
  const results: Result[] = [];
  const largest = logs.at(-1)!;
  for (const size of [0, ...logs.map((l) => l.size)]) {
    const dir = mkdtempSync(join(tmpdir(), `opa-tlog-growth-${label(size)}-`));
    let server: Proc | undefined;
    try {
      if (size > 0) {
        const s = copyDataDir(logs.find((l) => l.size === size)!.dir, dir);
        console.log(`copied the ${label(size)} log in ${s.toFixed(1)} s`);
      }
      server = await startLogServer(dir, { tunables: ingest.best.tunables });
      const rep = await runLoad({
        url: server.url,
        method: 'POST',
        bodiesFile: bodiesFile(BODY_COUNT),
        paths: ['/logs'],
        headers: { ...OPA_HEADERS, Authorization: `Bearer ${TOKEN}` },
        concurrency: c,
        durationMs: INGEST_MS,
        warmupMs: QUICK ? 500 : 2000,
        pollCheckpoint: true,
      });
      const leaves = await checkpointSize(server.url);
      const proofPaths = randomPaths(
        5000,
        () => `/v1/proof/inclusion?index=${Math.floor(Math.random() * leaves)}`,
      );
      const proof = await runLoad({
        url: server.url,
        method: 'GET',
        paths: proofPaths,
        headers: {},
        concurrency: 1,
        durationMs: READ_MS,
        warmupMs: 300,
      });
      const run: SizeRun = {
        size,
        leavesAfter: leaves,
        decisionsPerS: rep.reqPerS * eventsPerBody,
        uploadP99Ms: rep.p99Ms,
        ackP99Ms: rep.ackToCheckpoint?.p99Ms ?? Number.NaN,
        proofP50Ms: proof.p50Ms,
        proofP99Ms: proof.p99Ms,
        rssPeakMb: peakRssMb(server.proc.pid!),
        diskBytesPerLeaf: 0,
      };
      console.log(
        `growth ${label(size)}: ${Math.round(run.decisionsPerS)} decisions/s (c=${c}), upload p99 ${run.uploadP99Ms.toFixed(0)} ms, ` +
          `ack->checkpoint p99 ${run.ackP99Ms.toFixed(0)} ms, proof p50 ${run.proofP50Ms.toFixed(2)} ms p99 ${run.proofP99Ms.toFixed(2)} ms, RSS peak ${run.rssPeakMb.toFixed(0)} MiB`,
      );
      if (size === largest.size) {
        // Reads at the largest size, then client verification, on the same server.
        const fullTiles = Math.floor(leaves / 256);
        const proofs = await bestGet(server.url, proofPaths);
        const tiles = await bestGet(
          server.url,
          randomPaths(5000, () => `/tile/0/${encodeTileIndex(Math.floor(Math.random() * fullTiles))}`),
        );
        const bundles = await bestGet(
          server.url,
          randomPaths(5000, () => `/tile/entries/${encodeTileIndex(Math.floor(Math.random() * fullTiles))}`),
        );
        run.rssPeakMb = peakRssMb(server.proc.pid!);
        const noop = await startNoopServer(ingest.best.tunables);
        let noopGet: LoadReport & { concurrency: number };
        try {
          noopGet = await bestGet(noop.url, ['/checkpoint', '/tile/0/x001/234']);
        } finally {
          await noop.stop();
        }
        console.log(
          `reads at ${leaves} leaves: proofs ${Math.round(proofs.reqPerS)}/s (c=${proofs.concurrency}), tiles ${Math.round(tiles.reqPerS)}/s, ` +
            `entry bundles ${Math.round(bundles.reqPerS)}/s, no-op GET ${Math.round(noopGet.reqPerS)}/s`,
        );
        const vkey = readFileSync(join(dir, 'log.vkey'), 'utf8').trim();
        const ver = await verify(server.url, vkey, TOKEN, leaves);
        const n = `${leaves} leaves`;
        results.push(
          result(
            'inclusion_proofs_per_s',
            proofs.reqPerS,
            'proofs/s',
            'noop_hono_get_per_s',
            noopGet.reqPerS,
            `${n}, c=${proofs.concurrency}, p99 ${proofs.p99Ms.toFixed(1)} ms`,
          ),
          result(
            'tile_gets_per_s',
            tiles.reqPerS,
            'tiles/s',
            'noop_hono_get_per_s',
            noopGet.reqPerS,
            `${n}, random full level-0 tiles, c=${tiles.concurrency}`,
          ),
          result(
            'entry_bundle_gets_per_s',
            bundles.reqPerS,
            'bundles/s',
            'noop_hono_get_per_s',
            noopGet.reqPerS,
            `${n}, random full bundles, c=${bundles.concurrency}`,
          ),
          ...ver,
        );
      }
      await server.stop();
      server = undefined;
      run.diskBytesPerLeaf = dbBytes(dir) / leaves;
      runs.push(run);
    } finally {
      if (server) await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const r0 = runs[0]!;
  const big = runs.at(-1)!;
  results.unshift(
    result(
      'ingest_10m_vs_0',
      big.decisionsPerS,
      'decisions/s',
      'opa_ingest_decisions_per_s_at_0',
      r0.decisionsPerS,
      `at ${big.size} leaves (growth ratio = ratio), c=${c}`,
    ),
    ...runs
      .slice(1, -1)
      .map((r) =>
        result(
          `ingest_${label(r.size)}_vs_0`,
          r.decisionsPerS,
          'decisions/s',
          'opa_ingest_decisions_per_s_at_0',
          r0.decisionsPerS,
          `at ${r.size} leaves, c=${c}`,
        ),
      ),
    result(
      'inclusion_proof_p99_ms_10m_vs_0',
      big.proofP99Ms,
      'ms',
      'inclusion_proof_p99_ms_at_0',
      r0.proofP99Ms,
      `${big.leavesAfter} vs ${r0.leavesAfter} leaves, 1 in flight, after ingest`,
    ),
    result(
      'disk_bytes_per_decision',
      big.diskBytesPerLeaf,
      'bytes',
      'json_bytes_per_decision',
      ingest.rawBytesPerEvent,
      `${big.leavesAfter} leaves; at 0+ingest: ${Math.round(r0.diskBytesPerLeaf)} B`,
    ),
    result(
      'rss_peak_mb',
      big.rssPeakMb,
      'MiB',
      'noop_hono_post_rss_peak_mb',
      ingest.noopRssPeakMb,
      `server VmHWM at ${big.size} leaves (ingest + reads)`,
    ),
  );
  writeResults('growth', results, { sizes: runs, concurrency: c });
  return results;
}
