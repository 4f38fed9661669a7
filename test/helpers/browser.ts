/**
 * Headless Debian Chromium for the browser tests, driven by playwright-core. Without
 * /usr/bin/chromium a browser test is skipped with a warning, unless OPA_TLOG_REQUIRE_BROWSER=1
 * (then importing this module fails the file).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** True when Chromium is installed; warns (or throws under OPA_TLOG_REQUIRE_BROWSER=1) if not. */
export function browserAvailable(what: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.OPA_TLOG_REQUIRE_BROWSER === '1')
    throw new Error(`${CHROMIUM} is required (apt-get install chromium)`);
  console.warn(`${what} skipped: ${CHROMIUM} not found (apt-get install -y chromium)`);
  return false;
}

/** Launches headless Chromium with nothing running in the background (no network but ours). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Opens `url` and returns what the page leaves in `globalThis.__result` once it is set. */
export async function pageResult(browser: Browser, url: string): Promise<unknown> {
  const page = await browser.newPage();
  try {
    await page.goto(url);
    await page.waitForFunction(() => (globalThis as Record<string, unknown>).__result !== undefined);
    return await page.evaluate(() => (globalThis as Record<string, unknown>).__result);
  } finally {
    await page.close();
  }
}
