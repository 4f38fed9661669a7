/**
 * The shared byte budget of bodies being decoded (src/http/decode-budget.ts): its rule against
 * a model, and the ingest routes under several large bodies at once: every upload is answered
 * as without the budget (committed, or 413 for bombs), and the bytes held by all decodes but
 * the oldest never pass the budget.
 */
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { TokenStore } from '../../src/http/auth.js';
import { DecodeBudget } from '../../src/http/decode-budget.js';
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
  test('past the budget a younger decode waits, the oldest never; releases wake them in order', async () => {
    const b = new DecodeBudget(100);
    const a = b.open();
    const c = b.open();
    const d = b.open();
    expect(a.take(60)).toBeUndefined();
    expect(c.take(40)).toBeUndefined();
    expect(b.usedBytes).toBe(100);
    const order: string[] = [];
    c.take(1)?.then(() => order.push('c'));
    d.take(50)?.then(() => order.push('d'));
    // The oldest goes past the budget (its own per-request cap bounds it).
    expect(a.take(500)).toBeUndefined();
    expect(b.usedBytes).toBe(600);
    expect(b.boundedBytes).toBe(40);
    a.release();
    a.release(); // idempotent
    await Promise.resolve();
    // c is now the oldest: granted; d fits (41 + 50 <= 100): granted after it.
    expect(order).toEqual(['c', 'd']);
    expect(b.usedBytes).toBe(91);
    c.release();
    d.release();
    expect(b.usedBytes).toBe(0);
  });

  test('matches a model over random takes and releases: the younger ones never hold more than the budget', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const b = new DecodeBudget(1000);
    type M = { r: ReturnType<DecodeBudget['open']>; held: number; waiting: number };
    const open: M[] = [];
    for (let i = 0; i < 5000; i++) {
      const op = rnd(3);
      if (op === 0 || open.length === 0) open.push({ r: b.open(), held: 0, waiting: 0 });
      else if (op === 1) {
        const [x] = open.splice(rnd(open.length), 1);
        x!.r.release();
        // The model's wake: in order, while they fit (the oldest always fits).
        for (const o of open) {
          if (o.waiting === 0) continue;
          const used = open.reduce((s, m) => s + m.held, 0);
          if (o !== open[0] && used + o.waiting > 1000) break;
          o.held += o.waiting;
          o.waiting = 0;
        }
      } else {
        const x = open[rnd(open.length)]!;
        if (x.waiting > 0) continue;
        const n = rnd(400);
        const used = open.reduce((s, o) => s + o.held, 0);
        const now = x === open[0] || used + n <= 1000;
        const p = x.r.take(n);
        expect(p === undefined).toBe(now);
        if (now) x.held += n;
        else x.waiting = n;
      }
      expect(b.usedBytes).toBe(open.reduce((s, o) => s + o.held, 0));
      expect(b.boundedBytes).toBeLessThanOrEqual(1000);
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

  /** Records, after every take, the bytes held (all, and by all but the oldest) and whether it waited. */
  function watchBudget() {
    const seen = { used: [] as number[], bounded: [] as number[], waited: 0 };
    const open = DecodeBudget.prototype.open;
    vi.spyOn(DecodeBudget.prototype, 'open').mockImplementation(function (this: DecodeBudget) {
      const r = open.call(this);
      const note = () => {
        seen.used.push(this.usedBytes);
        seen.bounded.push(this.boundedBytes);
      };
      return {
        take: (n: number) => {
          const p = r.take(n);
          if (!p) note();
          else seen.waited++;
          return p?.then(note);
        },
        release: r.release,
      };
    });
    return seen;
  }

  const gzipped = { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' };

  test('the leaves made while a body decodes count against the budget with its text', async () => {
    const seen = watchBudget();
    const app = await setup();
    const json = events('solo', 100, 30_000);
    const res = await app.request('/logs', { method: 'POST', body: gzipSync(json), headers: gzipped });
    expect(res.status).toBe(200);
    // The text stays held until the body is parsed; the packed leaves (entries and payloads,
    // about the text again) are taken as each piece becomes leaves.
    expect(Math.max(...seen.used)).toBeGreaterThan(1.5 * json.length);
  });

  test('several large gzip bodies at once: all committed, the budget kept', async () => {
    const seen = watchBudget();
    const app = await setup();
    const bodies = ['a', 'b', 'c', 'd', 'e', 'f'].map((t) => events(t, 100, 30_000));
    for (const b of bodies) expect(b.length).toBeGreaterThan(2.5 * MiB);
    const answers = await Promise.all(
      bodies.map((json) => app.request('/logs', { method: 'POST', body: gzipSync(json), headers: gzipped })),
    );
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(((await res.json()) as { appended: number }).appended).toBe(100);
    }
    expect(log!.committedSize).toBe(600);
    expect(seen.used.length).toBeGreaterThan(0);
    for (const b of seen.bounded) expect(b).toBeLessThanOrEqual(6 * MiB);
    // The oldest is exempt: its text (at most its 4 MiB cap) and the leaves made of it (their
    // entries and payloads, ~its text again, plus 512 B each for their objects: sequencer.ts).
    for (const u of seen.used) expect(u).toBeLessThanOrEqual(6 * MiB + 2 * 4 * MiB + 100 * 1024);
  });

  test('8 concurrent gzip bombs: each refused 413 decompressed_too_large, none waits forever', async () => {
    const seen = watchBudget();
    const app = await setup();
    const member = gzipSync(Buffer.alloc(MiB), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 20 }, () => member)); // 20 MiB of NUL
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => app.request('/logs', { method: 'POST', body: bomb, headers: gzipped })),
    );
    for (const res of answers) {
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: string }).error).toBe('decompressed_too_large');
    }
    for (const b of seen.bounded) expect(b).toBeLessThanOrEqual(6 * MiB);
    expect(log!.committedSize).toBe(0);
  });

  test('a body that finds no room waits for the older one, then both are committed', async () => {
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
    while ((seen.used.at(-1) ?? 0) < cut) await new Promise((r) => setTimeout(r, 10));
    let answered = false;
    const second = Promise.resolve(
      app.request('/logs', { method: 'POST', body: gzipSync(events('late', 110, 30_000)), headers: gzipped }),
    ).then((res) => {
      answered = true;
      return res;
    });
    while (seen.waited === 0) await new Promise((r) => setTimeout(r, 10));
    expect(answered).toBe(false);
    finish();
    expect((await held).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(log!.committedSize).toBe(230);
    for (const b of seen.bounded) expect(b).toBeLessThanOrEqual(6 * MiB);
  });
});
