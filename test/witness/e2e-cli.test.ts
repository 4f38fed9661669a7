/**
 * End to end with real processes, as an operator runs them: `opa-tlog keygen` for the log,
 * three `opa-tlog witness` servers that trust it, and `opa-tlog serve --witness-policy` with a
 * 2-of-3 quorum. /checkpoint carries cosignatures that meet the policy; killing one witness
 * does not stop publication; `opa-tlog monitor --once` finds the log and witnesses consistent.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { parsePolicy, verifyCheckpointWithPolicy } from '../../src/core/policy.js';
import {
  append,
  CLI,
  type RunningServer,
  type RunningWitness,
  startServer,
  startWitnessServer,
} from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const witnessProcs: RunningWitness[] = [];
let log: RunningServer | undefined;
afterAll(async () => {
  await log?.stop();
  for (const w of witnessProcs) await w.kill();
});

describe('log + three witness processes, 2-of-3 policy', () => {
  test('cosigned checkpoints are published, and survive one witness going down', async () => {
    const logDir = tempDir();
    const origin = 'e2e.opa-tlog.dev/log';
    const kg = spawnSync(process.execPath, [CLI, 'keygen', '--origin', origin, '--out', logDir], {
      encoding: 'utf8',
    });
    expect(kg.status).toBe(0);
    const logVkey = readFileSync(join(logDir, 'log.vkey'), 'utf8').trim();
    const witnesses = await Promise.all(
      [1, 2, 3].map((i) => startWitnessServer(tempDir(), `w${i}.opa-tlog.dev/witness`, logVkey)),
    );
    witnessProcs.push(...witnesses);
    const policyText = [
      `log ${logVkey}`,
      ...witnesses.map((w, i) => `witness w${i + 1} ${w.vkey} ${w.url}`),
      'group two-of-three 2 w1 w2 w3',
      'quorum two-of-three',
      '',
    ].join('\n');
    const policyFile = join(logDir, 'witnesses.policy');
    writeFileSync(policyFile, policyText);
    const policy = parsePolicy(policyText);
    log = await startServer(logDir, [
      '--sign-interval-ms',
      '50',
      '--witness-policy',
      policyFile,
      '--witness-min-interval-ms',
      '0',
    ]);

    /** Polls /checkpoint until it covers `size` and meets the policy; returns the cosigner count. */
    const published = async (size: number) => {
      for (let i = 0; i < 200; i++) {
        const res = await fetch(`${log!.url}/checkpoint`);
        if (res.status === 200) {
          const v = verifyCheckpointWithPolicy(await res.text(), policy);
          if (v.checkpoint.size >= size) return v.witnesses.length;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no witnessed checkpoint of size ${size}`);
    };

    const s1 = await append(log!.url, 10);
    expect(await published(s1)).toBeGreaterThanOrEqual(2);
    witnesses[2]!.proc.kill('SIGKILL');
    const s2 = await append(log!.url, 5);
    expect(await published(s2)).toBe(2);

    const mon = spawnSync(
      process.execPath,
      [
        CLI,
        'monitor',
        '--log-url',
        log.url,
        '--vkey',
        logVkey,
        '--state',
        tempDir(),
        '--once',
        ...witnesses.slice(0, 2).flatMap((w) => ['--witness', `${w.url}=${w.vkey}`]),
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(mon.stderr + mon.stdout).not.toMatch(/split view/i);
    expect(mon.status).toBe(0);
  }, 90_000);
});
