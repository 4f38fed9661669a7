/**
 * Three `opa-tlog serve` processes on one PostgreSQL database, sharing one signer key. The
 * shared OPA samples and generated uploads go to all three at once while the current
 * sequencer is SIGKILLed several times (and restarted). Then: every acknowledged decision is
 * in the log exactly once at its acknowledged index, no two checkpoints of one size differ
 * (every stored checkpoint's root is the root of the log's leaves at its size), checkpoints
 * kept coming after each kill, lookups, proofs (by index and by ?leaf_hash=) and search answer
 * the same from every server, and Go's reference sumdb/tlog + note (test/interop/go) and
 * `opa-tlog audit` verify the log at each server and at nginx serving an `opa-tlog mirror
 * --once` copy (Go and nginx required under OPA_TLOG_REQUIRE_GO / _NGINX). A second test pauses the sequencer (SIGSTOP) until another takes over, wakes it
 * (SIGCONT) and checks that it steps down without forking the log.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { toBase64, toHex } from '../../src/core/bytes.js';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { decodeEntry } from '../../src/core/entry.js';
import { leafHash } from '../../src/core/merkle.js';
import { type NoteVerifier, newEd25519Verifier } from '../../src/core/note.js';
import { TileBuilder } from '../../src/core/tiles.js';
import { NGINX_REQUIRED, nginxAvailable, startNginx } from '../helpers/nginx.js';
import { postgresAvailable, postgresCluster } from '../helpers/postgres.js';
import { CLI, fetchAllEntries } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { goAvailable, runTlogCheck } from '../interop/go-harness.js';
import { Fleet, generated, post, SAMPLE, sharedKeyDirs, sleep } from './fleet.js';

const SIGN_MS = 500;
const execFileAsync = promisify(execFile);
const HAVE_GO = goAvailable();
const HAVE_NGINX = nginxAvailable('three servers: the mirror behind nginx');
if (!HAVE_GO && process.env.OPA_TLOG_REQUIRE_GO === '1') {
  describe('three servers: Go interop (required)', () => {
    test('needs go and golang-golang-x-mod-dev', () => expect.fail('Go is required (OPA_TLOG_REQUIRE_GO=1)'));
  });
}
if (!HAVE_NGINX && NGINX_REQUIRED) {
  describe('three servers: mirror (nginx required)', () => {
    test('needs nginx', () => expect.fail('nginx is required (OPA_TLOG_REQUIRE_NGINX=1)'));
  });
}

/** Sends uploads round-robin to the live servers until stopped; records every acknowledgement. */
function loadGenerator(fleet: Fleet, acked: Map<string, number>, workers: number) {
  let stop = false;
  let n = 0;
  const conflicts: string[] = [];
  const record = (ids: string[], indices: number[]) =>
    ids.forEach((id, k) => {
      const prev = acked.get(id);
      if (prev !== undefined && prev !== indices[k]) conflicts.push(`${id}: ${prev} then ${indices[k]}`);
      acked.set(id, indices[k]!);
    });
  const worker = async (w: number) => {
    while (!stop) {
      const up = generated(`w${w}-${n++}`, 25);
      // Retried on the next server until acknowledged, as OPA retries an upload.
      for (let attempt = 0; !stop || attempt === 0; attempt++) {
        const live = fleet.live();
        const indices = live.length ? await post(live[(n + attempt) % live.length]!.url, up.body) : undefined;
        if (indices) {
          record(up.ids, indices);
          break;
        }
        await sleep(20);
      }
    }
  };
  const running = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return {
    conflicts,
    /** The shared samples, to every live server at once. */
    samples: async () => {
      const ids = (JSON.parse(SAMPLE.toString()) as { decision_id: string }[]).map((e) => e.decision_id);
      const got = await Promise.all(fleet.live().map((s) => post(s.url, SAMPLE)));
      for (const indices of got) if (indices) record(ids, indices);
    },
    stop: async () => {
      stop = true;
      await running;
    },
  };
}

/** Polls /checkpoint on every live server; keeps every (size, root) seen and when each size grew. */
function checkpointWatcher(fleet: Fleet, verifier: NoteVerifier) {
  const roots = new Map<number, string>();
  const forks: string[] = [];
  const grew: { at: number; size: number }[] = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      for (const s of fleet.live()) {
        const text = await fetch(`${s.url}/checkpoint`)
          .then((r) => (r.ok ? r.text() : undefined))
          .catch(() => undefined);
        if (!text) continue;
        const cp = openCheckpoint(text, verifier).checkpoint;
        const root = toBase64(cp.rootHash);
        const prev = roots.get(cp.size);
        if (prev !== undefined && prev !== root) forks.push(`size ${cp.size}: ${prev} vs ${root}`);
        roots.set(cp.size, root);
        if (cp.size > (grew.at(-1)?.size ?? -1)) grew.push({ at: Date.now(), size: cp.size });
      }
      await sleep(50);
    }
  })();
  return {
    roots,
    forks,
    grew,
    stop: async () => {
      stop = true;
      await loop;
    },
  };
}

/** Waits until every live server publishes the same checkpoint of at least `size`; returns it. */
async function converged(fleet: Fleet, size: number, timeoutMs = 30_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const notes = await Promise.all(
      fleet.live().map(async (s) => (await fetch(`${s.url}/checkpoint`)).text()),
    );
    const first = notes[0]!;
    const n = Number(first.split('\n')[1]);
    if (
      n >= size &&
      notes.every((t) => t.split('\n').slice(0, 3).join() === first.split('\n').slice(0, 3).join())
    )
      return first;
    if (Date.now() > until)
      throw new Error(`servers did not converge on size >= ${size}: ${notes.join(' | ')}`);
    await sleep(100);
  }
}

/** Every stored checkpoint's root is the root of the log's own leaves at that size. */
async function checkStoredCheckpoints(url: string, leaves: Uint8Array[]): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const rows = (await c.query('SELECT size, root FROM checkpoints ORDER BY size')).rows as {
    size: string;
    root: Buffer;
  }[];
  await c.end();
  const b = new TileBuilder();
  for (const r of rows) {
    const size = Number(r.size);
    b.append(leaves.slice(b.size, size));
    expect(toBase64(b.root()), `checkpoint ${size}`).toBe(toBase64(r.root));
  }
  return rows.length;
}

/**
 * Lookups (with their proofs), inclusion proofs by index and by ?leaf_hash=, consistency
 * proofs and searches answer byte for byte the same from every server.
 */
async function sameAnswers(fleet: Fleet, acked: Map<string, number>, leaves: Uint8Array[], size: number) {
  const ids = [...acked.keys()].filter((_, i) => i % Math.ceil(acked.size / 10) === 0);
  const picks = [0, 1, Math.floor(size / 2), size - 1];
  const paths = [
    ...ids.map((id) => `/v1/decisions/${id}`),
    `/v1/proof/consistency?from=${Math.floor(size / 3)}&to=${size}`,
    `/v1/proof/inclusion?index=${size - 1}&tree_size=${size}`,
    ...picks.map((i) => `/v1/proof/inclusion?leaf_hash=${toHex(leaves[i]!)}&tree_size=${size}`),
    ...picks.map((i) => `/v1/proof/inclusion?leaf_hash=${toHex(leaves[i]!)}`),
    '/v1/decisions?limit=40&cursor=100',
    '/v1/decisions?path=http/authz/decision&limit=20',
    '/v1/decisions?bundle_revision=git-9d41e07&result=false&limit=20',
    '/checkpoint',
  ];
  for (const p of paths) {
    const res = await Promise.all(fleet.live().map((s) => fetch(`${s.url}${p}`)));
    const bodies = await Promise.all(res.map((r) => r.text()));
    for (const [k, b] of bodies.entries()) {
      expect(res[k]!.status, p).toBe(200);
      expect(b, p).toBe(bodies[0]);
    }
    if (p.startsWith('/v1/decisions?'))
      expect((JSON.parse(bodies[0]!) as { decisions: unknown[] }).decisions.length, p).toBeGreaterThan(0);
  }
}

/** Go's sumdb/note + sumdb/tlog at `base`: checkpoint, tiles, the root, proofs it builds itself. */
async function goVerifies(base: string, vkey: string, size: number, olds: number[]): Promise<void> {
  if (!HAVE_GO) return;
  const indices = [0, 255, 256, Math.floor(size / 2), size - 1].filter((i) => i < size).join(',');
  const r = await runTlogCheck(['-url', base, '-vkey', vkey, '-index', indices, '-old', olds.join(',')]);
  expect(r.stderr, base).toBe('');
  expect(r.code, base).toBe(0);
  expect((JSON.parse(r.stdout) as { size: number }).size, base).toBe(size);
}

/** Go checks the inclusion (found by ?leaf_hash=) and consistency proofs a server's JSON API serves. */
async function goChecksProofs(
  base: string,
  vkey: string,
  leaves: Uint8Array[],
  size: number,
  olds: number[],
): Promise<void> {
  if (!HAVE_GO) return;
  const get = async <T>(p: string) => (await (await fetch(`${base}${p}`)).json()) as T;
  const proofs: unknown[] = [];
  for (const i of [0, Math.floor(size / 2), size - 1]) {
    const p = await get<{
      index: number;
      tree_size: number;
      leaf_hash: string;
      root_hash: string;
      proof: string[];
    }>(`/v1/proof/inclusion?leaf_hash=${toHex(leaves[i]!)}`);
    expect(p.index).toBe(i);
    proofs.push({
      index: p.index,
      tree_size: p.tree_size,
      leaf_hash: p.leaf_hash,
      proof: p.proof,
      root: p.root_hash,
    });
  }
  for (const from of olds) {
    const c = await get<{ from: number; to: number; from_root: string; to_root: string; proof: string[] }>(
      `/v1/proof/consistency?from=${from}`,
    );
    proofs.push({ from: c.from, to: c.to, from_root: c.from_root, to_root: c.to_root, proof: c.proof });
  }
  const r = await runTlogCheck(['-mode', 'proofs', '-url', base, '-vkey', vkey], JSON.stringify(proofs));
  expect(r.stderr, base).toBe('');
  expect(r.code, base).toBe(0);
}

/** `opa-tlog audit` downloads and recomputes the whole log at `base`. */
async function audits(base: string, vkey: string, size: number): Promise<void> {
  const out = await execFileAsync(process.execPath, [CLI, 'audit', '--url', base, '--vkey', vkey]);
  expect(out.stdout, base).toMatch(new RegExp(`\\b${size}\\b`));
}

/**
 * `opa-tlog mirror --once` copies the log at `from` into a directory, nginx serves it, and
 * `check` runs against nginx (which must publish the checkpoint `note`).
 */
async function viaMirror(from: string, vkey: string, note: string, check: (base: string) => Promise<void>) {
  if (!HAVE_NGINX) return;
  const dir = tempDir('opa-tlog-mirror-');
  await execFileAsync(process.execPath, [
    CLI,
    'mirror',
    '--url',
    from,
    '--vkey',
    vkey,
    '--to',
    dir,
    '--once',
  ]);
  const nginx = await startNginx(dir);
  try {
    expect(await (await fetch(`${nginx.url}/checkpoint`)).text()).toBe(note);
    await check(nginx.url);
  } finally {
    await nginx.stop();
  }
}

describe.skipIf(!postgresAvailable())('three servers on one PostgreSQL, one elected sequencer', () => {
  test('uploads to all three while the sequencer is SIGKILLed: nothing acknowledged lost, no fork', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const fleet = new Fleet(url, sharedKeyDirs(3), SIGN_MS);
    for (let i = 0; i < 3; i++) await fleet.start(i);
    const verifier = newEd25519Verifier(fleet.live()[0]!.vkey);
    const acked = new Map<string, number>();
    const load = loadGenerator(fleet, acked, 4);
    const watch = checkpointWatcher(fleet, verifier);
    await load.samples();
    const takeovers: number[] = [];
    for (let kill = 0; kill < 3; kill++) {
      await sleep(1500);
      const seq = await fleet.sequencer();
      expect(seq, 'some server holds the lease').toBeDefined();
      await fleet.servers[seq!]!.kill();
      const killedAt = Date.now();
      const before = await fleet.storedSize(); // signed by the dead sequencer at most
      fleet.servers[seq!] = undefined;
      await load.samples();
      // Checkpoints keep coming: a newer one appears on the survivors.
      while (watch.grew.at(-1)!.size <= before) {
        expect(Date.now() - killedAt, 'a checkpoint after the kill').toBeLessThan(15_000);
        await sleep(20);
      }
      takeovers.push(watch.grew.at(-1)!.at - killedAt);
      // Within 2 signing periods, plus slack for the watcher's polling and a loaded machine.
      expect(takeovers.at(-1)!).toBeLessThan(2 * SIGN_MS + 1000);
      await fleet.start(seq!);
    }
    await sleep(1000);
    await load.stop();
    expect(load.conflicts).toEqual([]);
    const maxAcked = Math.max(...acked.values());
    const note = await converged(fleet, maxAcked + 1);
    await watch.stop();
    expect(watch.forks).toEqual([]);
    const size = openCheckpoint(note, verifier).checkpoint.size;
    console.log(
      `3 servers: ${acked.size} decisions acknowledged, tree size ${size}, new checkpoint ${takeovers.join(', ')} ms after each SIGKILL of the sequencer`,
    );

    // Every acknowledged decision is in the log once, at its acknowledged index.
    const entries = await fetchAllEntries(fleet.live()[0]!.url, size);
    const seen = new Map<string, number[]>();
    entries.forEach((e, i) => {
      const d = decodeEntry(e);
      seen.set(d.id, [...(seen.get(d.id) ?? []), i]);
    });
    for (const [id, index] of acked) expect(seen.get(id), id).toEqual([index]);
    const leaves = entries.map((e) => leafHash(e));
    expect(await checkStoredCheckpoints(url, leaves)).toBeGreaterThan(3);
    await sameAnswers(fleet, acked, leaves, size);
    // Go's reference sumdb/tlog + note and `opa-tlog audit` against every server, and against
    // nginx serving an `opa-tlog mirror --once` copy of the log.
    const vkey = fleet.live()[0]!.vkey;
    const olds = [1, Math.floor(size / 3), size - 1];
    for (const s of fleet.live()) {
      await goVerifies(s.url, vkey, size, olds);
      await goChecksProofs(s.url, vkey, leaves, size, olds);
      await audits(s.url, vkey, size);
    }
    await viaMirror(fleet.live()[1]!.url, vkey, note, async (base) => {
      await goVerifies(base, vkey, size, olds);
      await audits(base, vkey, size);
    });
  }, 180_000);

  test('a sequencer paused past its lease steps down on waking; the log does not fork', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const fleet = new Fleet(url, sharedKeyDirs(2), SIGN_MS);
    for (let i = 0; i < 2; i++) await fleet.start(i);
    const verifier = newEd25519Verifier(fleet.live()[0]!.vkey);
    const seq = (await fleet.sequencer())!;
    const other = fleet.servers[1 - seq]!;
    const paused = fleet.servers[seq]!;
    paused.proc.kill('SIGSTOP');
    const up = generated('paused', 30);
    expect(await post(other.url, up.body)).toBeDefined();
    // The other server takes over and signs what it was sent.
    const until = Date.now() + 10_000;
    let note = '';
    while (Date.now() < until) {
      note = await (await fetch(`${other.url}/checkpoint`)).text();
      if (openCheckpoint(note, verifier).checkpoint.size >= 30) break;
      await sleep(50);
    }
    expect(openCheckpoint(note, verifier).checkpoint.size).toBeGreaterThanOrEqual(30);
    expect(await fleet.sequencer()).toBe(1 - seq);
    paused.proc.kill('SIGCONT');
    expect(await post(paused.url, generated('woken', 10).body)).toBeDefined();
    const final = await converged(fleet, 40);
    const size = openCheckpoint(final, verifier).checkpoint.size;
    const entries = await fetchAllEntries(other.url, size);
    await checkStoredCheckpoints(
      url,
      entries.map((e) => leafHash(e)),
    );
    await sleep(SIGN_MS);
    expect(paused.output()).toMatch(/another server is the sequencer now|stepping down/);
  }, 120_000);
});
