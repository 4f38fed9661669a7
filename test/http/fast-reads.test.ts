/**
 * The node:http fast path for public reads (src/http/fast-reads.ts) answers exactly as the hono
 * app does: for every request below, a server with the fast path in front and one with the app
 * alone give the same status, body and headers (but Date, and a generated X-Request-Id), and
 * the fast path answers the successes itself (never passing them on) while every refusal,
 * other method, unusual query and configured CORS origin is passed to hono. It also logs and
 * counts each request as the app does.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fromBase64, toHex } from '../../src/core/bytes.js';
import { createServing, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { Metrics } from '../../src/http/metrics.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { openTestLog, tempDir } from '../helpers/log.js';
import { captureLogger } from '../helpers/logger.js';

const ORIGIN = 'https://console.example';
const LEAVES = 600; // two full tiles and bundles, and a partial one of 88
/** No Accept-Encoding, gzip, and gzip refused. */
const ENCODINGS: Record<string, string>[] = [
  {},
  { 'Accept-Encoding': 'gzip' },
  { 'Accept-Encoding': 'gzip;q=0, br' },
];

let log: TransparencyLog;
let plain: Server;
let fast: Server;
let passedOn = 0;
const captured = captureLogger();
const metrics = new Metrics();

const listen = (s: Server) =>
  new Promise<number>((resolve) =>
    s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)),
  );
let plainPort: number;
let fastPort: number;

beforeAll(async () => {
  log = await openTestLog(join(tempDir(), 'log.db'));
  await log.appendEvents(
    Array.from({ length: LEAVES }, (_, i) => ({ kind: 'event', source: 's', id: `${i}`, event: { i } })),
  );
  await log.signNow();
  const serving = createServing(log, {
    ...DEFAULT_APP_OPTIONS,
    corsOrigins: [ORIGIN],
    logger: captured.logger,
    metrics,
  });
  const hono = getRequestListener(serving.app.fetch);
  plain = createServer(hono);
  fast = createServer(
    serving.fastReads((req, res) => {
      passedOn++;
      hono(req, res);
    }),
  );
  plainPort = await listen(plain);
  fastPort = await listen(fast);
});

afterAll(async () => {
  await Promise.all([plain, fast].map((s) => new Promise((r) => s.close(r))));
  log.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends `target` byte for byte (no URL normalisation) and reads the whole answer. */
function send(
  port: number,
  target: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: target, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('latin1'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** The same request to both servers; returns both answers and whether the fast path kept it. */
async function both(target: string, headers: Record<string, string> = {}, method = 'GET') {
  const a = await send(plainPort, target, headers, method);
  const before = passedOn;
  const b = await send(fastPort, target, headers, method);
  return { plain: a, fast: b, kept: passedOn === before };
}

/** Headers that may differ: the date, and a request id each server generated itself. */
function comparable(a: Answer, sentId: boolean): Record<string, unknown> {
  const { date: _date, 'x-request-id': id, ...rest } = a.headers;
  return { ...rest, ...(sentId ? { 'x-request-id': id } : {}) };
}

function expectSame(r: { plain: Answer; fast: Answer }, sentId = false): void {
  expect(r.fast.status).toBe(r.plain.status);
  expect(r.fast.body).toBe(r.plain.body);
  expect(comparable(r.fast, sentId)).toEqual(comparable(r.plain, sentId));
  if (!sentId) expect(r.fast.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
}

const etagOf = async (target: string, headers: Record<string, string> = {}) =>
  (await send(plainPort, target, headers)).headers.etag as string;

describe('the fast path answers public reads as the app does', () => {
  const successes = [
    '/checkpoint',
    '/checkpoint?x=1',
    '/tile/0/000',
    '/tile/0/001',
    '/tile/0/002.p/88',
    '/tile/0/002.p/3',
    '/tile/1/000.p/2',
    '/tile/entries/000',
    '/tile/entries/001',
    '/tile/entries/002.p/88',
    '/tile/entries/000?cache=bust',
    '/v1/proof/inclusion?index=0',
    `/v1/proof/inclusion?index=${LEAVES - 1}`,
    '/v1/proof/inclusion?index=5&tree_size=300',
    '/v1/proof/inclusion?tree_size=300&index=299',
  ];
  for (const target of successes) {
    for (const enc of ENCODINGS) {
      test(`${target} ${JSON.stringify(enc)}: same answer, kept by the fast path`, async () => {
        const r = await both(target, enc);
        expect(r.plain.status).toBe(200);
        expectSame(r);
        expect(r.kept).toBe(true);
      });
    }
  }

  test('If-None-Match: a match (also weak, also *, also in a list) is a 304 with the same headers', async () => {
    for (const target of ['/tile/0/000', '/tile/entries/001', '/tile/0/002.p/88', '/tile/entries/002.p/88']) {
      for (const enc of ENCODINGS.slice(0, 2)) {
        const etag = await etagOf(target, enc);
        expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
        for (const inm of [etag, `W/${etag}`, '*', `"other", ${etag}`]) {
          const r = await both(target, { ...enc, 'If-None-Match': inm });
          expect(r.plain.status).toBe(304);
          expectSame(r);
          expect(r.kept).toBe(true);
        }
        const miss = await both(target, { ...enc, 'If-None-Match': '"other"' });
        expect(miss.plain.status).toBe(200);
        expectSame(miss);
      }
    }
  });

  test('a sane X-Request-Id is echoed and logged; an insane one is replaced', async () => {
    const sane = await both('/tile/0/000', { 'X-Request-Id': 'trace-42.a/b' });
    expectSame(sane, true);
    expect(sane.fast.headers['x-request-id']).toBe('trace-42.a/b');
    const insane = await both('/tile/0/000', { 'X-Request-Id': 'has spaces' });
    expectSame(insane);
  });

  test('refusals, other methods, unusual queries and a configured origin are passed to the app', async () => {
    const passed: [string, Record<string, string>, string?][] = [
      ['/tile/0/xyz', {}],
      ['/tile/0/003', {}],
      ['/tile/entries/003', {}],
      ['/tile/entries/x/../000', {}],
      ['/tile/0/000.p/0', {}],
      ['/tile/0//000', {}],
      ['/tile/../checkpoint', {}],
      ['/tile/0/%30%30%30', {}],
      [`/v1/proof/inclusion?index=${LEAVES}`, {}],
      ['/v1/proof/inclusion?index=01', {}],
      ['/v1/proof/inclusion?index=5&tree_size=99999', {}],
      ['/v1/proof/inclusion?index=5&index=6', {}],
      ['/v1/proof/inclusion?index=5&foo=1', {}],
      ['/v1/proof/inclusion?index=%35', {}],
      ['/v1/proof/inclusion', {}],
      ['/v1/proof/inclusion?tree_size=10', {}],
      ['/checkpoint', {}, 'HEAD'],
      ['/tile/0/000', {}, 'HEAD'],
      ['/tile/0/000', {}, 'POST'],
      ['/checkpoint', { Origin: ORIGIN }],
      ['/tile/0/000', { Origin: ORIGIN }],
      ['/v1/proof/inclusion?index=1', { Origin: ORIGIN }],
    ];
    for (const [target, headers, method] of passed) {
      const r = await both(target, headers, method);
      expectSame(r);
      expect(r.kept, `${method ?? 'GET'} ${target} ${JSON.stringify(headers)}`).toBe(false);
    }
    const fromConsole = await both('/tile/0/000', { Origin: ORIGIN });
    expect(fromConsole.fast.headers['access-control-allow-origin']).toBe(ORIGIN);
  });

  test('a proof by leaf hash (not a plain query) is the app’s, and the same proof by index', async () => {
    const byIndex = JSON.parse((await send(fastPort, '/v1/proof/inclusion?index=7')).body) as {
      leaf_hash: string;
    };
    const hex = toHex(fromBase64(byIndex.leaf_hash)!);
    const r = await both(`/v1/proof/inclusion?leaf_hash=${hex}`);
    expectSame(r);
    expect(r.kept).toBe(false);
    expect(JSON.parse(r.fast.body)).toEqual(byIndex);
  });

  test('requests answered by the fast path are logged and counted like the app’s', async () => {
    const id = `fast-${Date.now()}`;
    await send(fastPort, '/tile/0/001', { 'X-Request-Id': id });
    await send(plainPort, '/tile/0/001', { 'X-Request-Id': `${id}-plain` });
    const line = (rid: string) => captured.lines.find((l) => l.fields.requestId === rid);
    const mine = line(id);
    const theirs = line(`${id}-plain`);
    expect(mine?.msg).toBe('request');
    expect(mine?.level).toBe(theirs?.level);
    const { requestId: _a, durationMs: da, ...fastFields } = mine!.fields;
    const { requestId: _b, durationMs: db, ...appFields } = theirs!.fields;
    expect(fastFields).toEqual(appFields);
    expect(fastFields).toMatchObject({ method: 'GET', route: '/tile/*', status: 200 });
    expect(typeof da).toBe('number');
    expect(typeof db).toBe('number');
    const count = async () => {
      const text = await metrics.registry.metrics();
      const m = /opa_tlog_http_requests_total\{method="GET",route="\/tile\/\*",status="200"\} (\d+)/.exec(
        text,
      );
      return Number(m?.[1] ?? 0);
    };
    const before = await count();
    await send(fastPort, '/tile/0/000');
    await send(fastPort, '/tile/entries/000');
    expect(await count()).toBe(before + 2);
  });
});
