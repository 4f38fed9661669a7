/**
 * Issue 15 parts 2 and 4, in process: every route that parses JSON (/logs, /k8s/audit,
 * /v1/entries, erasure bodies) goes through one bounded parser: limits are refusals with a
 * JSON reason and nothing applied, duplicate keys are refused, integers are committed exactly
 * whatever else the event holds, and /v1/entries honours Content-Encoding like /logs.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { decodeDeterministic } from '../../src/core/cbor.js';
import { DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { openTestApp } from '../helpers/log.js';

const setup = () =>
  openTestApp({
    maxItems: 100,
    ingest: { ...DEFAULT_APP_OPTIONS.ingest, maxEvents: 100 },
  });
type App = Awaited<ReturnType<typeof setup>>['app'];

const JSON_CT: Record<string, string> = { 'content-type': 'application/json' };
const post = (app: App, path: string, body: string | Uint8Array, headers: Record<string, string> = JSON_CT) =>
  app.request(path, { method: 'POST', body: body as string | Uint8Array<ArrayBuffer>, headers });

async function refused(
  app: App,
  l: TransparencyLog,
  path: string,
  body: string | Uint8Array,
  headers = JSON_CT,
) {
  const before = l.committedSize;
  const res = await post(app, path, body, headers);
  const b = (await res.json()) as { error: string; detail: string };
  expect(typeof b.detail).toBe('string');
  expect(l.committedSize, `${path} applied something`).toBe(before);
  return { status: res.status, ...b };
}

/** The committed payload of leaf `i`, decoded. */
async function payloadOf(l: TransparencyLog, i: number) {
  return decodeDeterministic((await l.payload(i))!.payload);
}

const event = (id: string, extra: string) =>
  `{"decision_id":"${id}","labels":{"id":"opa-1"},"timestamp":"2025-01-01T00:00:00Z"${extra}}`;
const k8s = (items: string) => `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${items}]}`;

describe('numbers are committed exactly, the same way whatever else is in the event', () => {
  test('/logs: a 400-digit integer is the same bigint alone and next to 2^53+1', async () => {
    const { app, log } = await setup();
    const digits = `4${'0'.repeat(399)}`;
    const res = await post(
      app,
      '/logs',
      `[${event('alone', `,"n":${digits}`)},${event('both', `,"n":${digits},"m":9007199254740993`)}]`,
    );
    expect(res.status).toBe(200);
    expect(((await payloadOf(log, 0)) as Record<string, unknown>).n).toBe(BigInt(digits));
    const both = (await payloadOf(log, 1)) as Record<string, unknown>;
    expect(both.n).toBe(BigInt(digits));
    expect(both.m).toBe(9007199254740993n);
  });

  test('/v1/entries keeps 2^53+1 and 2^64 exact (was rounded / made a float)', async () => {
    const { app, log } = await setup();
    const res = await post(
      app,
      '/v1/entries',
      '{"a":9007199254740993,"b":18446744073709551616,"c":-18446744073709551617}',
    );
    expect(res.status).toBe(200);
    expect(await payloadOf(log, 0)).toEqual({
      a: 9007199254740993n,
      b: 18446744073709551616n,
      c: -18446744073709551617n,
    });
  });
});

describe('duplicate keys are refused on every route (400 duplicate_key, nothing applied)', () => {
  test('/logs names the event; /v1/entries the item; /k8s/audit and erasure bodies too', async () => {
    const { app, log } = await setup();
    const logs = await refused(
      app,
      log,
      '/logs',
      `[${event('ok', '')},${event('d1', ',"decision_id":"other"')}]`,
    );
    expect(logs).toMatchObject({ status: 400, error: 'duplicate_key' });
    expect(logs.detail).toMatch(/event 1/);
    expect(logs.detail).toMatch(/decision_id/);
    const gz = await refused(app, log, '/logs', gzipSync(`[${event('d2', ',"input":{"a":1,"a":2}')}]`), {
      ...JSON_CT,
      'content-encoding': 'gzip',
    });
    expect(gz).toMatchObject({ status: 400, error: 'duplicate_key' });
    const entries = await refused(app, log, '/v1/entries', '[{"a":1},{"a":1,"a":2}]');
    expect(entries).toMatchObject({ status: 400, error: 'duplicate_key' });
    expect(entries.detail).toMatch(/item 1/);
    const audit = await refused(
      app,
      log,
      '/k8s/audit',
      k8s('{"auditID":"x","stage":"ResponseComplete","stage":"RequestReceived"}'),
    );
    expect(audit).toMatchObject({ status: 400, error: 'duplicate_key' });
    const ndjson = await refused(
      app,
      log,
      '/logs',
      `${event('n1', '')}\n${event('n2', ',"path":"a","path":"b"')}\n`,
    );
    expect(ndjson).toMatchObject({ status: 400, error: 'duplicate_key' });
    expect((await post(app, '/v1/entries', '{"x":1}')).status).toBe(200);
    const erase = await refused(app, log, '/v1/entries/0/erase', '{"reason":"a","reason":"b"}');
    expect(erase).toMatchObject({ status: 400, error: 'duplicate_key' });
  });
});

describe('limits while parsing, on every route (413 too large / 400 malformed)', () => {
  test('number length, nesting depth and batch size, with the reason', async () => {
    const { app, log } = await setup();
    const long = '9'.repeat(1001);
    for (const [path, body] of [
      ['/logs', `[${event('l1', `,"n":${long}`)}]`],
      ['/v1/entries', `{"n":${long}}`],
      ['/k8s/audit', k8s(`{"auditID":"a","n":${long}}`)],
      ['/v1/entries/0/erase', `{"reason":"x","n":${long}}`],
    ] as const) {
      const r = await refused(app, log, path, body);
      expect(r, path).toMatchObject({ status: 413, error: 'number_too_long' });
    }
    const deep = '['.repeat(100_000);
    expect(await refused(app, log, '/logs', deep)).toMatchObject({ status: 400, error: 'too_deep' });
    expect(await refused(app, log, '/k8s/audit', deep)).toMatchObject({ status: 400, error: 'too_deep' });
    expect(await refused(app, log, '/v1/entries', deep)).toMatchObject({
      status: 400,
      error: 'invalid_entry',
    });
    expect(await refused(app, log, '/v1/entries/0/erase', deep.slice(0, 1000))).toMatchObject({
      status: 400,
      error: 'too_deep',
    });
    const many = JSON.stringify(Array.from({ length: 101 }, (_, i) => ({ decision_id: `m${i}` })));
    expect(await refused(app, log, '/logs', many)).toMatchObject({ status: 413, error: 'too_many_events' });
    expect(await refused(app, log, '/k8s/audit', k8s(Array(101).fill('{}').join(',')))).toMatchObject({
      status: 413,
      error: 'too_many_events',
    });
    expect(await refused(app, log, '/v1/entries', many)).toMatchObject({
      status: 413,
      error: 'too_many_entries',
    });
  });
});

describe('/v1/entries honours Content-Encoding like /logs', () => {
  test('gzip is inflated; a plain body labelled gzip is 400; other encodings 415', async () => {
    const { app, log } = await setup();
    const ok = await post(app, '/v1/entries', gzipSync('[{"z":1},{"z":2}]'), {
      ...JSON_CT,
      'content-encoding': 'gzip',
    });
    expect(ok.status).toBe(200);
    expect(await payloadOf(log, 1)).toEqual({ z: 2 });
    const lie = await refused(app, log, '/v1/entries', '{"z":3}', { ...JSON_CT, 'content-encoding': 'gzip' });
    expect(lie).toMatchObject({ status: 400, error: 'invalid_gzip' });
    const br = await refused(app, log, '/v1/entries', '{"z":3}', { ...JSON_CT, 'content-encoding': 'br' });
    expect(br).toMatchObject({ status: 415, error: 'unsupported_encoding' });
  });
});
