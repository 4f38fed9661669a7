/**
 * The web console in Debian's Chromium (playwright-core, as test/client/browser.test.ts) against
 * a live `opa-tlog serve` with the shared OPA samples ingested: the overview shows the tree
 * size, search finds a decision by policy path, its page shows every check passed; a lying
 * proxy that alters one proof hash makes the inclusion check fail with no green summary; after
 * an erasure the page shows it and the proof still verifies; the static build from a second
 * origin (allowed with `--cors-origin`) verifies the decision through CORS, payload included.
 * The summary is green only when every check passed: without a pinned witness policy or a read
 * token it is neutral. Every page blocks all non-loopback hosts and asserts none was asked for.
 * Screenshots (desktop and 375 px phone width) go to test-artifacts/console/.
 * Needs `npm run build` (the server and the console bundle come from dist/).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { CLI, type RunningServer, type Served, serveFetch, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const available = browserAvailable('console test');

const ROOT = join(import.meta.dirname, '..', '..');
const SAMPLES = join(ROOT, 'test', 'fixtures', 'opa', 'upload-batch.json');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');
const TOKEN = 'admin-console-token-0123456789';
const DECISION = 'b840ea1d-2970-4279-ada4-9083ef1df6db';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const PHONE = { width: 375, height: 812 };
const DESKTOP = { width: 1280, height: 900 };

/** A proxy to `target` that replaces the first proof hash of every decision lookup answer. */
function lyingProxy(target: string): (req: Request) => Promise<Response> {
  return async (req) => {
    const u = new URL(req.url);
    const res = await fetch(`${target}${u.pathname}${u.search}`, { headers: req.headers });
    const headers = new Headers(res.headers);
    headers.delete('content-length');
    headers.delete('content-encoding');
    if (!/^\/v1\/decisions\/[^/]+$/.test(u.pathname) || res.status !== 200) {
      return new Response(await res.arrayBuffer(), { status: res.status, headers });
    }
    const body = (await res.json()) as { proof: string[] };
    const h = Buffer.from(body.proof[0]!, 'base64');
    h[0]! ^= 1;
    body.proof[0] = h.toString('base64');
    return new Response(JSON.stringify(body), { status: 200, headers });
  };
}

/** A static file server for `dir` (the second origin of the static build). */
function staticFiles(dir: string): (req: Request) => Response {
  const types: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.css': 'text/css',
  };
  return (req) => {
    const p = new URL(req.url).pathname;
    const file = join(dir, p === '/' ? 'index.html' : p.replace(/\.\./g, ''));
    if (!existsSync(file)) return new Response('not found', { status: 404 });
    return new Response(readFileSync(file), {
      headers: { 'content-type': types[extname(file)] ?? 'application/octet-stream' },
    });
  };
}

describe.skipIf(!available)('web console in headless Chromium', () => {
  let log: RunningServer;
  let browser: Browser;
  /** The static build (`opa-tlog console --out`) on its own origin, allowed by the log. */
  let site: Served;
  const servers: Served[] = [];
  const blocked: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const www = tempDir('opa-tlog-console-static-');
    execFileSync(process.execPath, [CLI, 'console', '--out', www]);
    site = await serveFetch(staticFiles(www));
    servers.push(site);
    log = await startServer(tempDir('opa-tlog-console-'), [
      '--tokens',
      `admin:${TOKEN}`,
      '--cors-origin',
      site.url,
    ]);
    const res = await fetch(`${log.url}/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: readFileSync(SAMPLES),
    });
    expect(res.status).toBe(200);
    for (let i = 0; i < 100; i++) {
      const cp = await (await fetch(`${log.url}/checkpoint`)).text();
      if (cp.split('\n')[1] === '50') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    for (const s of servers) await s.close();
    await log?.stop();
  });

  /**
   * A fresh browser profile whose pages may reach loopback hosts only (others are recorded),
   * with the read token in session storage and a witness policy pinned for `policyFor` (a log
   * URL) if given.
   */
  async function context(token?: string, policyFor?: string): Promise<BrowserContext> {
    const ctx = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
    await ctx.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (LOOPBACK.has(u.hostname)) return route.continue();
      blocked.push(u.href);
      return route.abort();
    });
    if (token !== undefined) {
      await ctx.addInitScript(`sessionStorage.setItem('opa-tlog:console:token', ${JSON.stringify(token)})`);
    }
    if (policyFor !== undefined) await ctx.addInitScript(pinPolicy(policyFor));
    return ctx;
  }

  /** A page in a fresh {@link context} (same arguments). */
  async function openPage(token?: string, policyFor?: string): Promise<Page> {
    return (await context(token, policyFor)).newPage();
  }

  /** Closes the page's context; no request of the test may have left loopback. */
  async function closePage(page: Page): Promise<void> {
    await page.context().close();
    expect(blocked).toEqual([]);
  }

  /**
   * Full-page screenshots at desktop and phone width; the page must fit the phone's width and
   * every control must have a name a screen reader can announce.
   */
  async function shoot(page: Page, name: string): Promise<void> {
    const unnamed = await page.$$eval('main :is(button, input, select, textarea, a, [tabindex])', (els) =>
      els
        .filter((el) => {
          const labels = (el as { labels?: { length: number } }).labels;
          const labelled = labels !== undefined && labels.length > 0;
          return (
            !labelled &&
            !el.getAttribute('aria-label') &&
            !el.getAttribute('aria-labelledby') &&
            !el.textContent?.trim()
          );
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unnamed, `${name}: controls without an accessible name`).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, `${name}-desktop.png`), fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(ARTIFACTS, `${name}-phone.png`), fullPage: true });
    const overflow = await page.evaluate('document.documentElement.scrollWidth > window.innerWidth + 1');
    expect(overflow, `${name} overflows a phone-width screen`).toBe(false);
    await page.setViewportSize(DESKTOP);
  }

  /** A script pinning the witness policy `quorum none` for the log at `logUrl`. */
  function pinPolicy(logUrl: string): string {
    const policy = `log ${log.vkey}\nquorum none\n`;
    return `localStorage.setItem(${JSON.stringify(`opa-tlog:console:policy:${logUrl}`)}, ${JSON.stringify(policy)})`;
  }

  async function statuses(page: Page): Promise<Record<string, string>> {
    return page.$$eval('#checks li', (lis) =>
      Object.fromEntries(lis.map((li) => [li.getAttribute('data-step'), li.getAttribute('data-status')])),
    );
  }

  test('overview shows the verified tree size after pinning the key from ?vkey=', async () => {
    const page = await openPage();
    const res = await page.goto(`${log.url}/?vkey=${encodeURIComponent(log.vkey)}`);
    expect(res?.headers()['cache-control']).toBe('no-store');
    await expect.poll(() => page.textContent('#tree-size'), { timeout: 15_000 }).toBe('50');
    expect(await page.textContent('main')).toContain('Decisions per second');
    // The chart's newest point is the answer's own size, not a sample seconds old.
    expect(await page.textContent('main')).toContain('Tree size: 50 leaves now');
    // Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.className')).toBe('skip');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement.id')).toBe('main');
    await shoot(page, 'overview');
    await closePage(page);
  });

  test('first visit without a key asks to pin the key the log presents', async () => {
    const page = await openPage();
    await page.goto(`${log.url}/`);
    await page.waitForSelector('#pin-button');
    expect(await page.inputValue('#vkey-input')).toBe(log.vkey);
    await shoot(page, 'pin');
    await page.click('#pin-button');
    await expect.poll(() => page.textContent('#tree-size'), { timeout: 15_000 }).toBe('50');
    await closePage(page);
  });

  test('search finds the decision by policy path; its page shows every check passed', async () => {
    const page = await openPage();
    await page.goto(`${log.url}/settings?vkey=${encodeURIComponent(log.vkey)}`);
    await page.fill('#s-policy', `log ${log.vkey}\nquorum none\n`);
    await page.click('#save-settings');
    await page.waitForSelector('#tree-size');
    await page.click('nav a[href="/search"]');
    await page.fill('#token', TOKEN);
    await page.fill('#f-path', 'http/authz/allow');
    await page.keyboard.press('Enter');
    await page.waitForSelector(`a:has-text("${DECISION}")`);
    expect(page.url()).not.toContain(TOKEN);
    await shoot(page, 'search');
    await page.click(`a:has-text("${DECISION}")`);
    await page.waitForSelector('#summary');
    expect(await page.textContent('#summary')).toContain('verified: every check passed');
    expect(await page.getAttribute('#summary', 'role')).toBe('status');
    expect(await page.getAttribute('#summary', 'aria-live')).toBe('polite');
    const st = await statuses(page);
    expect(Object.values(st).every((s) => s === 'passed')).toBe(true);
    expect(Object.keys(st)).toEqual(
      expect.arrayContaining([
        'commitment',
        'leaf_hash',
        'signature',
        'inclusion',
        'witnesses',
        'consistency',
      ]),
    );
    expect(await page.textContent('#event')).toContain('"decision_id": "b840ea1d');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-proof')]);
    expect(readFileSync((await dl.path())!, 'utf8')).toMatch(/^c2sp\.org\/tlog-proof@v1\nextra /);
    await shoot(page, 'decision');
    // docs/console-decision.png is a committed copy of this one (tests never write outside test-artifacts).
    await page.screenshot({ path: join(ARTIFACTS, 'readme-decision.png') });
    await closePage(page);
  });

  test('a server that alters one proof hash fails the inclusion check, no green summary', async () => {
    const proxy = await serveFetch(lyingProxy(log.url));
    servers.push(proxy);
    const page = await openPage(TOKEN);
    await page.goto(`${proxy.url}/decisions/${DECISION}?vkey=${encodeURIComponent(log.vkey)}`);
    await page.waitForSelector('#summary');
    const st = await statuses(page);
    expect(st.inclusion).toBe('failed');
    expect(st.commitment).toBe('passed');
    expect(await page.$('.summary.ok')).toBeNull();
    expect(await page.textContent('#summary')).toContain('NOT verified');
    expect(await page.textContent('.refusal')).toContain('bad_inclusion');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('.refusal button')]);
    const evidence = JSON.parse(readFileSync((await dl.path())!, 'utf8')) as {
      refused: string;
      evidence: object;
    };
    expect(evidence.refused).toBe('bad_inclusion');
    expect(evidence.evidence).toHaveProperty('proof');
    await shoot(page, 'refusal');
    await closePage(page);
  });

  test('the static build from a second origin verifies the decision through CORS', async () => {
    const page = await openPage();
    const q = `log=${encodeURIComponent(log.url)}&vkey=${encodeURIComponent(log.vkey)}`;
    await page.goto(`${site.url}/index.html?${q}`);
    await expect.poll(() => page.textContent('#tree-size'), { timeout: 15_000 }).toBe('50');
    // No token: the payload is withheld, everything public verifies; the summary is neutral.
    await page.goto(`${site.url}/index.html?${q}#/decisions/${DECISION}`);
    await page.waitForSelector('#summary');
    let st = await statuses(page);
    expect(st).toMatchObject({
      leaf_hash: 'passed',
      signature: 'passed',
      inclusion: 'passed',
      consistency: 'passed',
    });
    expect(st.commitment).toBe('skipped');
    expect(await page.$('.summary.ok')).toBeNull();
    expect(await page.textContent('#summary')).toContain('not checked: the payload (withheld');
    await shoot(page, 'static-withheld');
    // A read token: the browser's preflight (Authorization) passes, as the log allows this origin.
    await page.evaluate(`sessionStorage.setItem('opa-tlog:console:token', ${JSON.stringify(TOKEN)})`);
    await page.reload();
    await page.waitForSelector('#summary');
    st = await statuses(page);
    expect(st.commitment).toBe('passed');
    expect(st.witnesses).toBe('skipped');
    // No witness policy pinned: signed and included, but not the green "verified".
    expect(await page.$('.summary.ok')).toBeNull();
    expect(await page.$('.summary.partial')).not.toBeNull();
    expect(await page.textContent('#summary')).toBe(
      '– signed by the pinned key and proven included; not checked: witness cosignatures (no policy pinned)',
    );
    expect(await page.textContent('#event')).toContain('"decision_id": "b840ea1d');
    await shoot(page, 'static-no-policy');
    // With a policy pinned (quorum none) every check passes: verified.
    await page.evaluate(pinPolicy(log.url));
    await page.reload();
    await page.waitForSelector('#summary');
    expect(Object.values(await statuses(page)).every((x) => x === 'passed')).toBe(true);
    expect(await page.textContent('.summary.ok')).toContain('verified: every check passed');
    await shoot(page, 'static-decision');
    await closePage(page);
  });

  test('after an erasure the page shows it and the proof still verifies', async () => {
    const lookup = (await (await fetch(`${log.url}/v1/decisions/${DECISION}`)).json()) as { index: number };
    const erase = await fetch(`${log.url}/v1/entries/${lookup.index}/erase`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ reason: 'ticket GDPR-1234' }),
    });
    expect(erase.status).toBe(200);
    const page = await openPage(TOKEN, log.url);
    await page.goto(`${log.url}/decisions/${DECISION}?vkey=${encodeURIComponent(log.vkey)}`);
    await page.waitForSelector('#summary');
    expect(await page.textContent('#erasure')).toContain('GDPR-1234');
    const st = await statuses(page);
    expect(st).toMatchObject({
      inclusion: 'passed',
      erasure: 'passed',
      signature: 'passed',
      consistency: 'passed',
    });
    expect(await page.$('.summary.ok')).not.toBeNull();
    expect(await page.textContent('#summary')).toContain('the erasure check replaces the commitment check');
    await shoot(page, 'erased');
    await closePage(page);
  });
});
