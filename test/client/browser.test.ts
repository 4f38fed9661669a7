/**
 * The client library bundled for the browser (esbuild, platform=browser: a Node import would
 * fail the build) and run in headless Chromium against a live server on a real port: it
 * verifies a decision and an entry from tiles, keeps state in localStorage, and refuses a
 * wrong key. Skipped with a warning when /usr/bin/chromium is absent, unless
 * OPA_TLOG_REQUIRE_BROWSER=1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ed25519SignerFromSeed } from '../../src/core/note.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { browserAvailable, launchChromium, pageResult } from '../helpers/browser.js';
import { TEST_ORIGIN } from '../helpers/log.js';
import { type Served, serveFetch } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { logHandler, makeLog, TEST_SIGNER } from './fixture.js';

const available = browserAvailable('browser test');

/** What the page reports back. */
interface PageResult {
  nodeGlobals: boolean;
  decision: { index: number; id: string; commitment: string; event: unknown; size: number; status: string };
  tiles: { id: string | undefined; size: number };
  stored: string | null;
  wrongKey: string;
}

/** The page's module script: verifies through the bundle and leaves a summary in __result. */
function pageScript(vkey: string, wrongVkey: string): string {
  return `
import * as m from '/__test/client.js';
try {
  const client = new m.LogClient({ url: location.origin, vkey: ${JSON.stringify(vkey)}, store: new m.LocalStorageStateStore() });
  const r = await client.verifyDecision('d5', { source: 'svc' });
  const t = await client.verifyEntryFromTiles(33);
  let wrongKey = 'accepted';
  try {
    await new m.LogClient({ url: location.origin, vkey: ${JSON.stringify(wrongVkey)} }).update();
  } catch (err) {
    wrongKey = err.code;
  }
  globalThis.__result = {
    nodeGlobals: typeof process !== 'undefined' || typeof Buffer !== 'undefined',
    decision: { index: r.index, id: r.entry.id, commitment: r.commitment, event: r.event,
                size: r.checkpoint.checkpoint.size, status: r.consistency.status },
    tiles: { id: t.entry && t.entry.id, size: t.checkpoint.checkpoint.size },
    stored: localStorage.getItem('opa-tlog:checkpoint:' + client.origin),
    wrongKey,
  };
} catch (err) {
  globalThis.__result = { error: String(err && err.stack || err) };
}`;
}

describe.skipIf(!available)('browser bundle in headless Chromium', () => {
  let log: TransparencyLog;
  let server: Served | undefined;
  let bundle: string;

  beforeAll(async () => {
    const out = join(tempDir('opa-tlog-browser-'), 'client.js');
    await build({
      entryPoints: [join(import.meta.dirname, '..', '..', 'src', 'client', 'index.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      outfile: out,
      logLevel: 'silent',
    });
    bundle = readFileSync(out, 'utf8');
    log = await makeLog(40);
    const handle = logHandler(log);
    const wrongVkey = ed25519SignerFromSeed(TEST_ORIGIN, new Uint8Array(32).fill(99)).vkey;
    const html = `<!doctype html><meta charset="utf-8"><title>opa-tlog verifier</title>
<script type="module">${pageScript(TEST_SIGNER.vkey, wrongVkey)}</script>`;
    server = await serveFetch((req: Request) => {
      const path = new URL(req.url).pathname;
      if (path === '/__test/index.html')
        return new Response(html, { headers: { 'content-type': 'text/html' } });
      if (path === '/__test/client.js') {
        return new Response(bundle, { headers: { 'content-type': 'text/javascript' } });
      }
      return handle(req);
    });
  });

  afterAll(async () => {
    await server?.close();
    log?.close();
  });

  test('the bundle has no Node imports and verifies a decision and an entry in the page', async () => {
    expect(bundle).not.toMatch(/from\s*["']node:|require\(["']node:/);
    const browser = await launchChromium();
    try {
      const result = (await pageResult(browser, `${server!.url}/__test/index.html`)) as PageResult & {
        error?: string;
      };
      expect(result.error).toBeUndefined();
      expect(result.nodeGlobals).toBe(false);
      expect(result.decision).toMatchObject({
        index: 5,
        id: 'd5',
        commitment: 'verified',
        size: 40,
        status: 'first_use',
      });
      expect(result.decision.event).toMatchObject({ decision_id: 'd5', path: 'authz/allow' });
      expect(result.tiles).toEqual({ id: 'd33', size: 40 });
      expect(result.stored).toBe(log.latest().note);
      expect(result.wrongKey).toBe('bad_signature');
    } finally {
      await browser.close();
    }
  });
});
