/**
 * The witness pusher on servers sharing one database (isSequencer): only the sequencer
 * pushes; a follower publishes the checkpoint whose stored cosignatures meet the quorum; a
 * follower that becomes the sequencer re-reads each witness's size from the shared state and
 * continues its chain (its first push's old size is what the previous sequencer got
 * cosigned), and pushes a checkpoint nobody pushed even when the tree has not grown since. Two pushers on one state stand for two
 * servers; the PostgreSQL end to end is test/scale-out/witness-push.test.ts.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { parsePolicy, verifyCheckpointWithPolicy } from '../../src/core/policy.js';
import type { SqliteLogStorage } from '../../src/store/sqlite-storage.js';
import { SqliteWitnessPushState } from '../../src/store/witness-push-state.js';
import { WitnessPusher } from '../../src/witness/pusher.js';
import { TEST_ORIGIN, TEST_SIGNER } from '../helpers/log.js';
import { grow, makeWitness, newLog, serveWitness } from './helpers.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok(), what).toBe(true);
};

describe('witness pusher, one sequencer among servers', () => {
  test('followers never push and publish what the state shows; a new sequencer continues the chain', async () => {
    const log = await newLog();
    cleanup.push(() => log.close());
    const witness = makeWitness(7);
    const served = await serveWitness(witness);
    cleanup.push(() => served.close());
    const policy = parsePolicy(
      [`log ${TEST_SIGNER.vkey}`, `witness w ${witness.signer.vkey} ${served.url}`, 'quorum w'].join('\n'),
    );
    const state = new SqliteWitnessPushState((log.storage as SqliteLogStorage).db);
    let sequencer = 'A';
    const olds: { A: string[]; B: string[]; [k: string]: string[] } = { A: [], B: [] };
    const pusher = (name: string) => {
      const p = new WitnessPusher({
        origin: TEST_ORIGIN,
        policy,
        consistencyProof: (m, n) => log.consistencyProof(m, n),
        state,
        minIntervalMs: 0,
        isSequencer: () => sequencer === name,
        followRefreshMs: 20,
        fetch: async (input, init) => {
          olds[name]!.push(String(init?.body).split('\n')[0]!);
          return fetch(input, init);
        },
      });
      cleanup.push(() => p.close());
      log.onCheckpoint((cp) => p.onCheckpoint(cp));
      return p;
    };
    const a = pusher('A');
    const b = pusher('B');
    await Promise.all([a.ready(), b.ready()]);

    await grow(log, 5, 'x');
    await grow(log, 3, 'y');
    await a.flush();
    expect(a.publishedSize()).toBe(8);
    expect(olds.A).toEqual(['old 0', 'old 5']);
    expect(olds.B).toEqual([]);
    // The follower publishes the stored cosigned checkpoint, with the witness's line.
    await until('the follower publishes 8', () => b.publishedSize() === 8);
    expect(verifyCheckpointWithPolicy(b.published()!, policy).witnesses).toEqual(['w']);

    // B is elected. The newest checkpoint (8) is already cosigned and published: nothing to
    // send until the next one, which continues from 8.
    sequencer = 'B';
    await new Promise((r) => setTimeout(r, 100));
    expect(olds.B).toEqual([]);
    await grow(log, 2, 'z');
    await until('B pushed 10', () => b.publishedSize() === 10);
    await b.flush();
    expect(olds.B).toEqual(['old 8']);
    expect(olds.A).toEqual(['old 0', 'old 5']);
    await until('A, now a follower, publishes 10', () => a.publishedSize() === 10);

    // Back to A, which re-reads the size B left (10), not its own last one (8).
    sequencer = 'A';
    await grow(log, 1, 'w');
    await until('A pushed 11', () => a.publishedSize() === 11);
    expect(olds.A).toEqual(['old 0', 'old 5', 'old 10']);
    expect(witness.store.get(TEST_ORIGIN)?.size).toBe(11);

    // A checkpoint signed between two terms (no sequencer pushing) is pushed by the next
    // sequencer within its refresh period, without waiting for the tree to grow.
    sequencer = 'none';
    await grow(log, 1, 'v');
    await new Promise((r) => setTimeout(r, 60));
    expect(olds.A.length + olds.B.length).toBe(4);
    sequencer = 'B';
    await until('B pushed 12', () => b.publishedSize() === 12);
    expect(olds.B).toEqual(['old 8', 'old 11']);
  });
});
