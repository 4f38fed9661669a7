/**
 * The static mirror's read path (issue 13): a fresh SQLite log gets a fixed number of OPA
 * uploads, then `opa-tlog mirror --once` copies it (verifying everything) into a directory
 * that nginx (one worker process, services.ts) serves; random full level-0 tiles and random
 * full entry bundles are then read from nginx and from the log server, same paths, same load
 * generator and concurrencies, in the same run. Skipped with a printed reason when nginx is
 * not installed, unless OPA_TLOG_REQUIRE_NGINX=1.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTileIndex } from '../src/core/tiles.js';
import { BODY_COUNT, type IngestSummary } from './ingest.js';
import {
  bestGet,
  type Proc,
  QUICK,
  type Result,
  result,
  runLoad,
  SERVER_CLI,
  sleep,
  startLogServer,
  TOKEN,
  writeResults,
} from './lib.js';
import { bodiesFile, loadBodies, OPA_HEADERS } from './opa.js';
import { missing, NGINX, type RunningNginx, startNginx } from './services.js';

/** Uploads ingested before the mirror copies the log (×~446 decisions each). */
const UPLOADS = QUICK ? 25 : 250;
const READ_MS = QUICK ? 1500 : 5000;
const READ_CONCURRENCY = QUICK ? [8] : [4, 16];

/** Waits until the server's checkpoint covers `size` leaves (30 s at most); returns its size. */
async function waitForCheckpoint(url: string, size: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const n = Number((await (await fetch(`${url}/checkpoint`)).text()).split('\n')[1]);
    if (n >= size || Date.now() - t0 > 30_000) return n;
    await sleep(100);
  }
}

/** `opa-tlog mirror --once` from `url` into `dir`; resolves with the seconds it took. */
function mirrorOnce(url: string, vkey: string, dir: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [SERVER_CLI, 'mirror', '--url', url, '--vkey', vkey, '--to', dir, '--once'],
      { maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`mirror --once failed: ${err.message}\n${stdout}${stderr}`));
        else resolve((performance.now() - t0) / 1000);
      },
    );
  });
}

/** Random full tiles and bundles from `url`, best of the concurrencies. */
async function reads(url: string, tiles: string[], bundles: string[]) {
  return {
    tiles: await bestGet(url, tiles, READ_CONCURRENCY, READ_MS),
    bundles: await bestGet(url, bundles, READ_CONCURRENCY, READ_MS),
  };
}

/** The mirror rows: nginx serving the mirror vs the server, same run. */
export async function run(ingest?: IngestSummary): Promise<Result[]> {
  const why = missing('nginx', existsSync(NGINX), 'OPA_TLOG_REQUIRE_NGINX');
  if (why !== undefined) {
    console.log(`mirror: ${why}`);
    return [];
  }
  const { eventsPerBody } = loadBodies(BODY_COUNT);
  const data = mkdtempSync(join(tmpdir(), 'opa-tlog-bench-mirror-log-'));
  const copy = mkdtempSync(join(tmpdir(), 'opa-tlog-bench-mirror-'));
  let server: Proc | undefined;
  let nginx: RunningNginx | undefined;
  try {
    server = await startLogServer(data, { tunables: ingest?.best.tunables ?? true });
    const load = await runLoad({
      url: server.url,
      method: 'POST',
      bodiesFile: bodiesFile(BODY_COUNT),
      bodyCount: UPLOADS,
      paths: ['/logs'],
      headers: { ...OPA_HEADERS, Authorization: `Bearer ${TOKEN}` },
      concurrency: 4,
      durationMs: 120_000,
      warmupMs: 0,
    });
    const leaves = await waitForCheckpoint(server.url, UPLOADS * eventsPerBody);
    const vkey = readFileSync(join(data, 'log.vkey'), 'utf8').trim();
    const mirrorS = await mirrorOnce(server.url, vkey, copy);
    nginx = await startNginx(copy);
    const full = Math.floor(leaves / 256);
    const pick = (prefix: string) =>
      Array.from({ length: 5000 }, () => `${prefix}${encodeTileIndex(Math.floor(Math.random() * full))}`);
    const tiles = pick('/tile/0/');
    const bundles = pick('/tile/entries/');
    const fromServer = await reads(server.url, tiles, bundles);
    const fromNginx = await reads(nginx.url, tiles, bundles);
    console.log(
      `mirror of ${leaves} leaves in ${mirrorS.toFixed(1)} s; tiles/s nginx ${Math.round(fromNginx.tiles.reqPerS)} vs server ${Math.round(fromServer.tiles.reqPerS)}, ` +
        `bundles/s nginx ${Math.round(fromNginx.bundles.reqPerS)} vs server ${Math.round(fromServer.bundles.reqPerS)}`,
    );
    const n = `${leaves} leaves, ${full} full tiles, random`;
    const results = [
      result(
        'nginx_tile_gets_per_s',
        fromNginx.tiles.reqPerS,
        'tiles/s',
        'tile_gets_per_s_server',
        fromServer.tiles.reqPerS,
        `${n} full level-0 tiles, nginx c=${fromNginx.tiles.concurrency}, server c=${fromServer.tiles.concurrency}`,
      ),
      result(
        'nginx_entry_bundle_gets_per_s',
        fromNginx.bundles.reqPerS,
        'bundles/s',
        'entry_bundle_gets_per_s_server',
        fromServer.bundles.reqPerS,
        `${n} full entry bundles, nginx c=${fromNginx.bundles.concurrency}, server c=${fromServer.bundles.concurrency}`,
      ),
      result(
        'mirror_once_leaves_per_s',
        leaves / mirrorS,
        'leaves/s',
        'ingest_decisions_per_s_before_mirror',
        load.reqPerS * eventsPerBody,
        `opa-tlog mirror --once of ${leaves} leaves (fetch, verify, write, fsync) in ${mirrorS.toFixed(1)} s`,
      ),
    ];
    writeResults('mirror', results, {
      leaves,
      mirror_seconds: mirrorS,
      server: fromServer,
      nginx: fromNginx,
    });
    return results;
  } finally {
    if (nginx) await nginx.stop();
    if (server) await server.stop();
    rmSync(data, { recursive: true, force: true });
    rmSync(copy, { recursive: true, force: true });
  }
}
