/**
 * Every answer carries the request's id in `X-Request-Id` (src/http/request-log.ts): the
 * caller's when it is sane, else a fresh UUID; on successes, on bodies sent as stored bytes,
 * on 304s, on every kind of refusal (a route's own error, a failed token check, an unknown
 * path, a bad method) and on CORS preflights.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { TokenStore } from '../../src/http/auth.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { makeLog } from '../client/fixture.js';

const READ_TOKEN = 'read-token-0123456789abcdef';
let log: TransparencyLog;
beforeAll(async () => {
  log = await makeLog(300);
});
afterAll(() => log?.close());

const app = () =>
  createApp(log, {
    ...DEFAULT_APP_OPTIONS,
    tokens: new TokenStore(`read:${READ_TOKEN}`, []),
    corsOrigins: ['https://console.example.com'],
  });

describe('X-Request-Id', () => {
  const cases: [string, string, RequestInit, number][] = [
    ['a checkpoint', '/checkpoint', {}, 200],
    ['a full tile (stored bytes)', '/tile/0/000', {}, 200],
    ['a full bundle, gzip', '/tile/entries/000', { headers: { 'accept-encoding': 'gzip' } }, 200],
    ['a JSON proof', '/v1/proof/inclusion?index=7', {}, 200],
    ['a route refusal', '/v1/proof/inclusion?index=99999', {}, 400],
    ['a bad tile path', '/tile/0/x000/000', {}, 400],
    ['a missing token', '/v1/decisions?source=svc', {}, 401],
    ['an unknown path', '/no/such/thing', {}, 404],
    ['a method no route has', '/checkpoint', { method: 'DELETE' }, 404],
    ['an upload without a token', '/logs', { method: 'POST', body: '[]' }, 401],
    [
      'a CORS preflight',
      '/v1/decisions/d5',
      {
        method: 'OPTIONS',
        headers: { origin: 'https://console.example.com', 'access-control-request-method': 'GET' },
      },
      204,
    ],
  ];
  test.each(cases)('on %s', async (_, path, init, status) => {
    const a = app();
    const headers = { ...(init.headers as Record<string, string> | undefined), 'x-request-id': 'req-42' };
    const res = await a.request(path, { ...init, headers });
    expect(res.status).toBe(status);
    expect(res.headers.get('x-request-id')).toBe('req-42');
    const fresh = await a.request(path, init);
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('on a 304', async () => {
    const a = app();
    const first = await a.request('/tile/0/000');
    const etag = first.headers.get('etag')!;
    const res = await a.request('/tile/0/000', {
      headers: { 'if-none-match': etag, 'x-request-id': 'req-304' },
    });
    expect(res.status).toBe(304);
    expect(res.headers.get('x-request-id')).toBe('req-304');
  });
});
