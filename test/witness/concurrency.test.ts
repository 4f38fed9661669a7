/**
 * Concurrent add-checkpoint requests for one log never roll the witness back: two witness
 * instances share one SQLite file (two connections, as two processes would) behind two HTTP
 * servers, and many clients race checkpoints of one growing tree at them, retrying on 409 from
 * the returned size as a log does.
 */

import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { formatAddCheckpointRequest, parseTlogSize } from '../../src/core/witness-protocol.js';
import type { Witness } from '../../src/witness/witness.js';
import { TEST_VERIFIER, tempDir } from '../helpers/log.js';
import { grow, makeWitness, newLog, type Served, serveWitness } from './helpers.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

test('many parallel add-checkpoints for one log: successes form one increasing chain', async () => {
  const log = await newLog();
  cleanup.push(() => log.close());
  const notes = new Map<number, string>();
  const N = 24;
  for (let s = 1; s <= N; s++) {
    await grow(log, 1, 'c');
    notes.set(s, log.latest().note);
  }
  const dbPath = join(tempDir('opa-tlog-witness-cc-'), 'witness.db');
  const a = makeWitness(1, [TEST_VERIFIER], { dbPath });
  const b = makeWitness(1, [TEST_VERIFIER], { dbPath }); // same key, same file, second connection
  cleanup.push(
    () => a.store.close(),
    () => b.store.close(),
  );

  // Record every state write, in the order the witnesses perform them.
  const writes: number[] = [];
  for (const w of [a, b] as Witness[]) {
    const put = w.store.put.bind(w.store);
    w.store.put = (origin, size, root, note) => {
      writes.push(size);
      put(origin, size, root, note);
    };
  }
  const servers: Served[] = [await serveWitness(a), await serveWitness(b)];
  cleanup.push(...servers.map((s) => () => s.close()));

  const successes: { old: number; size: number }[] = [];
  let conflicts = 0;
  // Client i pushes size `target` starting from a guessed old size, retrying on 409.
  const client = async (i: number, target: number) => {
    let old = (i * 7) % target; // deliberately often stale or wrong
    for (let attempt = 0; attempt < 50; attempt++) {
      const proof = old === 0 || old === target ? [] : await log.consistencyProof(old, target);
      const url = servers[(i + attempt) % 2]!.url;
      const res = await fetch(`${url}/add-checkpoint`, {
        method: 'POST',
        body: formatAddCheckpointRequest(old, proof, notes.get(target)!),
      });
      const text = await res.text();
      if (res.status === 200) {
        successes.push({ old, size: target });
        return;
      }
      expect(res.status).toBe(409);
      expect(res.headers.get('content-type')).toBe('text/x.tlog.size');
      conflicts++;
      const known = parseTlogSize(text)!;
      if (known > target) return; // the witness moved past us: nothing to do
      old = known;
    }
    throw new Error('client did not converge');
  };
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < 96; i++) jobs.push(client(i, 1 + ((i * 5) % N)));
  await Promise.all(jobs);

  // Never rolled back: every write is at least the previous one (equal = refreshed cosignature).
  for (let k = 1; k < writes.length; k++) expect(writes[k]!).toBeGreaterThanOrEqual(writes[k - 1]!);
  // Successful requests chain: each one's old size is the size of the previous success.
  const ordered = [...successes].sort((x, y) => x.size - y.size || x.old - y.old);
  let prev = 0;
  for (const s of ordered) {
    expect([prev, s.size]).toContain(s.old);
    prev = s.size;
  }
  expect(conflicts).toBeGreaterThan(0);
  const maxTarget = Math.max(...Array.from({ length: 96 }, (_, i) => 1 + ((i * 5) % N)));
  const state = a.store.get(log.origin)!;
  expect(state.size).toBe(maxTarget);
  expect(b.store.get(log.origin)!.size).toBe(maxTarget);
  expect(openCheckpoint(state.note, TEST_VERIFIER).checkpoint.size).toBe(maxTarget);
});
