/**
 * Dedup that cannot be abused (issue 15 part 3): a resend is a duplicate only when it is the
 * same event; the same ids with other content are both logged, the later one flagged as
 * conflicting, and a lookup of the id returns both; an Idempotency-Key reused with another
 * body is refused whole (422). In process (inline commits) on SQLite and PostgreSQL, and against
 * the real server (dist/, whose commits run in the writer thread).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { LogClient, type LogClientOptions } from '../../src/client/client.js';
import { fromBase64 } from '../../src/core/bytes.js';
import { decodeEntry } from '../../src/core/entry.js';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { TokenStore } from '../../src/http/auth.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { engines } from '../helpers/engines.js';
import { openTestLog, TEST_SIGNER, tempDir } from '../helpers/log.js';
import { type RunningServer, startServer } from '../helpers/server.js';

let log: TransparencyLog | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await log?.close();
  await server?.stop();
  log = undefined;
  server = undefined;
});

/** Sends requests to an in-process app (inline commits) or to the real server (writer thread). */
type Send = (path: string, init?: RequestInit) => Promise<Response>;

/** How a test runs: in process on SQLite or PostgreSQL (inline commits), or the real server. */
type Mode = 'sqlite' | 'postgres' | 'writer thread';
const modes: Mode[] = [...engines.map((e) => e.name), 'writer thread'];
const location = (mode: Mode) => engines.find((e) => e.name === mode)!.location();

async function setup(mode: Mode): Promise<Send> {
  if (mode === 'writer thread') {
    server = await startServer(join(tempDir(), 'data'), ['--sign-interval-ms', '20']);
    const url = server.url;
    return (path, init) => fetch(`${url}${path}`, init);
  }
  log = await openTestLog(await location(mode), { signIntervalMs: 20 });
  const app = createApp(log, {
    ...DEFAULT_APP_OPTIONS,
    tokens: new TokenStore('', []),
    checkpointWaitMs: 2000,
  });
  return async (path, init) => app.request(path, init);
}

const post = (send: Send, path: string, body: unknown, headers: Record<string, string> = {}) =>
  send(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
const json = async (r: Response) => (await r.json()) as Record<string, unknown>;

const decision = (result: unknown) => ({
  labels: { id: 'opa-1' },
  decision_id: 'd-42',
  timestamp: '2025-01-15T10:30:00Z',
  path: 'authz/allow',
  result,
});

describe.each(modes)('dedup on content (%s)', (mode) => {
  test('same ids, other content: both logged, the later conflicting; a lookup shows both', async () => {
    const app = await setup(mode);
    const real = decision(true);
    const forged = decision(false);
    expect(await json(await post(app, '/logs', [forged]))).toMatchObject({
      appended: 1,
      duplicates: 0,
      conflicts: 0,
    });
    // The real decision, sent second, is no longer swallowed as a "duplicate".
    const second = await json(await post(app, '/logs', [real]));
    expect(second).toMatchObject({ appended: 1, duplicates: 0, conflicts: 1, indices: [1] });
    // True resends of either are duplicates of their own entry.
    expect(await json(await post(app, '/logs', [real, forged]))).toMatchObject({
      appended: 0,
      duplicates: 2,
      conflicts: 0,
      indices: [1, 0],
    });
    const r = await app('/v1/decisions/d-42');
    expect(r.status).toBe(200);
    const body = (await r.json()) as {
      index: number;
      event: { result: boolean };
      conflicts: { index: number; conflicts_with: number; event: { result: boolean }; entry: string }[];
    };
    expect(body).toMatchObject({ index: 0, event: { result: false } });
    expect(body.conflicts).toHaveLength(1);
    expect(body.conflicts[0]).toMatchObject({ index: 1, conflicts_with: 0, event: { result: true } });
    expect(decodeEntry(fromBase64(body.conflicts[0]!.entry)!).id).toBe('d-42');
    const bySource = (await (await app('/v1/decisions/d-42?source=opa-1')).json()) as {
      conflicts: unknown[];
    };
    expect(bySource.conflicts).toHaveLength(1);
  });

  test('one decision id in thousands of events: each logged once, every resend a duplicate', async () => {
    // An uploader may send one decision_id with many contents (a broken or hostile client): the
    // commit's dedup must stay exact and must not slow down with the number of such events
    // (it once compared each with all the others: 1,292 in a batch held the writer ~11 s).
    const app = await setup(mode);
    const batches = [0, 1, 2].map((b) => Array.from({ length: 1000 }, (_, i) => decision(b * 1000 + i)));
    for (const [b, batch] of batches.entries()) {
      expect(await json(await post(app, '/logs', batch))).toMatchObject({
        appended: 1000,
        duplicates: 0,
        conflicts: b === 0 ? 999 : 1000,
      });
    }
    for (const [b, batch] of batches.entries()) {
      const again = await json(await post(app, '/logs', batch));
      expect(again).toMatchObject({ appended: 0, duplicates: 1000, conflicts: 0 });
      expect(again.indices).toEqual(Array.from({ length: 1000 }, (_, i) => b * 1000 + i));
    }
    const body = (await json(await app('/v1/decisions/d-42'))) as { index: number; conflicts: unknown[] };
    expect(body.index).toBe(0);
    expect(body.conflicts.length).toBeGreaterThan(0);
  });

  test('no conflict keeps the single-entry answer', async () => {
    const app = await setup(mode);
    await post(app, '/logs', [decision(true)]);
    await post(app, '/logs', [decision(true)]);
    const body = await json(await app('/v1/decisions/d-42'));
    expect(body.index).toBe(0);
    expect('conflicts' in body).toBe(false);
  });

  test('an Idempotency-Key reused with another body is refused whole (422), nothing applied', async () => {
    const app = await setup(mode);
    const key = { 'idempotency-key': 'k1' };
    expect((await post(app, '/v1/entries', [{ a: 1 }, { a: 2 }], key)).status).toBe(200);
    for (const body of [
      [{ a: 1 }, { a: 3 }], // same count, one item differs: would have been half applied
      [{ a: 1 }, { a: 2 }, { a: 4 }], // longer
      [{ a: 1 }], // shorter
      [{ a: 9 }, { a: 2 }],
    ]) {
      const r = await post(app, '/v1/entries', body, key);
      expect([JSON.stringify(body), r.status]).toEqual([JSON.stringify(body), 422]);
      expect((await json(r)).error).toBe('idempotency_key_reused');
    }
    const again = await json(await post(app, '/v1/entries', [{ a: 1 }, { a: 2 }], key));
    expect(again).toMatchObject({ indices: [0, 1], duplicates: [true, true] });
    // Nothing of the refused bodies was applied: the next entry takes index 2.
    expect(await json(await post(app, '/v1/entries', [{ b: 1 }]))).toMatchObject({ indices: [2] });
  });
});

describe.each(engines)('$name: the client surfaces conflicts and withheld ids', (engine) => {
  test('verifyDecision returns the conflicting entries, each verified; a withheld id verifies', async () => {
    log = await openTestLog(await engine.location(), { signIntervalMs: 20 });
    const app = createApp(log, DEFAULT_APP_OPTIONS);
    const fetchApp: LogClientOptions['fetch'] = async (input, init) => app.fetch(new Request(input, init));
    await post(async (p, i) => app.request(p, i), '/logs', [
      decision(false),
      decision(true),
      { ...decision(true), decision_id: 'carol@example.com' },
    ]);
    await log.signNow();
    const client = new LogClient({ url: 'http://log.test', vkey: TEST_SIGNER.vkey, fetch: fetchApp });
    const r = await client.verifyDecision('d-42', { source: 'opa-1' });
    expect(r.index).toBe(0);
    expect(r.conflicts?.map((c) => [c.index, c.commitment])).toEqual([[1, 'verified']]);
    const w = await client.verifyDecision('carol@example.com');
    expect([w.index, w.entry.id, w.commitment]).toEqual([2, '', 'verified']);
  });
});
