/**
 * CORS (src/http/cors.ts): public reads carry `Access-Control-Allow-Origin: *` for any origin;
 * a configured origin's preflight for `Authorization` is answered and its responses echo the
 * origin; any other origin's preflight is not answered. And the `--cors-origin` setting
 * (repeatable flag, comma-separated env, config file key), refusing anything but exact origins.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError, loadServeConfig } from '../../src/cli/config.js';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { TokenStore } from '../../src/http/auth.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { makeLog } from '../client/fixture.js';
import { tempDir } from '../helpers/tmp.js';

const PAGE = 'https://console.example.com';
const OTHER = 'https://evil.example.net';
const READ_TOKEN = 'read-token-0123456789abcdef';

let log: TransparencyLog;
beforeAll(async () => {
  log = await makeLog(8);
});
afterAll(() => log?.close());

const appWith = (corsOrigins?: string[]) =>
  createApp(log, { ...DEFAULT_APP_OPTIONS, tokens: new TokenStore(`read:${READ_TOKEN}`, []), corsOrigins });

const preflight = (origin: string) =>
  new Request('http://log.test/v1/decisions/d5?source=svc', {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization',
    },
  });

describe('CORS', () => {
  test('a configured origin: preflight answered, Authorization allowed, the origin echoed', async () => {
    const app = appWith([PAGE, 'http://127.0.0.1:8000']);
    const res = await app.fetch(preflight(PAGE));
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase().split(',')).toContain(
      'authorization',
    );
    expect(res.headers.get('access-control-allow-methods')?.split(',')).toContain('GET');
    expect(res.headers.get('vary')).toMatch(/origin/i);

    const get = await app.fetch(
      new Request('http://log.test/v1/decisions/d5?source=svc', {
        headers: { origin: PAGE, authorization: `Bearer ${READ_TOKEN}` },
      }),
    );
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(get.headers.get('access-control-expose-headers')?.toLowerCase().split(',')).toEqual(
      expect.arrayContaining(['x-request-id', 'etag', 'retry-after']),
    );
    expect(((await get.json()) as { payload_access: string }).payload_access).toBe('granted');
  });

  test('another origin: preflight refused (no CORS headers, not 2xx)', async () => {
    for (const app of [appWith([PAGE]), appWith(), appWith([])]) {
      const res = await app.fetch(preflight(OTHER));
      expect(res.status).toBe(404);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-headers')).toBeNull();
    }
  });

  test('public reads stay readable from any origin without credentials (also errors)', async () => {
    for (const app of [appWith([PAGE]), appWith()]) {
      for (const origin of [OTHER, undefined]) {
        const headers: Record<string, string> = origin ? { origin } : {};
        const cp = await app.fetch(new Request('http://log.test/checkpoint', { headers }));
        expect(cp.status).toBe(200);
        expect(cp.headers.get('access-control-allow-origin')).toBe('*');
        // A page anywhere may read the request id (to quote it) and tile ETags (to revalidate).
        expect(cp.headers.get('access-control-expose-headers')?.toLowerCase().split(',')).toEqual(
          expect.arrayContaining(['x-request-id', 'etag']),
        );
        const missing = await app.fetch(new Request('http://log.test/tile/0/x999/999', { headers }));
        expect(missing.status).toBe(404);
        expect(missing.headers.get('access-control-allow-origin')).toBe('*');
      }
    }
  });
});

describe('--cors-origin', () => {
  const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadServeConfig(argv, env).corsOrigins;

  test('default none; repeatable flag; env comma-separated; config file string or array', () => {
    expect(load([])).toEqual([]);
    expect(load(['--cors-origin', PAGE, '--cors-origin', 'http://127.0.0.1:8000'])).toEqual([
      PAGE,
      'http://127.0.0.1:8000',
    ]);
    expect(load([], { OPA_TLOG_CORS_ORIGIN: `${PAGE}, http://localhost:3000` })).toEqual([
      PAGE,
      'http://localhost:3000',
    ]);
    expect(load(['--cors-origin', OTHER], { OPA_TLOG_CORS_ORIGIN: PAGE })).toEqual([OTHER]);
    const dir = tempDir('opa-tlog-cors-');
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ 'cors-origin': [PAGE, OTHER] }));
    expect(load(['--config', file])).toEqual([PAGE, OTHER]);
    writeFileSync(file, JSON.stringify({ 'cors-origin': PAGE }));
    expect(load(['--config', file])).toEqual([PAGE]);
  });

  test('refuses anything but an exact http(s) origin, and *', () => {
    for (const bad of [
      '*',
      'console.example.com',
      `${PAGE}/`,
      `${PAGE}/app`,
      'https://x.example:443',
      'ftp://x.example',
    ])
      expect(() => load(['--cors-origin', bad]), bad).toThrow(ConfigError);
  });
});
