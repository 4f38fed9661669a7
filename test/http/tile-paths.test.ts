/**
 * Issue 15 part 5: a tile has exactly one path. Through the real HTTP server (@hono/node-server,
 * whose URL parsing resolves `./`, `../` and `%2e`), every other spelling of a tile that exists
 * is refused 400 `invalid_tile_path`, never served with a cache header.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { openTestLog, tempDir } from '../helpers/log.js';

let log: TransparencyLog;
let server: ReturnType<typeof serve>;
let port: number;

beforeAll(async () => {
  log = await openTestLog(join(tempDir(), 'log.db'));
  await log.appendEvents(
    Array.from({ length: 3 }, (_, i) => ({ kind: 'event', source: 's', id: `${i}`, event: { i } })),
  );
  await log.signNow();
  const app = createApp(log, DEFAULT_APP_OPTIONS);
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  log.close();
});

/** GET with the request target sent byte for byte as given. */
function get(path: string): Promise<{ status: number; cache: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode!, cache: res.headers['cache-control'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tile paths have one spelling (raw path, before URL normalisation)', () => {
  test('the canonical paths are served, partial ones cached for a minute', async () => {
    for (const p of ['/tile/entries/000.p/3', '/tile/0/000.p/3', '/tile/entries/000.p/1?x=1']) {
      const r = await get(p);
      expect(r.status, p).toBe(200);
      expect(r.cache).toBe('public, max-age=60');
    }
  });

  test('dot segments, percent-encoding, double and trailing slashes are refused, never served', async () => {
    const spellings = [
      '/tile/entries/x/../000.p/1',
      '/tile/entries/./000.p/1',
      '/tile/./entries/000.p/1',
      '/tile/entries/%2e%2e/entries/000.p/1',
      '/tile/entries/%2E/000.p/1',
      '/tile/entries/.%2e/entries/000.p/1',
      '/x/../tile/entries/000.p/1',
      '/tile/0/x/../000.p/3',
      '/tile//entries/000.p/1',
      '/tile/entries//000.p/1',
      '/tile/entries/000.p/1/',
      '/tile/entries%2f000.p/1',
      '/tile/entries/000.p%2f1',
      '/tile/entries/000.p/%31',
      '/tile/entries/%30%30%30.p/1',
      `http://127.0.0.1/tile/entries/x/../000.p/1`,
    ];
    for (const p of spellings) {
      const r = await get(p);
      expect(r.status, `${p} ${r.body}`).toBe(400);
      expect(r.body, p).toMatch(/"error":"invalid_tile_path"/);
      expect(r.cache ?? '', p).not.toMatch(/max-age/);
    }
    // A backslash (which the URL parser would read as '/') is refused by node-server itself.
    const bs = await get('/tile/entries\\000.p/1');
    expect(bs.status).toBe(400);
    expect(bs.cache ?? '').not.toMatch(/max-age/);
  });
});
