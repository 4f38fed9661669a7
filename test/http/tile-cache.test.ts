/**
 * Caching of the tlog-tiles read API over real HTTP (the `serve` process, plain node:http so no
 * client decompresses or revalidates behind the test's back): full tiles and bundles are
 * `immutable` for a year, partial ones `max-age=60`; each carries a strong ETag that is a
 * function of the bytes sent (the same after a restart; gzip and identity differ), and a
 * matching If-None-Match answers 304 without a body. Gzip of bundles still decodes to the
 * identity bytes.
 */
import http from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, test } from 'vitest';
import { etagOf } from '../../src/http/tiles.js';
import { tempDir } from '../helpers/log.js';
import { append, parseBundle, type RunningServer, startServer } from '../helpers/server.js';
import { storedBundleBlobs } from '../helpers/sqlite.js';

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(url: string, path: string, headers: Record<string, string> = {}): Promise<Got> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method: 'GET', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitForSize(url: string, size: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const note = (await get(url, '/checkpoint')).body.toString();
    if (Number(note.split('\n')[1]) >= size) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no checkpoint of size ${size}`);
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
const PARTIAL = 'public, max-age=60';
const STRONG = /^"[A-Za-z0-9_-]{22}"$/;
const PATHS = [
  '/tile/0/000',
  '/tile/0/001.p/44',
  '/tile/1/000.p/1',
  '/tile/entries/000',
  '/tile/entries/001.p/44',
];

const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});
async function serve(data: string): Promise<RunningServer> {
  const s = await startServer(data, ['--sign-interval-ms', '50']);
  servers.push(s);
  return s;
}

/** ETag of every path in PATHS, identity and gzip. */
async function etags(url: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of PATHS) {
    out.push(String((await get(url, p)).headers.etag));
    out.push(String((await get(url, p, { 'accept-encoding': 'gzip' })).headers.etag));
  }
  return out;
}

describe('tile and bundle caching', () => {
  test('full: immutable with a strong ETag; partial: a minute; If-None-Match: 304; stable across restarts', async () => {
    const data = tempDir();
    let srv = await serve(data);
    await append(srv.url, 300);
    await waitForSize(srv.url, 300);

    for (const p of PATHS) {
      const r = await get(srv.url, p);
      expect(r.status, p).toBe(200);
      expect(r.headers['cache-control'], p).toBe(p.includes('.p/') ? PARTIAL : IMMUTABLE);
      expect(r.headers['content-type'], p).toBe('application/octet-stream');
      const etag = r.headers.etag!;
      expect(etag, p).toMatch(STRONG);
      expect(etag, p).toBe(etagOf(r.body));
      for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
        const nm = await get(srv.url, p, { 'if-none-match': inm });
        expect(nm.status, `${p} ${inm}`).toBe(304);
        expect(nm.body.length).toBe(0);
        expect(nm.headers.etag).toBe(etag);
        expect(nm.headers['cache-control']).toBe(r.headers['cache-control']);
      }
      // Asked twice: the second 304 comes from the remembered ETag of a full path.
      expect((await get(srv.url, p, { 'if-none-match': etag })).status).toBe(304);
      expect((await get(srv.url, p, { 'if-none-match': '"other"' })).status).toBe(200);
    }

    // Bundles: gzip when asked, decoding to the identity bytes, under its own ETag.
    for (const p of ['/tile/entries/000', '/tile/entries/001.p/44']) {
      const plain = await get(srv.url, p);
      const gz = await get(srv.url, p, { 'accept-encoding': 'gzip' });
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(gz.headers.vary).toBe('Accept-Encoding');
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(gunzipSync(gz.body)).toEqual(plain.body);
      expect(parseBundle(plain.body).length).toBe(p.includes('.p/') ? 44 : 256);
      expect(gz.headers.etag).toBe(etagOf(gz.body));
      expect(gz.headers.etag).not.toBe(plain.headers.etag);
      expect((await get(srv.url, p, { 'if-none-match': gz.headers.etag! })).status).toBe(200);
      const nm = await get(srv.url, p, { 'accept-encoding': 'gzip', 'if-none-match': gz.headers.etag! });
      expect(nm.status).toBe(304);
    }

    // Hash tiles are never gzipped; errors carry no validator and no long caching.
    expect(
      (await get(srv.url, '/tile/0/000', { 'accept-encoding': 'gzip' })).headers['content-encoding'],
    ).toBeUndefined();
    const missing = await get(srv.url, '/tile/0/001');
    expect(missing.status).toBe(404);
    expect(missing.headers.etag).toBeUndefined();
    expect(missing.headers['cache-control'] ?? '').not.toMatch(/max-age/);

    const before = await etags(srv.url);
    const bundle0 = (await get(srv.url, '/tile/entries/000')).body;
    const gzip0 = (await get(srv.url, '/tile/entries/000', { 'accept-encoding': 'gzip' })).body;
    expect(await srv.stop()).toBe(0);
    servers.length = 0;
    // The server (writer thread) stored the full bundle as one blob, a gzip member: what was
    // served to gzip clients, and inflated to the others.
    const blob = storedBundleBlobs(join(data, 'log.db')).get(0)!;
    expect(blob.equals(gzip0)).toBe(true);
    expect(gunzipSync(blob).equals(bundle0)).toBe(true);
    srv = await serve(data);
    expect(await etags(srv.url)).toEqual(before);
  });
});
