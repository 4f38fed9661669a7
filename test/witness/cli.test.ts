/**
 * `opa-tlog witness` configuration and first-run key creation, and the peer/witness spec
 * parser shared with `opa-tlog monitor`.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { parseMonitorArgs } from '../../src/cli/monitor.js';
import { loadWitnessConfig, startWitness, WitnessConfigError } from '../../src/cli/witness.js';
import { newCosignatureV1Verifier } from '../../src/core/cosignature.js';
import { parseVerifierKey } from '../../src/core/note.js';
import { originHash } from '../../src/core/witness-protocol.js';
import { parsePeerSpec } from '../../src/witness/gossip.js';
import { TEST_ORIGIN, TEST_SIGNER, tempDir } from '../helpers/log.js';
import { grow, newLog } from './helpers.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('configuration', () => {
  test('flags, then environment, then config file, then defaults', () => {
    const dir = tempDir();
    const file = join(dir, 'w.json');
    writeFileSync(
      file,
      JSON.stringify({ port: 9000, host: '0.0.0.0', log: [TEST_SIGNER.vkey], peer: ['http://p'] }),
    );
    const c = loadWitnessConfig(['--config', file, '--port', '7000'], { OPA_TLOG_WITNESS_HOST: '127.0.0.2' });
    expect(c.port).toBe(7000);
    expect(c.host).toBe('127.0.0.2');
    expect(c.logs).toEqual([TEST_SIGNER.vkey]);
    expect(c.peers).toEqual(['http://p']);
    expect(c.data).toBe('./witness-data');
    expect(c.gossipIntervalMs).toBe(60_000);
    const e = loadWitnessConfig([], {
      OPA_TLOG_WITNESS_LOGS: `${TEST_SIGNER.vkey} http://log\n`,
      OPA_TLOG_WITNESS_PEERS: 'http://a\nhttp://b',
    });
    expect(e.logs).toEqual([`${TEST_SIGNER.vkey} http://log`]);
    expect(e.peers).toEqual(['http://a', 'http://b']);
    expect(() => loadWitnessConfig([], {})).toThrow(WitnessConfigError);
    expect(() => loadWitnessConfig(['--log', TEST_SIGNER.vkey, '--port', 'x'], {})).toThrow(
      WitnessConfigError,
    );
    expect(() => loadWitnessConfig(['--bogus'], {})).toThrow(WitnessConfigError);
    writeFileSync(file, JSON.stringify({ colour: 'blue' }));
    expect(() => loadWitnessConfig(['--config', file], {})).toThrow(/unknown setting/);
  });

  test('peer and witness specs: URL, URL=VKEY (URLs may contain =), "URL VKEY"', () => {
    const vkey = 'example.com/witness+098ef77f+BCmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X';
    expect(parsePeerSpec('http://w')).toEqual({ url: 'http://w' });
    expect(parsePeerSpec(`http://w/x?a=b=${vkey}`)).toEqual({ url: 'http://w/x?a=b', vkey });
    expect(parsePeerSpec(`http://w ${vkey}`)).toEqual({ url: 'http://w', vkey });
    const m = parseMonitorArgs([
      '--log-url',
      'http://l',
      '--vkey',
      TEST_SIGNER.vkey,
      '--witness',
      `http://w=${vkey}`,
    ]);
    expect(m.witnesses).toEqual([{ url: 'http://w', vkey }]);
    expect(m.once).toBe(false);
    expect(() => parseMonitorArgs(['--log-url', 'http://l', '--vkey', 'k', '--witness', 'http://w'])).toThrow(
      /URL=VKEY/,
    );
  });
});

describe('first run', () => {
  test('creates the cosigner key (0600) and witness.vkey (type 0x04), then reuses it', async () => {
    const data = join(tempDir(), 'w');
    const cfg = loadWitnessConfig(['--data', data, '--port', '0', '--log', TEST_SIGNER.vkey], {});
    const w = await startWitness(cfg);
    cleanup.push(() => w.close());
    expect(w.created).toBe(true);
    expect(w.witness.signer.name).toMatch(/^opa-tlog-witness\.local\/[0-9a-f]{8}$/);
    expect(statSync(join(data, 'witness.key')).mode & 0o777).toBe(0o600);
    const vkey = readFileSync(join(data, 'witness.vkey'), 'utf8').trim();
    expect(vkey).toBe(w.vkey);
    expect(parseVerifierKey(vkey).type).toBe(0x04);
    newCosignatureV1Verifier(vkey);

    // It serves: a log checkpoint gets cosigned over HTTP.
    const log = await newLog();
    cleanup.push(() => log.close());
    await grow(log, 2, 'k');
    const res = await fetch(`${w.url}/add-checkpoint`, {
      method: 'POST',
      body: `old 0\n\n${log.latest().note}`,
    });
    expect(res.status).toBe(200);
    expect((await fetch(`${w.url}/${originHash(TEST_ORIGIN)}/checkpoint`)).status).toBe(200);
    await w.close();
    cleanup.pop();

    const again = await startWitness(cfg);
    cleanup.push(() => again.close());
    expect(again.created).toBe(false);
    expect(again.vkey).toBe(vkey);
    // State survived the restart.
    expect(again.witness.store.get(TEST_ORIGIN)?.size).toBe(2);
    await again.close();
    cleanup.pop();
    await expect(startWitness({ ...cfg, name: 'another.name/w' })).rejects.toThrow(/differs/);
  });

  test('--name is used for a new key', async () => {
    const data = join(tempDir(), 'w');
    const w = await startWitness(
      loadWitnessConfig(
        ['--data', data, '--port', '0', '--log', TEST_SIGNER.vkey, '--name', 'w.example/1'],
        {},
      ),
    );
    cleanup.push(() => w.close());
    expect(w.vkey.startsWith('w.example/1+')).toBe(true);
  });
});
