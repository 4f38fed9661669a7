/** Test helpers: a log in a temp directory with a fixed key. */
import { ed25519SignerFromSeed, newEd25519Verifier } from '../../src/core/note.js';
import { type LogConfig, TransparencyLog } from '../../src/log/log.js';

export const TEST_ORIGIN = 'test.opa-tlog.dev/log';
export const TEST_SIGNER = ed25519SignerFromSeed(TEST_ORIGIN, new Uint8Array(32).fill(7));
export const TEST_VERIFIER = newEd25519Verifier(TEST_SIGNER.vkey);

/** Re-exported so log tests keep one import; the helper itself lives in tmp.ts. */
export { tempDir } from './tmp.js';

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

/** Opens and starts a log (first checkpoint signed). */
export async function openTestLog(dbPath: string, over: Partial<LogConfig> = {}): Promise<TransparencyLog> {
  const log = await TransparencyLog.open(testConfig(dbPath, over));
  await log.start();
  return log;
}
