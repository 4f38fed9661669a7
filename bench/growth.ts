/**
 * Growth and reads. For each size (0 = a fresh directory, then the cached 1M and 10M logs;
 * quick: 0, 10k, 100k): copy the cached data directory (copy fsynced, not timed), start the
 * server on it (timed: spawn to the listening line, and to the first `/readyz` 200), run the
 * same upload load as the best ingest setting, then measure inclusion proof latency (GET
 * /v1/proof/inclusion, random indices, 1 request in flight); then size 0 once more (the
 * baseline of each ratio is the two rates at 0 interpolated in time: zeroAt). Reports the
 * rate at each size, `ingest_10m_vs_0`, start-up time, disk bytes per decision (next to the
 * CBOR payload and the gzip upload per decision) and the server's peak RSS, then fits ingest
 * rate, disk per decision and proof p99 against the log size (fit.ts) and projects them to
 * 100M and 1B.
 * At the largest size, on the same server: inclusion proofs/s, full tiles/s and full entry
 * bundles/s (random, from a separate load process), next to a no-op hono GET in the same run,
 * and the client verification benchmark (verify.ts).
 */
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { encodeTileIndex } from '../src/core/tiles.js';
import { type Fit, fitGrowth } from './fit.js';
import type { IngestSummary } from './ingest.js';
import { BODY_COUNT } from './ingest.js';
import {
  bestGet,
  type Proc,
  peakRssMb,
  QUICK,
  type Result,
  result,
  runLoad,
  sleep,
  startLogServer,
  startNoopServer,
  TOKEN,
  writeResults,
} from './lib.js';
import type { LoadReport } from './loadgen.js';
import { type CachedLog, copyDataDir, dbBytes, ensureLogs } from './logcache.js';
import { bodiesFile, loadBodies, OPA_HEADERS } from './opa.js';
import { run as verify } from './verify.js';

/** Full: 1M and 10M (BENCH_GROWTH_LEAVES overrides the largest, e.g. while a 10M cache is not generated yet). */
const BIG = Number(process.env.BENCH_GROWTH_LEAVES ?? 10_000_000);
const SIZES = QUICK ? [10_000, 100_000] : [1_000_000, BIG];
const INGEST_MS = QUICK ? 2500 : 10_000;
const READ_MS = QUICK ? 1500 : 5000;
const READ_CONCURRENCY = QUICK ? [8] : [4, 16];
/** Where the growth fit projects to. */
const PROJECT_TO = [100_000_000, 1_000_000_000];

export const label = (n: number) =>
  n >= 1e9 ? `${n / 1e9}b` : n >= 1e6 ? `${n / 1e6}m` : n >= 1e3 ? `${n / 1e3}k` : String(n);

interface SizeRun {
  size: number;
  leavesAfter: number;
  /** Spawn of `serve` to its listening line, and to the first 200 from /readyz. */
  listeningMs: number;
  readyMs: number;
  decisionsPerS: number;
  /** When the ingest's measured window was half over (ms on this process's clock). */
  ingestAtMs: number;
  uploadP99Ms: number;
  ackP99Ms: number;
  proofP50Ms: number;
  proofP99Ms: number;
  rssPeakMb: number;
  diskBytesPerLeaf: number;
  /** Bytes of the database's pages in use (page_count - freelist_count) per leaf. */
  usedBytesPerLeaf: number;
}

async function checkpointSize(url: string): Promise<number> {
  const text = await (await fetch(`${url}/checkpoint`)).text();
  return Number(text.split('\n')[1]);
}

function randomPaths(n: number, f: () => string): string[] {
  return Array.from({ length: n }, f);
}

/** Starts the server on `dir`, timing spawn -> listening line and spawn -> /readyz 200. */
async function timedStart(
  dir: string,
  tunables: boolean,
): Promise<{ server: Proc; listeningMs: number; readyMs: number }> {
  const t0 = performance.now();
  const server = await startLogServer(dir, { tunables });
  const listeningMs = performance.now() - t0;
  for (;;) {
    const r = await fetch(`${server.url}/readyz`).catch(() => undefined);
    await r?.arrayBuffer();
    if (r?.status === 200) break;
    if (performance.now() - t0 > 30_000) {
      await server.stop();
      throw new Error(`the server on ${dir} was not ready within 30 s (last status ${r?.status})`);
    }
    await sleep(5);
  }
  return { server, listeningMs, readyMs: performance.now() - t0 };
}

/** The best ingest load on a started server, then proof latency with one request in flight. */
async function loadAndProofs(
  server: Proc,
  c: number,
  eventsPerBody: number,
): Promise<{ rep: LoadReport; atMs: number; proof: LoadReport; leaves: number; proofPaths: string[] }> {
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
  // The measured window ended as the load process reported: its middle stands for the rate.
  const atMs = performance.now() - INGEST_MS / 2;
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
  if (rep.exhausted) console.log(`  note: every cached body was used before the end (${eventsPerBody}/body)`);
  return { rep, atMs, proof, leaves, proofPaths };
}

/** Reads at the largest size (proofs, tiles, bundles vs a no-op GET) and client verification. */
async function readsAtLargest(
  server: Proc,
  dir: string,
  leaves: number,
  proofPaths: string[],
  tunables: boolean,
): Promise<Result[]> {
  const fullTiles = Math.floor(leaves / 256);
  const tile = () => encodeTileIndex(Math.floor(Math.random() * fullTiles));
  /** One read phase, on a warm page cache (see warmPageCache). */
  const warmGet = (paths: string[], headers: Record<string, string> = {}) => {
    warmPageCache(dir);
    return bestGet(server.url, paths, READ_CONCURRENCY, READ_MS, headers);
  };
  // The no-op GET is measured before the read phases and again after them, and the higher of
  // the two is the baseline: the machine's speed drifts over minutes (one run's no-op GET came
  // out at 14.2k/s, the next at 20.3k), and a baseline measured only once, in a slow minute,
  // flattered every read's ratio.
  const noop = await startNoopServer(tunables);
  let noopGet: LoadReport & { concurrency: number };
  let noopGets: number[];
  let same: Record<'proof' | 'tile' | 'bundle', LoadReport>;
  let reads: Awaited<ReturnType<typeof readPhases>>;
  const noopOnce = () => bestGet(noop.url, ['/checkpoint', '/tile/0/x001/234'], READ_CONCURRENCY, READ_MS);
  const sameBytes = (n: number) => bestGet(noop.url, [`/bytes/${n}`], READ_CONCURRENCY, READ_MS);
  try {
    const before = await noopOnce();
    reads = await readPhases(server.url, proofPaths, tile, warmGet);
    const after = await noopOnce();
    noopGet = before.reqPerS >= after.reqPerS ? before : after;
    noopGets = [before.reqPerS, after.reqPerS];
    same = {
      proof: await sameBytes(reads.sizes.proof),
      tile: await sameBytes(reads.sizes.tile),
      bundle: await sameBytes(reads.sizes.bundle),
    };
  } finally {
    await noop.stop();
  }
  const { proofs, tiles, bundles, bundlesIdentity, sizes } = reads;
  const noopNote = `no-op GET before / after the reads ${noopGets.map((r) => Math.round(r)).join(' / ')}/s, the higher is the baseline`;
  console.log(
    `reads at ${leaves} leaves: proofs ${Math.round(proofs.reqPerS)}/s (c=${proofs.concurrency}), tiles ${Math.round(tiles.reqPerS)}/s, ` +
      `entry bundles ${Math.round(bundles.reqPerS)}/s (gzip; identity ${Math.round(bundlesIdentity.reqPerS)}/s), ${noopNote}`,
  );
  const vkey = readFileSync(join(dir, 'log.vkey'), 'utf8').trim();
  const ver = await verify(server.url, vkey, TOKEN, leaves);
  const n = `${leaves} leaves`;
  return [
    result(
      'inclusion_proofs_per_s',
      proofs.reqPerS,
      'proofs/s',
      'noop_hono_get_per_s',
      noopGet.reqPerS,
      `${n}, c=${proofs.concurrency}, p99 ${proofs.p99Ms.toFixed(1)} ms; ${noopNote}`,
    ),
    result(
      'tile_gets_per_s',
      tiles.reqPerS,
      'tiles/s',
      'noop_hono_get_per_s',
      noopGet.reqPerS,
      `${n}, random full level-0 tiles, c=${tiles.concurrency}, p99 ${tiles.p99Ms.toFixed(1)} ms`,
    ),
    result(
      'entry_bundle_gets_per_s',
      bundles.reqPerS,
      'bundles/s',
      'noop_hono_get_per_s',
      noopGet.reqPerS,
      `${n}, random full bundles, Accept-Encoding: gzip (as clients send), c=${bundles.concurrency}, p99 ${bundles.p99Ms.toFixed(1)} ms`,
    ),
    result(
      'entry_bundle_gets_per_s_identity',
      bundlesIdentity.reqPerS,
      'bundles/s',
      'noop_hono_get_per_s',
      noopGet.reqPerS,
      `${n}, random full bundles, no Accept-Encoding, c=${bundlesIdentity.concurrency}, p99 ${bundlesIdentity.p99Ms.toFixed(1)} ms`,
    ),
    ...sameBytesRows(n, { proofs, tiles, bundles }, sizes, same, noopGet.reqPerS),
    ...ver,
  ];
}

/** The read phases at the largest size, each on a warm page cache, and each answer's mean size. */
async function readPhases(
  url: string,
  proofPaths: string[],
  tile: () => string,
  warmGet: (
    paths: string[],
    headers?: Record<string, string>,
  ) => Promise<LoadReport & { concurrency: number }>,
) {
  const proofs = await warmGet(proofPaths);
  const tiles = await warmGet(randomPaths(5000, () => `/tile/0/${tile()}`));
  // Bundles as tlog clients fetch them: Go's net/http, browsers and Node's fetch all send
  // Accept-Encoding: gzip (tlog-tiles: bundles SHOULD be compressed in transit); and without.
  const bundlePaths = randomPaths(5000, () => `/tile/entries/${tile()}`);
  const bundles = await warmGet(bundlePaths, { 'Accept-Encoding': 'gzip' });
  const bundlesIdentity = await warmGet(bundlePaths);
  // What each answer weighs as sent (bundles gzip, as measured above).
  const sizes = {
    proof: await meanBodyBytes(url, proofPaths, {}),
    tile: await meanBodyBytes(
      url,
      randomPaths(20, () => `/tile/0/${tile()}`),
      {},
    ),
    bundle: await meanBodyBytes(url, bundlePaths, { 'Accept-Encoding': 'gzip' }),
  };
  return { proofs, tiles, bundles, bundlesIdentity, sizes };
}

/**
 * Reads the log's files through once (1 MiB at a time), so the reads that follow find them in
 * the page cache as a serving log's hot files are: this VM's DAMON pages out page cache left
 * idle for ~60 s (kdamond, `pageout` of pages 12 x 5 s unaccessed), and the read phases at 10M
 * run 30-90 s after the copy, so without this their results depended on which pages it had
 * dropped (two runs of one build: tiles 0.56 and 0.29 of the no-op GET). Logs the time taken.
 */
function warmPageCache(dir: string): void {
  const t = process.hrtime.bigint();
  const buf = Buffer.allocUnsafe(1 << 20);
  let bytes = 0;
  for (const f of ['log.db', 'log.db-blobs']) {
    if (!existsSync(join(dir, f))) continue;
    const fd = openSync(join(dir, f), 'r');
    try {
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) bytes += n;
    } finally {
      closeSync(fd);
    }
  }
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  console.log(`  page cache warmed: ${(bytes / 2 ** 30).toFixed(2)} GiB read in ${ms.toFixed(0)} ms`);
}

/**
 * Mean Content-Length of the answers to the first 20 of `paths` (as sent: compressed when the
 * answer is gzip), whole bytes.
 */
async function meanBodyBytes(url: string, paths: string[], headers: Record<string, string>): Promise<number> {
  let total = 0;
  const some = paths.slice(0, 20);
  for (const p of some) {
    const res = await fetch(url + p, { headers });
    const declared = Number(res.headers.get('content-length'));
    const body = await res.arrayBuffer();
    total += declared > 0 ? declared : body.byteLength;
  }
  return Math.round(total / some.length);
}

/**
 * The reads next to the floor that truly bounds them: the no-op server answering the same
 * number of bytes from memory (GET /bytes/<n>, same headers as a full tile), in the same run.
 * And that floor next to the bodiless no-op GET the ratios use: the highest ratio any
 * server on this stack could reach for answers that size.
 */
function sameBytesRows(
  n: string,
  reads: Record<'proofs' | 'tiles' | 'bundles', LoadReport>,
  sizes: Record<'proof' | 'tile' | 'bundle', number>,
  same: Record<'proof' | 'tile' | 'bundle', LoadReport>,
  noopGetPerS: number,
): Result[] {
  const rows: Result[] = [];
  const pairs = [
    ['inclusion_proofs_per_s', 'proofs', 'proof'],
    ['tile_gets_per_s', 'tiles', 'tile'],
    ['entry_bundle_gets_per_s', 'bundles', 'bundle'],
  ] as const;
  for (const [metric, read, size] of pairs) {
    const floor = `same_bytes_get_per_s_${sizes[size]}`;
    rows.push(
      result(
        `${metric}_vs_same_bytes`,
        reads[read].reqPerS,
        'req/s',
        floor,
        same[size].reqPerS,
        `${n}; ${sizes[size]} B answers (mean as sent); the baseline sends that many bytes from memory on the same stack`,
      ),
      result(
        `same_bytes_vs_noop_get_${size}`,
        same[size].reqPerS,
        'req/s',
        'noop_hono_get_per_s',
        noopGetPerS,
        `the ceiling of ${metric}'s ratio on this machine: ${sizes[size]} bytes from memory against a bodiless 204`,
      ),
    );
  }
  return rows;
}

/** One size: copy, timed start, load, proofs (and the reads at the largest), stop, disk. */
async function measureSize(
  size: number,
  log: CachedLog | undefined,
  largest: boolean,
  ingest: IngestSummary,
  out: Result[],
): Promise<SizeRun> {
  const dir = mkdtempSync(join(tmpdir(), `opa-tlog-growth-${label(size)}-`));
  let server: Proc | undefined;
  try {
    if (log) console.log(`copied the ${label(size)} log in ${copyDataDir(log.dir, dir).toFixed(1)} s`);
    const started = await timedStart(dir, ingest.best.tunables);
    server = started.server;
    const c = ingest.best.concurrency;
    const { rep, atMs, proof, leaves, proofPaths } = await loadAndProofs(server, c, ingest.eventsPerBody);
    const run: SizeRun = {
      size,
      leavesAfter: leaves,
      listeningMs: started.listeningMs,
      readyMs: started.readyMs,
      decisionsPerS: rep.reqPerS * ingest.eventsPerBody,
      ingestAtMs: atMs,
      uploadP99Ms: rep.p99Ms,
      ackP99Ms: rep.ackToCheckpoint?.p99Ms ?? Number.NaN,
      proofP50Ms: proof.p50Ms,
      proofP99Ms: proof.p99Ms,
      rssPeakMb: peakRssMb(server.proc.pid!),
      diskBytesPerLeaf: 0,
      usedBytesPerLeaf: 0,
    };
    console.log(
      `growth ${label(size)}: start ${run.listeningMs.toFixed(0)} ms to listening, ${run.readyMs.toFixed(0)} ms to ready; ` +
        `${Math.round(run.decisionsPerS)} decisions/s (c=${c}), upload p99 ${run.uploadP99Ms.toFixed(0)} ms, ` +
        `ack->checkpoint p99 ${run.ackP99Ms.toFixed(0)} ms, proof p50 ${run.proofP50Ms.toFixed(2)} ms p99 ${run.proofP99Ms.toFixed(2)} ms, RSS peak ${run.rssPeakMb.toFixed(0)} MiB`,
    );
    if (largest) {
      out.push(...(await readsAtLargest(server, dir, leaves, proofPaths, ingest.best.tunables)));
      run.rssPeakMb = peakRssMb(server.proc.pid!);
    }
    await server.stop();
    server = undefined;
    run.diskBytesPerLeaf = dbBytes(dir) / leaves;
    run.usedBytesPerLeaf = usedBytes(join(dir, 'log.db')) / leaves;
    return run;
  } finally {
    if (server) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(ingest: IngestSummary): Promise<Result[]> {
  loadBodies(BODY_COUNT);
  const logs = await ensureLogs(SIZES);
  const runs: SizeRun[] = [];
  const reads: Result[] = [];
  const largest = logs.at(-1)!;
  for (const size of [0, ...logs.map((l) => l.size)]) {
    const log = logs.find((l) => l.size === size);
    runs.push(await measureSize(size, log, size === largest.size, ingest, reads));
  }
  // The rate at 0 again, on a fresh directory, after the largest: see zeroAt.
  const again = await measureSize(0, undefined, false, ingest, []);
  const fits = growthFits(runs);
  const results = [
    ...sizeRows(runs, again, ingest),
    ...projectionRows(fits, runs, ingest),
    ...generationRows(logs, ingest),
    ...reads,
  ];
  writeResults('growth', results, {
    sizes: runs,
    zero_again: again,
    concurrency: ingest.best.concurrency,
    fit: {
      method:
        'least squares of log-linear (y = a + b*log10 n) and power law (y = a*n^b, fitted on logs); the smaller rms relative residual wins among the curves positive at 100M and 1B; n = mean leaves during the measurement',
      ...Object.fromEntries(
        Object.entries(fits).map(([k, f]) => [
          k,
          {
            model: f.model,
            a: f.a,
            b: f.b,
            rms_rel_residual: f.rmsRelResidual,
            projected: Object.fromEntries(PROJECT_TO.map((n) => [label(n), f.at(n)])),
          },
        ]),
      ),
    },
    generation: logs.map((l) => ({ size: l.size, ...(l.generation ?? {}) })),
  });
  return results;
}

/** The leaves a size run's figures stand for: the mean of the tree before and after its ingest. */
const meanLeaves = (r: SizeRun) => (r.size + r.leavesAfter) / 2;

type FitKey = 'ingest' | 'disk' | 'proofP99';

/** Fits of ingest rate, disk per decision and proof p99 against the log size. */
function growthFits(runs: readonly SizeRun[]): Record<FitKey, Fit> {
  const pts = (f: (r: SizeRun) => number) => runs.map((r) => ({ n: meanLeaves(r), y: f(r) }));
  return {
    ingest: fitGrowth(
      pts((r) => r.decisionsPerS),
      PROJECT_TO,
    ),
    disk: fitGrowth(
      pts((r) => r.diskBytesPerLeaf),
      PROJECT_TO,
    ),
    proofP99: fitGrowth(
      pts((r) => r.proofP99Ms),
      PROJECT_TO,
    ),
  };
}

/**
 * The ingest rate at 0 leaves to compare run `r` with: the two measurements at 0, the first
 * before every other size and the second after the largest, interpolated linearly to the time
 * of `r`'s ingest. Why: this machine's rate drifts within minutes (four back-to-back ingests of
 * one build on copies of one log: 23.7k, 19.8k, 18.1k, 17.6k decisions/s), and the sizes are
 * measured one after another over ~3 minutes, so a single rate at 0 taken first made the drift
 * part of the growth ratio; bracketing the larger sizes cancels a steady drift.
 */
function zeroAt(r0: SizeRun, again: SizeRun, r: SizeRun): number {
  const span = again.ingestAtMs - r0.ingestAtMs;
  const f = span > 0 ? Math.min(1, Math.max(0, (r.ingestAtMs - r0.ingestAtMs) / span)) : 0.5;
  return r0.decisionsPerS + f * (again.decisionsPerS - r0.decisionsPerS);
}

/** How a size's baseline at 0 was made (for the settings column). */
function zeroNote(r0: SizeRun, again: SizeRun, r: SizeRun): string {
  const k = (x: number) => `${(x / 1000).toFixed(1)}k`;
  const s = (x: SizeRun) => ((x.ingestAtMs - r0.ingestAtMs) / 1000).toFixed(0);
  return `baseline: the rate at 0 measured first (${k(r0.decisionsPerS)}, t=0 s) and again after the largest size (${k(again.decisionsPerS)}, t=${s(again)} s), interpolated to this ingest (t=${s(r)} s)`;
}

/** Rows measured per size: growth ratios, start-up, disk next to payload and upload, RSS. */
function sizeRows(runs: readonly SizeRun[], again: SizeRun, ingest: IngestSummary): Result[] {
  const r0 = runs[0]!;
  const big = runs.at(-1)!;
  const c = ingest.best.concurrency;
  const cborPlus = ingest.cborBytesPerEvent + 200;
  const sizes = `${big.leavesAfter} leaves`;
  return [
    result(
      'ingest_10m_vs_0',
      big.decisionsPerS,
      'decisions/s',
      'opa_ingest_decisions_per_s_at_0',
      zeroAt(r0, again, big),
      `at ${big.size} leaves (growth ratio = ratio), c=${c}; ${zeroNote(r0, again, big)}`,
    ),
    ...runs
      .slice(1, -1)
      .map((r) =>
        result(
          `ingest_${label(r.size)}_vs_0`,
          r.decisionsPerS,
          'decisions/s',
          'opa_ingest_decisions_per_s_at_0',
          zeroAt(r0, again, r),
          `at ${r.size} leaves, c=${c}; ${zeroNote(r0, again, r)}`,
        ),
      ),
    result(
      'opa_ingest_decisions_per_s_at_0_again',
      again.decisionsPerS,
      'decisions/s',
      'opa_ingest_decisions_per_s_at_0',
      r0.decisionsPerS,
      `a fresh log again, ${((again.ingestAtMs - r0.ingestAtMs) / 1000).toFixed(0)} s after the first, c=${c}: the ratio is the machine's drift over the growth part`,
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
      'startup_ms_10m',
      big.readyMs,
      'ms',
      'startup_ms_0',
      r0.readyMs,
      `spawn of serve to /readyz 200 at ${big.size} leaves (to the listening line: ${big.listeningMs.toFixed(0)} ms; at 0: ${r0.listeningMs.toFixed(0)} ms); files fsynced and hot in the page cache`,
    ),
    ...runs
      .slice(1, -1)
      .map((r) =>
        result(
          `startup_ms_${label(r.size)}`,
          r.readyMs,
          'ms',
          'startup_ms_0',
          r0.readyMs,
          `spawn to /readyz 200 at ${r.size} leaves (listening: ${r.listeningMs.toFixed(0)} ms)`,
        ),
      ),
    result(
      'disk_bytes_per_decision',
      big.diskBytesPerLeaf,
      'bytes',
      'cbor_payload_bytes_per_decision_plus_200',
      cborPlus,
      `${sizes}; CBOR payload ${Math.round(ingest.cborBytesPerEvent)} B, gzip upload ${Math.round(ingest.gzBytesPerEvent)} B, JSON ${Math.round(ingest.rawBytesPerEvent)} B per decision`,
    ),
    result(
      'disk_bytes_per_decision_vs_gzip_upload',
      big.diskBytesPerLeaf,
      'bytes',
      'gzip_upload_bytes_per_decision',
      ingest.gzBytesPerEvent,
      `${sizes}; the compressed upload body / its decisions`,
    ),
    result(
      'disk_bytes_per_decision_in_use',
      big.usedBytesPerLeaf,
      'bytes',
      'cbor_payload_bytes_per_decision_plus_200',
      cborPlus,
      `${sizes}; pages in use (page_count - freelist_count): the free pages are what the lookup index's last merges released, reused as the log grows`,
    ),
    result(
      'disk_bytes_per_decision_at_0',
      r0.diskBytesPerLeaf,
      'bytes',
      'cbor_payload_bytes_per_decision_plus_200',
      cborPlus,
      `a fresh log after its ingest: ${r0.leavesAfter} leaves`,
    ),
    result(
      'cbor_payload_bytes_per_decision',
      ingest.cborBytesPerEvent,
      'bytes',
      'json_bytes_per_decision',
      ingest.rawBytesPerEvent,
      'deterministic CBOR of the event as the log commits to it (src/core cbor + opa)',
    ),
    result(
      'rss_peak_mb',
      big.rssPeakMb,
      'MiB',
      'noop_hono_post_rss_peak_mb',
      ingest.noopRssPeakMb,
      `server VmHWM at ${big.size} leaves (ingest + reads)`,
    ),
  ];
}

/** The fitted curves at 100M and 1B leaves, each next to the figure measured at 0. */
function projectionRows(
  fits: Record<FitKey, Fit>,
  runs: readonly SizeRun[],
  ingest: IngestSummary,
): Result[] {
  const r0 = runs[0]!;
  const rows: Result[] = [];
  const what: [FitKey, string, string, string, number][] = [
    ['ingest', 'ingest_decisions_per_s', 'decisions/s', 'opa_ingest_decisions_per_s_at_0', r0.decisionsPerS],
    [
      'disk',
      'disk_bytes_per_decision',
      'bytes',
      'cbor_payload_bytes_per_decision_plus_200',
      ingest.cborBytesPerEvent + 200,
    ],
    ['proofP99', 'inclusion_proof_p99_ms', 'ms', 'inclusion_proof_p99_ms_at_0', r0.proofP99Ms],
  ];
  for (const [k, metric, unit, base, baseValue] of what) {
    const f = fits[k];
    console.log(`growth fit ${metric}: ${f.describe()}`);
    for (const n of PROJECT_TO) {
      rows.push(
        result(
          `${metric}_projected_${label(n)}`,
          f.at(n),
          unit,
          base,
          baseValue,
          `projection, not measured: ${f.describe()}`,
        ),
      );
    }
  }
  return rows;
}

/** How fast the cached logs were generated (through TransparencyLog.appendItems), when known. */
function generationRows(logs: readonly CachedLog[], ingest: IngestSummary): Result[] {
  return logs
    .filter((l) => l.generation !== undefined && l.generation.seconds > 0)
    .map((l) => {
      const g = l.generation!;
      return result(
        `log_generation_leaves_per_s_${label(l.size)}`,
        (l.size - g.from) / g.seconds,
        'leaves/s',
        'opa_ingest_decisions_per_s',
        ingest.best.decisionsPerS,
        `${label(g.from)} -> ${label(l.size)} in ${g.seconds.toFixed(0)} s at ${g.at.slice(0, 16)} (in-process appendItems, NORMAL)`,
      );
    });
}

/**
 * Bytes of the pages in use in the SQLite file at `path` (its free pages left out), plus its
 * blob file (every byte of which a place points to).
 */
function usedBytes(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    const pages = db.pragma('page_count', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    const blobs = existsSync(`${path}-blobs`) ? statSync(`${path}-blobs`).size : 0;
    return (pages - free) * (db.pragma('page_size', { simple: true }) as number) + blobs;
  } finally {
    db.close();
  }
}
