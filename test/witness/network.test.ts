/**
 * A log and three witnesses on loopback with a 2-of-3 tlog-policy: checkpoints get cosigned and
 * published only with a quorum; one witness down does not stop publication; two down keeps
 * the last quorum checkpoint published. Also: 409 recovery, persistence and restore, and the
 * per-witness rate budget (fake timers, fake network).
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { parsePolicy, verifyCheckpointWithPolicy } from '../../src/core/policy.js';
import { parseAddCheckpointRequest } from '../../src/core/witness-protocol.js';
import type { SqliteLogStorage } from '../../src/store/sqlite-storage.js';
import { SqliteWitnessPushState, type WitnessPushState } from '../../src/store/witness-push-state.js';
import { WitnessPusher } from '../../src/witness/pusher.js';
import { createWitnessApp } from '../../src/witness/witness.js';
import { TEST_ORIGIN, TEST_SIGNER, TEST_VERIFIER } from '../helpers/log.js';
import { captureLogger } from '../helpers/logger.js';
import { grow, makeWitness, newLog, type Served, serveLog, serveWitness } from './helpers.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  vi.useRealTimers();
});

describe('log + three witnesses, 2-of-3', () => {
  test('cosigned publication, one witness down, two down', async () => {
    const log = await newLog();
    cleanup.push(() => log.close());
    const witnesses = [1, 2, 3].map((n) => makeWitness(n));
    const servers: Served[] = [];
    for (const w of witnesses) servers.push(await serveWitness(w));
    const open = new Set(servers);
    cleanup.push(async () => {
      for (const s of open) await s.close();
    });
    const policyText = [
      `log ${TEST_SIGNER.vkey}`,
      ...witnesses.map((w, i) => `witness w${i + 1} ${w.signer.vkey} ${servers[i]!.url}`),
      'group three 2 w1 w2 w3',
      'quorum three',
    ].join('\n');
    const policy = parsePolicy(policyText);
    const captured = captureLogger();
    const pusher = new WitnessPusher({
      origin: TEST_ORIGIN,
      policy,
      consistencyProof: (m, n) => log.consistencyProof(m, n),
      state: new SqliteWitnessPushState((log.storage as SqliteLogStorage).db),
      minIntervalMs: 0,
      timeoutMs: 5000,
      logger: captured.logger,
    });
    cleanup.push(() => pusher.close());
    log.onCheckpoint((cp) => pusher.onCheckpoint(cp));
    pusher.onCheckpoint(log.latest());
    const server = await serveLog(log, pusher);
    cleanup.push(() => server.close());
    const published = async () => {
      const res = await fetch(`${server.url}/checkpoint`);
      expect(res.status).toBe(200);
      return verifyCheckpointWithPolicy(await res.text(), policy);
    };

    await grow(log, 5, 'a');
    await pusher.flush();
    let v = await published();
    expect(v.checkpoint.size).toBe(5);
    expect(v.witnesses).toEqual(['w1', 'w2', 'w3']);
    // Each witness stored it and moved its state; the log stored every cosignature.
    for (const w of witnesses) expect(w.store.get(TEST_ORIGIN)?.size).toBe(5);
    const rows = (log.storage as SqliteLogStorage).db
      .prepare('SELECT witness FROM cosignatures WHERE size = 5')
      .all();
    expect(rows).toHaveLength(3);

    await grow(log, 3, 'b');
    await pusher.flush();
    v = await published();
    expect(v.checkpoint.size).toBe(8);

    // Witness 3 goes down: still published with two valid cosignatures.
    await servers[2]!.close();
    open.delete(servers[2]!);
    await grow(log, 4, 'c');
    await pusher.flush();
    v = await published();
    expect(v.checkpoint.size).toBe(12);
    expect(v.witnesses).toEqual(['w1', 'w2']);
    const st = pusher.status();
    expect(st.upToDate).toBe(true);
    expect(st.witnesses.find((w) => w.name === 'w3')!.lastError).toBeDefined();

    // Witness 2 goes down too: the quorum checkpoint 12 stays published.
    await servers[1]!.close();
    open.delete(servers[1]!);
    await grow(log, 2, 'd');
    await pusher.flush();
    v = await published();
    expect(v.checkpoint.size).toBe(12);
    expect(pusher.status().upToDate).toBe(false);
    expect(pusher.status().latestSize).toBe(14);
    expect(witnesses[0]!.store.get(TEST_ORIGIN)?.size).toBe(14);
    expect(captured.messages().some((r) => r.includes('NOT met'))).toBe(false); // reported once the next round starts
    await grow(log, 1, 'e');
    await pusher.flush();
    expect(captured.messages().some((r) => r.includes('checkpoint 14: quorum three NOT met'))).toBe(true);
    expect((await published()).checkpoint.size).toBe(12);

    // A fresh pusher on the same database restores what was published, and knows the sizes.
    const again = new WitnessPusher({
      origin: TEST_ORIGIN,
      policy,
      consistencyProof: (m, n) => log.consistencyProof(m, n),
      state: new SqliteWitnessPushState((log.storage as SqliteLogStorage).db),
    });
    cleanup.push(() => again.close());
    await again.ready();
    expect(again.publishedSize()).toBe(12);
    expect(verifyCheckpointWithPolicy(again.published()!, policy).checkpoint.size).toBe(12);
    expect(again.status().witnesses.find((w) => w.name === 'w1')!.knownSize).toBe(15);
  });

  test('a witness ahead of what the log remembers: 409 then retry from its size', async () => {
    const log = await newLog();
    cleanup.push(() => log.close());
    const w = makeWitness(4);
    const s = await serveWitness(w);
    cleanup.push(() => s.close());
    const policy = parsePolicy(`witness w4 ${w.signer.vkey} ${s.url}\nquorum w4\n`);
    const mk = () =>
      new WitnessPusher({
        origin: TEST_ORIGIN,
        policy,
        consistencyProof: (m, n) => log.consistencyProof(m, n),
        minIntervalMs: 0,
      });
    const first = mk();
    cleanup.push(() => first.close());
    await grow(log, 3, 'x');
    first.onCheckpoint(log.latest());
    await first.flush();
    expect(first.publishedSize()).toBe(3);
    // No database: the second pusher believes the witness is at 0.
    const second = mk();
    cleanup.push(() => second.close());
    await grow(log, 4, 'y');
    second.onCheckpoint(log.latest());
    await second.flush();
    expect(second.publishedSize()).toBe(7);
    expect(second.status().witnesses[0]!.knownSize).toBe(7);
    const note = second.published()!;
    expect(openCheckpoint(note, TEST_VERIFIER).checkpoint.size).toBe(7);
  });

  test('a witness that answers with a bad cosignature is not counted', async () => {
    const log = await newLog();
    cleanup.push(() => log.close());
    const honest = makeWitness(5);
    const impostor = makeWitness(6);
    const s = await serveWitness(impostor); // serves the impostor's key under w5's URL
    cleanup.push(() => s.close());
    const policy = parsePolicy(`witness w5 ${honest.signer.vkey} ${s.url}\nquorum w5\n`);
    const pusher = new WitnessPusher({
      origin: TEST_ORIGIN,
      policy,
      consistencyProof: (m, n) => log.consistencyProof(m, n),
      minIntervalMs: 0,
    });
    cleanup.push(() => pusher.close());
    await grow(log, 2, 'z');
    pusher.onCheckpoint(log.latest());
    await pusher.flush();
    expect(pusher.published()).toBeUndefined();
    expect(pusher.status().witnesses[0]!.lastError).toMatch(/no valid cosignature/);
  });
});

describe('async seams', () => {
  test('a state store and a consistency proof that answer later', async () => {
    const log = await newLog();
    cleanup.push(() => log.close());
    const w = makeWitness(8);
    const s = await serveWitness(w);
    cleanup.push(() => s.close());
    const policy = parsePolicy(`witness w8 ${w.signer.vkey} ${s.url}\nquorum w8\n`);
    const sqlite = new SqliteWitnessPushState((log.storage as SqliteLogStorage).db);
    const later = <T>(f: () => Promise<T>) => new Promise<T>((ok) => setTimeout(() => ok(f()), 5));
    const state: WitnessPushState = {
      loadWitnessSizes: () => later(() => sqlite.loadWitnessSizes()),
      setWitnessSize: (...a) => later(() => sqlite.setWitnessSize(...a)),
      saveCosignature: (...a) => later(() => sqlite.saveCosignature(...a)),
      loadCosignedCheckpoints: (n) => later(() => sqlite.loadCosignedCheckpoints(n)),
    };
    const proofs: [number, number][] = [];
    const mk = () =>
      new WitnessPusher({
        origin: TEST_ORIGIN,
        policy,
        consistencyProof: (m, n) => {
          proofs.push([m, n]);
          return later(async () => log.consistencyProof(m, n));
        },
        state,
        minIntervalMs: 0,
      });
    const first = mk();
    cleanup.push(() => first.close());
    await grow(log, 3, 'p');
    first.onCheckpoint(log.latest());
    await first.flush();
    await grow(log, 4, 'q');
    first.onCheckpoint(log.latest());
    await first.flush();
    expect(first.publishedSize()).toBe(7);
    expect(proofs).toEqual([[3, 7]]);
    first.close();

    const second = mk();
    cleanup.push(() => second.close());
    second.onCheckpoint(log.latest()); // held until the state is restored
    expect(second.status().witnesses[0]!.busy).toBe(false);
    await second.ready();
    expect(second.publishedSize()).toBe(7);
    expect(second.status().witnesses[0]!.knownSize).toBe(7);
    await second.flush();
    expect(proofs).toEqual([[3, 7]]); // old = size: no proof needed
  });
});

describe('rate budget', () => {
  test('at most one push per interval per witness; the newest checkpoint is sent next', async () => {
    const log = await newLog();
    cleanup.push(() => log.close());
    for (let n = 0; n < 3; n++) await grow(log, 1, 'r'); // sizes 1, 2, 3 signed (real timers)
    const cps = await Promise.all([1, 2, 3].map(async (n) => (await log.checkpointAt(n))!));
    vi.useFakeTimers();
    const w = makeWitness(7);
    const app = createWitnessApp(w);
    const sent: number[] = [];
    const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const body = String(init?.body);
      sent.push(Number(parseAddCheckpointRequest(body).note.split('\n')[1]));
      return app.fetch(new Request(String(input), { method: 'POST', body }));
    }) as typeof fetch;
    const policy = parsePolicy(`witness w7 ${w.signer.vkey} http://witness.invalid\nquorum w7\n`);
    const pusher = new WitnessPusher({
      origin: TEST_ORIGIN,
      policy,
      consistencyProof: (m, n) => log.consistencyProof(m, n),
      fetch: fakeFetch,
      minIntervalMs: 10_000,
      now: () => Date.now(),
    });
    cleanup.push(() => pusher.close());
    pusher.onCheckpoint(cps[0]!);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([1]);
    expect(pusher.publishedSize()).toBe(1);
    pusher.onCheckpoint(cps[1]!);
    pusher.onCheckpoint(cps[2]!);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(sent).toEqual([1]);
    expect(pusher.publishedSize()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual([1, 3]);
    await pusher.flush();
    expect(pusher.publishedSize()).toBe(3);
    expect(w.store.get(TEST_ORIGIN)?.size).toBe(3);
  });
});
