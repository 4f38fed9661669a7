/**
 * Signer key rotation as an operator runs it, with real processes: `opa-tlog keygen --name`
 * makes the next key beside the current one (never overwriting), a witness is configured with
 * both log keys, and the log runs {old} -> {old,new} -> {new} across restarts with
 * `--key` repeated. The witness cosigns across the change (the published checkpoint meets the
 * policy at every step), and clients pinned to the old key, the new key and both verify entries
 * written before, during and after the overlap, over HTTP.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { LogClient } from '../../src/client/client.js';
import { VerifyError } from '../../src/client/errors.js';
import { parseNote } from '../../src/core/note.js';
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

const ORIGIN = 'rotation.opa-tlog.dev/log';
const running: (RunningServer | RunningWitness)[] = [];
afterAll(async () => {
  for (const p of running) await p.kill();
});

const keygen = (args: string[]) =>
  spawnSync(process.execPath, [CLI, 'keygen', '--origin', ORIGIN, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  });

describe('key rotation with real processes', () => {
  test('keygen --name, serve --key repeated, a witness with both keys cosigns across; clients pinned to old, new, both', async () => {
    const data = tempDir('opa-tlog-rot-');
    expect(keygen(['--out', data]).status).toBe(0);
    const oldKey = readFileSync(join(data, 'log.key'), 'utf8');
    const next = keygen(['--out', data, '--name', 'log-next']);
    expect(next.status).toBe(0);
    expect(readFileSync(join(data, 'log.key'), 'utf8')).toBe(oldKey);
    const again = keygen(['--out', data, '--name', 'log-next']);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/refusing to overwrite/);
    expect(keygen(['--out', data, '--name', '../x']).status).toBe(2);
    const OLD = readFileSync(join(data, 'log.vkey'), 'utf8').trim();
    const NEW = readFileSync(join(data, 'log-next.vkey'), 'utf8').trim();
    expect(next.stdout).toContain(NEW);

    const w = await startWitnessServer(tempDir(), 'w1.rotation.opa-tlog.dev/witness', OLD, ['--log', NEW]);
    running.push(w);
    const policyText = `log ${OLD}\nlog ${NEW}\nwitness w1 ${w.vkey} ${w.url}\nquorum w1\n`;
    const policyFile = join(data, 'witnesses.policy');
    writeFileSync(policyFile, policyText);
    const policy = parsePolicy(policyText);

    let srv: RunningServer | undefined;
    const serve = async (keys: string[]) => {
      srv = await startServer(data, [
        ...keys.flatMap((k) => ['--key', join(data, k)]),
        '--sign-interval-ms',
        '50',
        '--witness-policy',
        policyFile,
        '--witness-min-interval-ms',
        '0',
      ]);
      running.push(srv);
      return srv;
    };
    /** Polls /checkpoint until it covers `size` and the witness cosigned it; returns the note. */
    const published = async (size: number): Promise<string> => {
      for (let i = 0; i < 200; i++) {
        const res = await fetch(`${srv!.url}/checkpoint`);
        if (res.status === 200) {
          const note = await res.text();
          const v = verifyCheckpointWithPolicy(note, policy);
          if (v.checkpoint.size >= size && v.witnesses.length === 1) return note;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no witnessed checkpoint of size ${size}`);
    };
    const logLines = (note: string) => parseNote(note).signatures.filter((s) => s.name === ORIGIN).length;
    const pinned = (vkey: string | string[]) =>
      new LogClient({ url: srv!.url, vkey, fetch: globalThis.fetch });
    const verifies = async (vkey: string | string[], index: number) => {
      try {
        return (await pinned(vkey).verifyEntry(index)).index === index;
      } catch (err) {
        if (err instanceof VerifyError && err.code === 'bad_signature') return false;
        throw err;
      }
    };

    // {old}
    await serve(['log.key']);
    const s1 = await append(srv!.url, 3);
    expect(logLines(await published(s1))).toBe(1);
    expect(await verifies(OLD, 0)).toBe(true);
    expect(await verifies([NEW], 0)).toBe(false);
    expect(await srv!.stop()).toBe(0);

    // {old,new}: both verifier keys printed; every checkpoint carries both lines.
    await serve(['log.key', 'log-next.key']);
    expect(srv!.output()).toContain(`verifier key ${OLD}`);
    expect(srv!.output()).toContain(`verifier key ${NEW}`);
    const s2 = await append(srv!.url, 3);
    expect(logLines(await published(s2))).toBe(2);
    for (const keys of [OLD, [NEW], [OLD, NEW]]) {
      for (const i of [0, s2 - 1]) expect(await verifies(keys, i)).toBe(true);
    }
    expect(await srv!.stop()).toBe(0);

    // {new}: the witness keeps cosigning; old-pinned clients stop verifying new checkpoints.
    await serve(['log-next.key']);
    const s3 = await append(srv!.url, 3);
    const note3 = await published(s3);
    expect(logLines(note3)).toBe(1);
    for (const keys of [[NEW], [OLD, NEW]]) {
      for (const i of [0, s2 - 1, s3 - 1]) expect(await verifies(keys, i)).toBe(true);
    }
    expect(await verifies(OLD, s3 - 1)).toBe(false);
    expect(await srv!.stop()).toBe(0);

    // Back to the retired key alone: refused, exit 1, with the override named.
    const back = spawnSync(
      process.execPath,
      [CLI, 'serve', '--data', data, '--port', '0', '--key', join(data, 'log.key')],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(back.status).toBe(1);
    expect(back.stdout + back.stderr).toMatch(/was signed by key .*--force-key-change/s);
  }, 120_000);

  test('--key from the environment (comma-separated) and the config file (array)', async () => {
    const data = tempDir('opa-tlog-rot-env-');
    expect(keygen(['--out', data]).status).toBe(0);
    expect(keygen(['--out', data, '--name', 'b']).status).toBe(0);
    const { loadServeConfig } = await import('../../src/cli/config.js');
    expect(loadServeConfig([], { OPA_TLOG_KEY: 'a.key, b.key' }).key).toEqual(['a.key', 'b.key']);
    const file = join(data, 'config.json');
    writeFileSync(file, JSON.stringify({ key: ['a.key', 'b.key'] }));
    expect(loadServeConfig(['--config', file], {}).key).toEqual(['a.key', 'b.key']);
    expect(loadServeConfig(['--key', 'x.key', '--key', 'y.key'], {}).key).toEqual(['x.key', 'y.key']);
    expect(loadServeConfig([], {}).key).toEqual([]);
    // Two keys of different origins are refused before anything opens.
    const other = spawnSync(
      process.execPath,
      [CLI, 'keygen', '--origin', 'other.example/log', '--out', data, '--name', 'other'],
      { encoding: 'utf8' },
    );
    expect(other.status).toBe(0);
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'serve',
        '--data',
        data,
        '--port',
        '0',
        '--key',
        join(data, 'log.key'),
        '--key',
        join(data, 'other.key'),
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/differs from the key's origin other\.example\/log/);
  }, 60_000);
});
