/**
 * The opa-tlog command as a user runs it: first run creates the key (0600) and prints the
 * vkey, settings come from flags, environment and config file in that order, and unsafe or
 * inconsistent settings are refused with exit code 2 and a message.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadServeConfig } from '../../src/cli/config.js';
import { newEd25519Verifier } from '../../src/core/note.js';
import { tempDir } from '../helpers/log.js';
import { CLI, startServer } from '../helpers/server.js';

const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20_000,
  });

describe('opa-tlog serve', () => {
  test('first run creates the database and a 0600 key, prints the vkey; a restart keeps them', async () => {
    const data = tempDir();
    const srv = await startServer(data, ['--origin', 'audit.example.com/opa']);
    const vkey = readFileSync(join(data, 'log.vkey'), 'utf8').trim();
    expect(vkey).toMatch(/^audit\.example\.com\/opa\+[0-9a-f]{8}\+/);
    expect(newEd25519Verifier(vkey).name).toBe('audit.example.com/opa');
    expect(srv.output()).toContain(`verifier key ${vkey}`);
    expect(statSync(join(data, 'log.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(data, 'log.db')).isFile()).toBe(true);
    expect(await srv.stop()).toBe(0);
    const again = await startServer(data);
    expect(again.vkey).toBe(vkey);
    expect(again.output()).not.toContain('created a new signer key');
    expect(await again.stop()).toBe(0);
    // The origin is fixed by the key.
    const r = run(['serve', '--data', data, '--port', '0', '--origin', 'other.example/log']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/differs from the key's origin/);
  });

  test('without tokens it refuses a non-loopback address unless overridden', () => {
    const r = run(['serve', '--data', tempDir(), '--host', '0.0.0.0', '--port', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/only binds to loopback/);
  });

  test('usage errors exit 2 with a message', () => {
    expect(run(['serve', '--port', 'eighty']).status).toBe(2);
    expect(run(['serve', '--synchronous', 'OFF']).stderr).toMatch(/FULL or NORMAL/);
    expect(run(['serve', '--bogus']).status).toBe(2);
    expect(run(['frobnicate']).status).toBe(2);
    const help = run(['serve', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('OPA_TLOG_PORT');
  });

  test('flags beat the environment, which beats the config file', () => {
    const file = join(tempDir(), 'config.json');
    writeFileSync(file, JSON.stringify({ port: 7000, 'sign-interval-ms': 500, host: '127.0.0.2' }));
    const cfg = loadServeConfig(['--config', file, '--port', '9000'], {
      OPA_TLOG_PORT: '8000',
      OPA_TLOG_SIGN_INTERVAL_MS: '250',
    });
    expect([cfg.port, cfg.signIntervalMs, cfg.host, cfg.synchronous]).toEqual([
      9000,
      250,
      '127.0.0.2',
      'FULL',
    ]);
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    expect(() => loadServeConfig(['--config', file], {})).toThrow(/unknown setting "prot"/);
  });
});

describe('opa-tlog keygen', () => {
  test('writes a key pair and refuses to overwrite it', () => {
    const dir = tempDir();
    const r = run(['keygen', '--origin', 'example.com/log', '--out', dir]);
    expect(r.status).toBe(0);
    const vkey = readFileSync(join(dir, 'log.vkey'), 'utf8').trim();
    expect(r.stdout).toContain(vkey);
    expect(readFileSync(join(dir, 'log.key'), 'utf8')).toMatch(/^PRIVATE\+KEY\+example\.com\/log\+/);
    expect(statSync(join(dir, 'log.key')).mode & 0o777).toBe(0o600);
    const again = run(['keygen', '--origin', 'example.com/log', '--out', dir]);
    expect(again.status).toBe(2);
    expect(run(['keygen', '--origin', 'bad origin', '--out', tempDir()]).status).toBe(2);
  });
});

describe('TLS', () => {
  const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
  test.skipIf(!haveOpenssl)('--tls-cert/--tls-key serve HTTPS directly', async () => {
    const dir = tempDir();
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const gen = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    expect(gen.status).toBe(0);
    const srv = await startServer(join(dir, 'data'), ['--tls-cert', cert, '--tls-key', key]);
    try {
      expect(srv.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const { get } = await import('node:https');
      const body = await new Promise<string>((resolve, reject) => {
        get(`${srv.url}/checkpoint`, { ca: readFileSync(cert) }, (res) => {
          let s = '';
          res.on('data', (d: Buffer) => {
            s += d.toString();
          });
          res.on('end', () => resolve(s));
        }).on('error', reject);
      });
      expect(body.split('\n')[1]).toBe('0');
      expect(newEd25519Verifier(srv.vkey).name).toBe(body.split('\n')[0]);
    } finally {
      await srv.stop();
    }
    // Half a TLS configuration is a usage error.
    expect(run(['serve', '--data', tempDir(), '--tls-cert', cert]).status).toBe(2);
  });
});
