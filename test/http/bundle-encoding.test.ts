/**
 * How /tile/entries/<N> is sent now that full bundles are stored as one gzip member
 * (src/store/bundle-blobs.ts, src/http/tiles.ts, spec/storage.md "Entry bundle blobs"): a
 * client that accepts gzip gets the stored member verbatim with Content-Encoding: gzip, one
 * that does not gets the inflated bytes; both decode to the same bundle, under ETags that
 * differ between the two forms and stay the same across requests and a restart; If-None-Match
 * answers 304. A log whose blobs are raw (written before BUNDLE_ENCODING_MIGRATION) serves the same
 * bytes and the same ETags in both forms.
 */
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import type { Hono } from 'hono';
import { afterEach, describe, expect, test } from 'vitest';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { TokenStore } from '../../src/http/auth.js';
import { etagOf } from '../../src/http/tiles.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { openTestLog, tempDir } from '../helpers/log.js';
import { toSchemaBeforeBlobFile } from '../helpers/sqlite.js';

const logs: TransparencyLog[] = [];
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close();
});

async function serve(path: string): Promise<{ log: TransparencyLog; app: Hono }> {
  const log = await openTestLog(path);
  logs.push(log);
  return { log, app: createApp(log, { ...DEFAULT_APP_OPTIONS, tokens: new TokenStore('', []) }) };
}

async function stop(): Promise<void> {
  for (const l of logs.splice(0)) await l.close();
}

const events = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ kind: 'event', source: 's', id: `e${i}`, event: { i } }));

const PATHS = ['/tile/entries/000', '/tile/entries/001', '/tile/entries/002.p/88'];

interface Sent {
  status: number;
  encoding: string | null;
  vary: string | null;
  etag: string | null;
  body: Buffer;
}

async function get(app: Hono, path: string, headers: Record<string, string> = {}): Promise<Sent> {
  const r = await app.request(path, { headers });
  return {
    status: r.status,
    encoding: r.headers.get('content-encoding'),
    vary: r.headers.get('vary'),
    etag: r.headers.get('etag'),
    body: Buffer.from(await r.arrayBuffer()),
  };
}

const GZIP = { 'accept-encoding': 'gzip' };

/** Both forms of every path: checks them, and returns their ETags and decoded bodies. */
async function both(app: Hono, log: TransparencyLog): Promise<string[]> {
  const out: string[] = [];
  for (const p of PATHS) {
    const plain = await get(app, p);
    const gz = await get(app, p, GZIP);
    expect([plain.status, gz.status], p).toEqual([200, 200]);
    expect(plain.encoding, p).toBeNull();
    expect(gz.encoding, p).toBe('gzip');
    expect([plain.vary, gz.vary]).toEqual(['Accept-Encoding', 'Accept-Encoding']);
    expect(gunzipSync(gz.body).equals(plain.body), p).toBe(true);
    const [index, width] = p.includes('.p/') ? [2, 88] : [Number(p.slice(-3)), 256];
    expect(plain.body.equals(Buffer.from((await log.entryBundle(index, width))!)), p).toBe(true);
    expect([plain.etag, gz.etag]).toEqual([etagOf(plain.body), etagOf(gz.body)]);
    expect(gz.etag).not.toBe(plain.etag);
    // Stable across requests; a match answers 304 in each form, the other form's ETag does not.
    expect((await get(app, p)).etag).toBe(plain.etag);
    expect((await get(app, p, GZIP)).etag).toBe(gz.etag);
    expect((await get(app, p, { 'if-none-match': plain.etag! })).status).toBe(304);
    expect((await get(app, p, { ...GZIP, 'if-none-match': gz.etag! })).status).toBe(304);
    expect((await get(app, p, { ...GZIP, 'if-none-match': plain.etag! })).status).toBe(200);
    out.push(p, plain.etag!, gz.etag!, plain.body.toString('hex'));
  }
  return out;
}

/** A served log at `path` with 600 leaves (two full bundles) signed, and what `both` reads of it. */
async function servedWithBundles(path: string) {
  const { log, app } = await serve(path);
  await log.appendEvents(events(600));
  await log.signNow();
  return { log, app, before: await both(app, log) };
}

describe('entry bundles over HTTP, stored gzip', () => {
  test('gzip clients get the stored member verbatim, others its inflated bytes; ETags stable across a restart', async () => {
    const path = join(tempDir(), 'log.db');
    let { log, app, before } = await servedWithBundles(path);
    for (const b of [0, 1]) {
      const stored = await log.entryBundleStored(b, 256);
      expect(stored?.gzip).toBe(true);
      const gz = await get(app, `/tile/entries/00${b}`, GZIP);
      expect(gz.body.equals(Buffer.from(stored!.bytes))).toBe(true);
    }
    await stop();
    ({ log, app } = await serve(path));
    expect(await both(app, log)).toEqual(before);
  });

  test('raw blobs from before the encoding migration: the same bytes and ETags in both forms', async () => {
    const path = join(tempDir(), 'log.db');
    let { log, app, before } = await servedWithBundles(path);
    await stop();
    // Back to the schema before BUNDLE_ENCODING_MIGRATION: raw blobs, no gzip boundary.
    toSchemaBeforeBlobFile(path);
    const db = new Database(path);
    const rows = db.prepare('SELECT idx, data FROM entry_bundles').all() as { idx: number; data: Buffer }[];
    const update = db.prepare('UPDATE entry_bundles SET data = ? WHERE idx = ?');
    for (const r of rows) update.run(gunzipSync(r.data), r.idx);
    db.exec('DROP TABLE entry_bundle_encoding');
    db.pragma('user_version = 9'); // schema 9: before migration 10 (BUNDLE_ENCODING_MIGRATION)
    db.close();
    ({ log, app } = await serve(path));
    expect((await log.entryBundleStored(0, 256))?.gzip).toBe(false);
    expect(await both(app, log)).toEqual(before);
    // Asked again: served from the small cache of made bodies, the same bytes.
    const again = await get(app, '/tile/entries/000', GZIP);
    expect(again.etag).toBe(before[2]);
  });
});
