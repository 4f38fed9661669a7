/**
 * A page on another origin reads a decision with a read token, in headless Chromium: the log
 * server (one port) allows the page's origin (another port) with `corsOrigins`, so the browser's
 * preflight for `Authorization` passes and the page gets the payload. The same page served from
 * a third, unlisted origin is refused by the browser, while the public checkpoint stays readable
 * from there. Skipped without /usr/bin/chromium unless OPA_TLOG_REQUIRE_BROWSER=1.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { TokenStore } from '../../src/http/auth.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { browserAvailable, launchChromium, pageResult } from '../helpers/browser.js';
import { type Served, serveFetch } from '../helpers/server.js';
import { makeLog } from './fixture.js';

const available = browserAvailable('CORS browser test');
const READ_TOKEN = 'read-token-0123456789abcdef';

/** What the page reports: the lookup with the token, and the public checkpoint read. */
interface PageResult {
  lookup: { status: number; payloadAccess: string; decisionId: string } | { failed: string };
  checkpoint: { status: number; firstLine: string } | { failed: string };
}

/** A page that fetches from the log at `logUrl`: a decision with the token, then /checkpoint. */
function page(logUrl: string): string {
  const script = `
const attempt = async (f) => { try { return await f(); } catch (err) { return { failed: String(err) }; } };
const lookup = await attempt(async () => {
  const res = await fetch(${JSON.stringify(`${logUrl}/v1/decisions/d5?source=svc`)},
    { headers: { Authorization: 'Bearer ${READ_TOKEN}' } });
  const body = await res.json();
  return { status: res.status, payloadAccess: body.payload_access, decisionId: body.event && body.event.decision_id };
});
const checkpoint = await attempt(async () => {
  const res = await fetch(${JSON.stringify(`${logUrl}/checkpoint`)});
  return { status: res.status, firstLine: (await res.text()).split('\\n')[0] };
});
globalThis.__result = { lookup, checkpoint };`;
  return `<!doctype html><meta charset="utf-8"><title>cors</title><script type="module">${script}</script>`;
}

describe.skipIf(!available)('a read token from another origin, in headless Chromium', () => {
  let log: TransparencyLog;
  let logServer: Served;
  const pages: Served[] = [];
  let html = '';
  const servePage = async () => {
    const s = await serveFetch(() => new Response(html, { headers: { 'content-type': 'text/html' } }));
    pages.push(s);
    return s;
  };

  beforeAll(async () => {
    log = await makeLog(8);
    const allowed = await servePage();
    const tokens = new TokenStore(`read:${READ_TOKEN}`, []);
    const app = createApp(log, { ...DEFAULT_APP_OPTIONS, tokens, corsOrigins: [allowed.url] });
    logServer = await serveFetch(app.fetch);
    html = page(logServer.url);
  });
  afterAll(async () => {
    for (const s of pages) await s.close();
    await logServer?.close();
    log?.close();
  });

  test('the allowed origin reads the decision; another origin is refused but reads the checkpoint', async () => {
    const other = await servePage();
    const browser = await launchChromium();
    try {
      const allowed = (await pageResult(browser, `${pages[0]!.url}/`)) as PageResult;
      expect(allowed.lookup).toEqual({ status: 200, payloadAccess: 'granted', decisionId: 'd5' });
      expect(allowed.checkpoint).toEqual({ status: 200, firstLine: log.latest().note.split('\n')[0] });

      const refused = (await pageResult(browser, `${other.url}/`)) as PageResult;
      expect(refused.lookup).toEqual({ failed: expect.stringMatching(/TypeError/) });
      expect(refused.checkpoint).toEqual(allowed.checkpoint);
    } finally {
      await browser.close();
    }
  });
});
