/** `/v1/stats` (bounded ring buffer of samples) and the console's routes and cache headers. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { StatsRecorder } from '../../src/http/stats.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { makeLog, TEST_SIGNER } from '../client/fixture.js';
import { tempDir } from '../helpers/tmp.js';

describe('StatsRecorder', () => {
  test('keeps at most capacity samples, oldest first', () => {
    let t = 0;
    let size = 0;
    const r = new StatsRecorder(
      { committedSize: 0, latest: () => ({ size, root: new Uint8Array(32), note: '', signedAt: 0 }) },
      { capacity: 3, now: () => t },
    );
    for (let i = 0; i < 5; i++) {
      t = i * 1000;
      size = i * 10;
      r.sample();
    }
    expect(r.samples().map((s) => [s.t, s.signed])).toEqual([
      [2000, 20],
      [3000, 30],
      [4000, 40],
    ]);
  });
});

describe('stats and console routes', () => {
  let log: TransparencyLog;
  const dir = tempDir('opa-tlog-console-www-');

  beforeAll(async () => {
    log = await makeLog(7);
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(dir, 'assets', 'app-ABC123.js'), 'export {};');
  });
  afterAll(() => log?.close());

  test('GET /v1/stats reports origin, every vkey, sizes and samples', async () => {
    const vkeys = [TEST_SIGNER.vkey, 'audit.example/next+01020304+AQ'];
    const app = createApp(log, { ...DEFAULT_APP_OPTIONS, vkeys, consoleDir: dir });
    const res = await app.request('/v1/stats');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      origin: log.origin,
      vkey: TEST_SIGNER.vkey,
      vkeys,
      tree_size: 7,
      committed_size: 7,
    });
    expect((body.samples as unknown[]).length).toBeGreaterThanOrEqual(1);
  });

  test('the shell is never cached, hashed assets are immutable, unknown ones 404', async () => {
    const app = createApp(log, { ...DEFAULT_APP_OPTIONS, consoleDir: dir });
    for (const path of ['/', '/search', '/decisions/abc', '/entries/3']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-security-policy')).toContain("connect-src 'self'");
    }
    const js = await app.request('/assets/app-ABC123.js');
    expect(js.headers.get('content-type')).toContain('text/javascript');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await app.request('/assets/..%2Findex.html')).status).toBe(404);
    expect((await app.request('/assets/nope.js')).status).toBe(404);
    // The API is unaffected.
    expect((await app.request('/checkpoint')).status).toBe(200);
  });

  test('without a build the shell answers console_not_built', async () => {
    const app = createApp(log, { ...DEFAULT_APP_OPTIONS, consoleDir: join(dir, 'missing') });
    const res = await app.request('/');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'console_not_built' });
  });
});
