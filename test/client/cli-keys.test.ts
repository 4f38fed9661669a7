/**
 * `opa-tlog verify` and `opa-tlog audit` with several log keys: `--vkey` repeated, or a file
 * holding one vkey per line; a checkpoint signed by any of them verifies.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { runAudit } from '../../src/cli/audit.js';
import { type CliIo, readKeyArgs, runVerify } from '../../src/cli/verify.js';
import { ed25519SignerFromSeed } from '../../src/core/note.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { TEST_ORIGIN, tempDir } from '../helpers/log.js';
import { BASE, logFetch, makeLog, TEST_SIGNER } from './fixture.js';

const NEW = ed25519SignerFromSeed(TEST_ORIGIN, new Uint8Array(32).fill(42));

const logs: TransparencyLog[] = [];
afterEach(() => {
  for (const l of logs.splice(0)) l.close();
});

function io(log: TransparencyLog): CliIo & { text: () => string } {
  const lines: string[] = [];
  return {
    out: (l) => lines.push(l),
    err: (l) => lines.push(l),
    fetch: logFetch(log),
    env: {},
    isTTY: false,
    text: () => lines.join('\n'),
  };
}

describe('several --vkey', () => {
  test('repeated flags and a key file both give every key; the log signed by one of them verifies', async () => {
    const log = await makeLog(4);
    logs.push(log);
    const file = join(tempDir(), 'log.vkeys');
    writeFileSync(file, `# old key, then the new one\n${TEST_SIGNER.vkey}\n\n${NEW.vkey}\n`);
    expect(readKeyArgs([file])).toEqual([TEST_SIGNER.vkey, NEW.vkey]);
    expect(readKeyArgs([` ${NEW.vkey} `, file])).toEqual([NEW.vkey, TEST_SIGNER.vkey, NEW.vkey]);

    for (const args of [
      ['--vkey', NEW.vkey, '--vkey', TEST_SIGNER.vkey],
      ['--vkey', file],
    ]) {
      const o = io(log);
      expect(await runVerify(['checkpoint', '--url', BASE, ...args], o), o.text()).toBe(0);
      const a = io(log);
      expect(await runAudit(['--url', BASE, ...args], a), a.text()).toBe(0);
    }
    const only = io(log);
    expect(await runVerify(['checkpoint', '--url', BASE, '--vkey', NEW.vkey], only)).toBe(1);
    expect(only.text()).toContain('refused (bad_signature)');
    const twice = io(log);
    expect(
      await runVerify(['checkpoint', '--url', BASE, '--vkey', NEW.vkey, '--vkey', NEW.vkey], twice),
    ).toBe(2);
    expect(twice.text()).toContain('listed twice');
  });
});
