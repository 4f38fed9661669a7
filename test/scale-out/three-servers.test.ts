/**
 * Three `opa-tlog serve` processes on one PostgreSQL database, sharing one signer key. The
 * shared OPA samples and generated uploads go to all three at once while the current
 * sequencer is SIGKILLed several times (and restarted). Then: every acknowledged decision is
 * in the log exactly once at its acknowledged index, no two checkpoints of one size differ
 * (every stored checkpoint's root is the root of the log's leaves at its size), checkpoints
 * kept coming after each kill, and lookups, proofs and search answer the same from every
 * server. A second test pauses the sequencer (SIGSTOP) until another takes over, wakes it
 * (SIGCONT) and checks that it steps down without forking the log.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { toBase64 } from '../../src/core/bytes.js';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { decodeEntry } from '../../src/core/entry.js';
import { leafHash } from '../../src/core/merkle.js';
import { type NoteVerifier, newEd25519Verifier } from '../../src/core/note.js';
import { TileBuilder } from '../../src/core/tiles.js';
import { postgresAvailable, postgresCluster } from '../helpers/postgres.js';
import { CLI, fetchAllEntries, type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'opa');
const SAMPLE = readFileSync(join(FIXTURES, 'upload-batch.json'));
const TEMPLATE = (JSON.parse(SAMPLE.toString()) as Record<string, unknown>[])[0]!;
const SIGN_MS = 500;
const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const procs: RunningServer[] = [];
afterAll(async () => {
  for (const s of procs.splice(0)) {
    s.proc.kill('SIGCONT');
    await s.kill();
  }
});

/** N data directories holding the same signer key (servers on one database share it). */
function sharedKeyDirs(n: number): string[] {
  const dirs = Array.from({ length: n }, () => tempDir());
  execFileSync(process.execPath, [CLI, 'keygen', '--origin', 'scale.example/log', '--out', dirs[0]!]);
  for (const d of dirs.slice(1)) {
    for (const f of ['log.key', 'log.vkey']) copyFileSync(join(dirs[0]!, f), join(d, f));
  }
  return dirs;
}

/** A cluster of servers on one database, each restartable on its own data directory. */
class Fleet {
  readonly servers: (RunningServer | undefined)[];
  constructor(
    readonly url: string,
    readonly dirs: string[],
  ) {
    this.servers = dirs.map(() => undefined);
  }
  args(): string[] {
    return ['--store', this.url, '--sign-interval-ms', String(SIGN_MS), '--max-queue', '1000000'];
  }
  async start(i: number): Promise<RunningServer> {
    const s = await startServer(this.dirs[i]!, this.args());
    procs.push(s);
    this.servers[i] = s;
    return s;
  }
  live(): RunningServer[] {
    return this.servers.filter((s): s is RunningServer => s !== undefined);
  }
  /** The largest checkpoint size stored so far. */
  async storedSize(): Promise<number> {
    const c = new pg.Client({ connectionString: this.url });
    await c.connect();
    try {
      return Number((await c.query('SELECT max(size) AS m FROM checkpoints')).rows[0].m);
    } finally {
      await c.end();
    }
  }
  /** Index of the server holding the sequencer lease (its holder names its pid). */
  async sequencer(): Promise<number | undefined> {
    const c = new pg.Client({ connectionString: this.url });
    await c.connect();
    try {
      const r = await c.query('SELECT holder FROM lease WHERE id = 1 AND expires_at > now()');
      const pid = Number(String(r.rows[0]?.holder ?? '').split('/')[1]);
      const i = this.servers.findIndex((s) => s?.proc.pid === pid);
      return i < 0 ? undefined : i;
    } finally {
      await c.end();
    }
  }
}

/** A generated OPA upload of `n` decisions with fresh ids. */
function generated(tag: string, n: number): { body: string; ids: string[] } {
  const ids = Array.from({ length: n }, (_, i) => `${tag}-${i}`);
  const events = ids.map((id, i) => ({ ...TEMPLATE, decision_id: id, req_id: i }));
  return { body: JSON.stringify(events), ids };
}

async function post(url: string, body: string | Uint8Array): Promise<number[] | undefined> {
  try {
    const res = await fetch(`${url}/logs`, {
      method: 'POST',
      body: body as string,
      headers: { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(20_000),
    });
    if (res.status !== 200) return undefined;
    return ((await res.json()) as { indices: number[] }).indices;
  } catch {
    return undefined; // the server died mid-request: not acknowledged
  }
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

describe.skipIf(!postgresAvailable())('three servers on one PostgreSQL, one elected sequencer', () => {
  test('uploads to all three while the sequencer is SIGKILLed: nothing acknowledged lost, no fork', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const fleet = new Fleet(url, sharedKeyDirs(3));
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
    expect(
      await checkStoredCheckpoints(
        url,
        entries.map((e) => leafHash(e)),
      ),
    ).toBeGreaterThan(3);

    // Lookups (with their proofs), proofs and search answer the same from every server.
    const ids = [...acked.keys()].filter((_, i) => i % Math.ceil(acked.size / 10) === 0);
    const paths = [
      ...ids.map((id) => `/v1/decisions/${id}`),
      `/v1/proof/consistency?from=${Math.floor(size / 3)}&to=${size}`,
      `/v1/proof/inclusion?index=${size - 1}&tree_size=${size}`,
      '/v1/decisions?limit=40&cursor=100',
      '/checkpoint',
    ];
    for (const p of paths) {
      const bodies = await Promise.all(fleet.live().map(async (s) => (await fetch(`${s.url}${p}`)).text()));
      for (const b of bodies) expect(b, p).toBe(bodies[0]);
    }
    // And `opa-tlog audit` recomputes the whole log from each server's tiles.
    for (const s of fleet.live()) {
      const out = await execFileAsync(process.execPath, [CLI, 'audit', '--url', s.url, '--vkey', s.vkey]);
      expect(out.stdout).toMatch(new RegExp(`\\b${size}\\b`));
    }
  }, 180_000);

  test('a sequencer paused past its lease steps down on waking; the log does not fork', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const fleet = new Fleet(url, sharedKeyDirs(2));
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
