/** Test helpers: a log in a temp directory with a fixed key. */

import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { ed25519SignerFromSeed, newEd25519Verifier } from '../../src/core/note.js';
import { type AppOptions, createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { TokenStore } from '../../src/http/auth.js';
import { type LogConfig, TransparencyLog } from '../../src/log/log.js';
import { tempDir } from './tmp.js';

export const TEST_ORIGIN = 'test.opa-tlog.dev/log';
export const TEST_SIGNER = ed25519SignerFromSeed(TEST_ORIGIN, new Uint8Array(32).fill(7));
export const TEST_VERIFIER = newEd25519Verifier(TEST_SIGNER.vkey);

/** Re-exported so log tests keep one import; the helper itself lives in tmp.ts. */
export { tempDir } from './tmp.js';

/** Events `e<from>` .. `e<from + n - 1>` of source `s`, each with its own number. */
export const numberedEvents = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    kind: 'event',
    source: 's',
    id: `e${from + i}`,
    event: { i: from + i },
  }));

export function testConfig(dbPath: string, over: Partial<LogConfig> = {}): LogConfig {
  return {
    dbPath,
    origin: TEST_ORIGIN,
    signer: TEST_SIGNER,
    verifier: TEST_VERIFIER,
    signIntervalMs: 60_000,
    ...over,
  };
}

/**
 * Opens and starts a log (first checkpoint signed). With the writer thread, from the build
 * (dist/: the worker is compiled JavaScript; `npm run build` first, as `npm test` does).
 */
export async function openTestLog(dbPath: string, over: Partial<LogConfig> = {}): Promise<TransparencyLog> {
  const Log: typeof TransparencyLog = over.writerThread
    ? (await import(new URL('../../dist/log/log.js', import.meta.url).href)).TransparencyLog
    : TransparencyLog;
  const log = await Log.open(testConfig(dbPath, over));
  await log.start();
  return log;
}

/**
 * A test log (fresh temp folder, 20 ms signer) behind the HTTP app with open access and
 * `over` on top of the default options; the log is closed when the calling test finishes.
 */
export async function openTestApp(over: Partial<AppOptions> = {}) {
  const log = await openTestLog(join(tempDir(), 'log.db'), { signIntervalMs: 20 });
  onTestFinished(() => log.close());
  const app = createApp(log, { ...DEFAULT_APP_OPTIONS, tokens: new TokenStore('', []), ...over });
  return { log, app };
}
