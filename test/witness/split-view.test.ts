/**
 * A lying log: two logs with the SAME key and origin but different entries (a split view).
 * Tree A is shown to witness 1, tree B to witness 2. Witness 2 refuses tree A (409 then 422,
 * evidence kept), witness 1 catches the split by gossip, and `opa-tlog monitor` catches it with
 * the evidence (both signed notes and the failing proof) on disk and a non-zero exit code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, test, vi } from 'vitest';
import { runMonitor } from '../../src/cli/monitor.js';
import { fromBase64 } from '../../src/core/bytes.js';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { verifyConsistency } from '../../src/core/merkle.js';
import { parsePolicy } from '../../src/core/policy.js';
import { formatAddCheckpointRequest } from '../../src/core/witness-protocol.js';
import { Gossip } from '../../src/witness/gossip.js';
import { Monitor, monitorExitCode, type SplitViewEvidence } from '../../src/witness/monitor.js';
import { WitnessPusher } from '../../src/witness/pusher.js';
import type { Witness } from '../../src/witness/witness.js';
import { TEST_ORIGIN, TEST_SIGNER, TEST_VERIFIER, tempDir } from '../helpers/log.js';
import { grow, makeWitness, newLog, type Served, serveLog, serveWitness } from './helpers.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  vi.restoreAllMocks();
});

function pusherFor(
  w: Witness,
  url: string,
  proof: (m: number, n: number) => Promise<Uint8Array[]>,
): WitnessPusher {
  const p = new WitnessPusher({
    origin: TEST_ORIGIN,
    policy: parsePolicy(`witness w ${w.signer.vkey} ${url}\nquorum w\n`),
    consistencyProof: proof,
    minIntervalMs: 0,
  });
  cleanup.push(() => p.close());
  return p;
}

test('split view: refused by the witness, caught by gossip and by the monitor', async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  vi.spyOn(console, 'error').mockImplementation(() => {});
  const logA = await newLog();
  const logB = await newLog();
  cleanup.push(
    () => logA.close(),
    () => logB.close(),
  );
  await grow(logA, 3, 'A');
  const a3 = logA.latest();
  await grow(logA, 1, 'A');
  await grow(logB, 3, 'B');
  expect(logA.latest().size).toBe(4);
  expect(logB.latest().size).toBe(3);
  // Same key, same origin: both trees verify with the one log key.
  openCheckpoint(logA.latest().note, TEST_VERIFIER);
  openCheckpoint(logB.latest().note, TEST_VERIFIER);

  const srvA: Served = await serveLog(logA); // the log's public URL shows tree A
  cleanup.push(() => srvA.close());
  const w1 = makeWitness(1, [TEST_VERIFIER], { url: srvA.url });
  const w2 = makeWitness(2, [TEST_VERIFIER], { url: srvA.url });
  const s1 = await serveWitness(w1);
  const s2 = await serveWitness(w2);
  cleanup.push(
    () => s1.close(),
    () => s2.close(),
  );

  // The log shows tree A to witness 1 and tree B to witness 2: each cosigns what it sees.
  const toW1 = pusherFor(w1, s1.url, (m, n) => logA.consistencyProof(m, n));
  toW1.onCheckpoint(logA.latest());
  await toW1.flush();
  expect(toW1.publishedSize()).toBe(4);
  const toW2 = pusherFor(w2, s2.url, (m, n) => logB.consistencyProof(m, n));
  toW2.onCheckpoint(logB.latest());
  await toW2.flush();
  expect(toW2.publishedSize()).toBe(3);

  // Witness 2 refuses tree A: 409 (it holds 3), then 422 for the proof 3 -> 4 from tree A.
  const aToW2 = pusherFor(w2, s2.url, (m, n) => logA.consistencyProof(m, n));
  aToW2.onCheckpoint(logA.latest());
  await aToW2.flush();
  expect(aToW2.published()).toBeUndefined();
  expect(aToW2.status().witnesses[0]!.knownSize).toBe(3);
  expect(aToW2.status().witnesses[0]!.lastError).toMatch(/^HTTP 422: invalid consistency proof/);
  // ... and A's size-3 checkpoint (same size, other root): 422, recorded as a fork.
  const same = await fetch(`${s2.url}/add-checkpoint`, {
    method: 'POST',
    body: formatAddCheckpointRequest(3, [], a3.note),
  });
  expect(same.status).toBe(422);
  expect(w2.store.get(TEST_ORIGIN)!.size).toBe(3);
  const kinds = w2.evidence().map((e) => e.kind);
  expect(kinds).toContain('inconsistent_proof');
  expect(kinds).toContain('same_size_different_root');

  // Gossip: witness 1 compares with witness 2 and records the split view.
  const gossip = new Gossip({
    witness: w1,
    peers: [{ url: s2.url, vkey: w2.signer.vkey }],
  });
  const round = await gossip.runOnce();
  expect(round.compared).toBe(1);
  expect(round.newEvidence).toBe(1);
  expect((await gossip.runOnce()).newEvidence).toBe(0); // deduplicated
  const ev = (await (await fetch(`${s1.url}/evidence`)).json()) as {
    evidence: { kind: string; source: string; theirs: string; proof: string[] }[];
  };
  expect(ev.evidence).toHaveLength(1);
  expect(ev.evidence[0]!.kind).toBe('inconsistent_proof');
  expect(ev.evidence[0]!.source).toBe(`gossip ${s2.url}`);
  expect(openCheckpoint(ev.evidence[0]!.theirs, TEST_VERIFIER).checkpoint.size).toBe(3);

  // The monitor (CLI entry point) catches it: exit 1, evidence on disk.
  const state = tempDir('opa-tlog-monitor-');
  const code = await runMonitor([
    '--log-url',
    srvA.url,
    '--vkey',
    TEST_SIGNER.vkey,
    '--witness',
    `${s1.url}=${w1.signer.vkey}`,
    '--witness',
    `${s2.url}=${w2.signer.vkey}`,
    '--state',
    state,
    '--once',
  ]);
  expect(code).toBe(1);
  const files = readdirSync(join(state, 'evidence'));
  expect(files).toHaveLength(1);
  const evidence = JSON.parse(readFileSync(join(state, 'evidence', files[0]!), 'utf8')) as SplitViewEvidence;
  expect(evidence.reason).toBe('inconsistent_proof');
  expect(evidence.origin).toBe(TEST_ORIGIN);
  // Self-contained: both notes verify with the log key, and the kept proof fails between them.
  const small = openCheckpoint(evidence.a.note, TEST_VERIFIER).checkpoint;
  const large = openCheckpoint(evidence.b.note, TEST_VERIFIER).checkpoint;
  expect([small.size, large.size]).toEqual([3, 4]);
  expect(evidence.a.source).toBe(`witness ${s2.url}`);
  expect(evidence.proof).not.toBeNull();
  const hashes = evidence.proof!.hashes.map((h) => fromBase64(h)!);
  expect(() => verifyConsistency(3, 4, small.rootHash, large.rootHash, hashes)).toThrow();
  // No new "last verified" checkpoint is stored after a split.
  expect(readdirSync(state)).not.toContain('checkpoint');

  // Same size: tree B grows to 4 and witness 2 cosigns it; the monitor sees two roots at 4.
  await grow(logB, 1, 'B');
  toW2.onCheckpoint(logB.latest());
  await toW2.flush();
  const monitor = new Monitor({
    logUrl: srvA.url,
    logVkey: TEST_SIGNER.vkey,
    witnesses: [
      { url: s1.url, vkey: w1.signer.vkey },
      { url: s2.url, vkey: w2.signer.vkey },
    ],
    stateDir: state,
  });
  const report = await monitor.check();
  expect(monitorExitCode(report)).toBe(1);
  expect(report.splitViews.map((s) => s.reason)).toEqual(['same_size_different_root']);
  expect(report.splitViews[0]!.proof).toBeNull();
  expect(readdirSync(join(state, 'evidence'))).toHaveLength(2);
});

test('an honest log: the monitor exits 0 and remembers the checkpoint; a later rollback is caught', async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  vi.spyOn(console, 'error').mockImplementation(() => {});
  const log = await newLog();
  cleanup.push(() => log.close());
  await grow(log, 5, 'h');
  const srv = await serveLog(log);
  cleanup.push(() => srv.close());
  const w = makeWitness(3, [TEST_VERIFIER], { url: srv.url });
  const sw = await serveWitness(w);
  cleanup.push(() => sw.close());
  const p = pusherFor(w, sw.url, (m, n) => log.consistencyProof(m, n));
  p.onCheckpoint(log.latest());
  await p.flush();
  await grow(log, 2, 'h'); // the log moves on; the witness still shows 5: a prefix
  const state = tempDir('opa-tlog-monitor-');
  const args = ['--log-url', srv.url, '--vkey', TEST_SIGNER.vkey, '--witness', `${sw.url}=${w.signer.vkey}`];
  expect(await runMonitor([...args, '--state', state, '--once'])).toBe(0);
  expect(openCheckpoint(readFileSync(join(state, 'checkpoint'), 'utf8'), TEST_VERIFIER).checkpoint.size).toBe(
    7,
  );

  // Later the same URL serves another tree of the same key (size 7, other entries).
  const other = await newLog();
  cleanup.push(() => other.close());
  await grow(other, 7, 'evil');
  const evil = await serveLog(other);
  cleanup.push(() => evil.close());
  const code = await runMonitor([
    '--log-url',
    evil.url,
    '--vkey',
    TEST_SIGNER.vkey,
    '--state',
    state,
    '--once',
  ]);
  expect(code).toBe(1);
  expect(readdirSync(join(state, 'evidence'))).toHaveLength(1);
});
