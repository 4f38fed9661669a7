/**
 * The shared byte budget of bodies being decoded (src/http/decode-budget.ts): its rule against
 * a model, and the ingest routes under several large bodies at once: every answer is a commit
 * or a 503 `overloaded` with Retry-After that applied nothing, the bytes in flight never pass
 * the budget, and a refused upload sent again is committed.
 */
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { TokenStore } from '../../src/http/auth.js';
import { DecodeBudget } from '../../src/http/decode-budget.js';
import { HttpError } from '../../src/http/errors.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { openTestLog, tempDir } from '../helpers/log.js';

const MiB = 1024 * 1024;

let log: TransparencyLog | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await log?.close();
  log = undefined;
});

describe('DecodeBudget', () => {
  test('refuses past the budget unless alone, and gives bytes back on release', () => {
    const b = new DecodeBudget(100);
    const a = b.open();
    const c = b.open();
    a.take(60);
    c.take(40);
    expect(b.usedBytes).toBe(100);
    let refused: unknown;
    try {
      c.take(1);
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(HttpError);
    expect((refused as HttpError).status).toBe(503);
    expect((refused as HttpError).code).toBe('overloaded');
    expect((refused as HttpError).headers['Retry-After']).toBe('1');
    c.release();
    c.release(); // idempotent
    expect(b.usedBytes).toBe(60);
    // Alone, a decode may go past the budget (its own per-request cap bounds it).
    a.take(500);
    expect(b.usedBytes).toBe(560);
    // ...and then nobody else gets a byte until it is done.
    const d = b.open();
    expect(() => d.take(1)).toThrow(HttpError);
    a.release();
    expect(b.usedBytes).toBe(0);
    d.take(100);
    expect(b.usedBytes).toBe(100);
  });

  test('matches a model over random takes and releases', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const b = new DecodeBudget(1000);
    const open: { r: ReturnType<DecodeBudget['open']>; held: number }[] = [];
    for (let i = 0; i < 5000; i++) {
      const op = rnd(3);
      if (op === 0 || open.length === 0) open.push({ r: b.open(), held: 0 });
      else if (op === 1) {
        const [x] = open.splice(rnd(open.length), 1);
        x!.r.release();
      } else {
        const x = open[rnd(open.length)]!;
        const n = rnd(400);
        const used = open.reduce((s, o) => s + o.held, 0);
        const others = open.filter((o) => o !== x && o.held > 0).length;
        const ok = used + n <= 1000 || others === 0;
        if (ok) {
          x.r.take(n);
          x.held += n;
        } else expect(() => x.r.take(n)).toThrow(HttpError);
      }
      expect(b.usedBytes).toBe(open.reduce((s, o) => s + o.held, 0));
    }
  });
});

describe('ingest under the decode budget', () => {
  const INGEST = 'ingest:ingest-token-0123456789';
  const auth = { authorization: `Bearer ${INGEST.slice(INGEST.indexOf(':') + 1)}` };

  async function setup() {
    log = await openTestLog(`${tempDir()}/log.db`, { signIntervalMs: 20 });
    return createApp(log, {
      ...DEFAULT_APP_OPTIONS,
      tokens: new TokenStore(INGEST, []),
      ingest: {
        ...DEFAULT_APP_OPTIONS.ingest,
        maxCompressedBytes: 4 * MiB,
        maxDecompressedBytes: 4 * MiB,
        maxConcurrentDecodes: 4,
        maxDecodeBytes: 6 * MiB,
      },
    });
  }

  /** A JSON array of `n` OPA-shaped decisions of ~`size` bytes each, ids from `tag`. */
  const events = (tag: string, n: number, size: number) =>
    JSON.stringify(
      Array.from({ length: n }, (_, i) => ({
        decision_id: `${tag}-${i}`,
        labels: { id: 'opa-1' },
        path: 'authz/allow',
        result: true,
        input: { pad: `${tag}:${i}:`.padEnd(size, 'x') },
      })),
    );

  /** Records the budget's bytes in flight after every successful take. */
  function watchBudget(): number[] {
    const seen: number[] = [];
    const open = DecodeBudget.prototype.open;
    vi.spyOn(DecodeBudget.prototype, 'open').mockImplementation(function (this: DecodeBudget) {
      const r = open.call(this);
      return {
        take: (n: number) => {
          r.take(n);
          seen.push(this.usedBytes);
        },
        release: r.release,
      };
    });
    return seen;
  }

  test('several large gzip bodies at once: commits or 503s, never past the budget', async () => {
    const seen = watchBudget();
    const app = await setup();
    const bodies = ['a', 'b', 'c', 'd', 'e', 'f'].map((t) => ({ tag: t, json: events(t, 100, 30_000) }));
    for (const b of bodies) expect(b.json.length).toBeGreaterThan(2.5 * MiB);
    const send = (json: string) =>
      app.request('/logs', {
        method: 'POST',
        body: gzipSync(json),
        headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
    const answers = await Promise.all(bodies.map((b) => send(b.json)));
    let committed = 0;
    for (const res of answers) {
      if (res.status === 200) {
        expect(((await res.json()) as { appended: number }).appended).toBe(100);
        committed += 100;
      } else {
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        expect(((await res.json()) as { error: string }).error).toBe('overloaded');
      }
    }
    expect(seen.length).toBeGreaterThan(0);
    for (const used of seen) expect(used).toBeLessThanOrEqual(6 * MiB);
    // A refused upload applied nothing; sent again (alone), it is committed.
    expect(log!.committedSize).toBe(committed);
    for (const [i, res] of answers.entries()) {
      if (res.status === 200) continue;
      const again = await send(bodies[i]!.json);
      expect(again.status).toBe(200);
      committed += 100;
    }
    expect(log!.committedSize).toBe(committed);
  });

  test('a body that cannot get budget while another holds it is refused, then accepted', async () => {
    const seen = watchBudget();
    const app = await setup();
    // A plain (not compressed) upload held open near its end: its 3 MiB stay reserved.
    const first = events('held', 120, 30_000);
    expect(first.length).toBeGreaterThan(3.2 * MiB);
    const bytes = new TextEncoder().encode(first);
    const cut = 3 * MiB;
    let finish: () => void = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start(ctl) {
        for (let o = 0; o < cut; o += 64 * 1024) ctl.enqueue(bytes.subarray(o, Math.min(o + 64 * 1024, cut)));
        finish = () => {
          ctl.enqueue(bytes.subarray(cut));
          ctl.close();
        };
      },
    });
    const held = app.request('/logs', {
      method: 'POST',
      body: stream,
      headers: { ...auth, 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit);
    // Let the held upload take its bytes (the stream is read as the server wants it).
    while ((seen.at(-1) ?? 0) < cut) await new Promise((r) => setTimeout(r, 10));
    const second = gzipSync(events('late', 110, 30_000));
    const refused = await app.request('/logs', {
      method: 'POST',
      body: second,
      headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: string }).error).toBe('overloaded');
    finish();
    expect((await held).status).toBe(200);
    const retried = await app.request('/logs', {
      method: 'POST',
      body: second,
      headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(retried.status).toBe(200);
    expect(log!.committedSize).toBe(230);
  });
});
