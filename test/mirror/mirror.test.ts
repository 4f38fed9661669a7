/**
 * The static mirror end to end, all real processes: `opa-tlog serve`, `opa-tlog mirror`
 * (dist/cli/main.js) copying it into a directory, Debian's nginx serving that directory, and
 * `opa-tlog audit` plus Go's reference sumdb/tlog verifying the log through nginx. Then the
 * mirror follows the log (full tiles untouched, stale partials gone), refuses a lying log (a
 * forked checkpoint, an altered bundle, an altered tile) without touching what it published,
 * and survives a SIGKILL mid-copy. Skipped without nginx unless OPA_TLOG_REQUIRE_NGINX=1.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCheckpoint } from '../../src/core/checkpoint.js';
import { newEd25519Signer } from '../../src/core/note.js';
import { NGINX_REQUIRED, nginxAvailable, type RunningNginx, startNginx } from '../helpers/nginx.js';
import { CLI, type RunningServer, type Served, serveFetch, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { goAvailable, runTlogCheck } from '../interop/go-harness.js';

const SAMPLES = join(import.meta.dirname, '..', 'fixtures', 'opa');
const HAVE_NGINX = nginxAvailable('static mirror tests');
if (!HAVE_NGINX && NGINX_REQUIRED) {
  describe('static mirror (nginx required)', () => {
    it('needs nginx', () => expect.fail('nginx is required (OPA_TLOG_REQUIRE_NGINX=1)'));
  });
}

interface Run {
  code: number | null;
  out: string;
}

/** Runs the CLI to completion. */
function runCli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.on('error', reject);
    proc.on('exit', (code) => resolve({ code, out }));
  });
}

/** A proxy in front of `base` whose answers `tamper` may replace (undefined: honest). */
function proxy(
  base: string,
  tamper: (path: string, body: Uint8Array) => Promise<Uint8Array | undefined> | Uint8Array | undefined,
): Promise<Served> {
  return serveFetch(async (req) => {
    const path = new URL(req.url).pathname.slice(1);
    const res = await fetch(`${base}/${path}`);
    const body = new Uint8Array(await res.arrayBuffer());
    const out = res.status === 200 ? ((await tamper(path, body)) ?? body) : body;
    return new Response(out as Uint8Array<ArrayBuffer>, { status: res.status });
  });
}

describe.skipIf(!HAVE_NGINX)('static mirror behind nginx', () => {
  let srv: RunningServer;
  let nginx: RunningNginx;
  let dir: string;
  let data: string;
  let total = 0;

  const checkpoint = async (url: string) => (await fetch(`${url}/checkpoint`)).text();
  const sizeOf = (note: string) => Number(note.split('\n')[1]);
  const waitForSize = async (n: number) => {
    for (let i = 0; i < 400 && sizeOf(await checkpoint(srv.url)) < n; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(sizeOf(await checkpoint(srv.url))).toBe(n);
  };
  const ingest = async (n: number) => {
    const body = JSON.stringify(Array.from({ length: n }, (_, i) => ({ generated: total + i })));
    const res = await fetch(`${srv.url}/v1/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
    total += n;
    await waitForSize(total);
  };
  const mirror = (url: string, ...more: string[]) =>
    runCli(['mirror', '--url', url, '--vkey', srv.vkey, '--to', dir, ...more]);
  const published = () => readFileSync(join(dir, 'checkpoint'), 'utf8');
  const expectAuditViaNginx = async (size: number) => {
    const audit = await runCli(['audit', '--url', nginx.url, '--vkey', srv.vkey]);
    expect(audit.out).toContain(`tree size ${size}`);
    expect(audit.code, audit.out).toBe(0);
    if (!goAvailable()) return;
    const go = await runTlogCheck(['-url', nginx.url, '-vkey', srv.vkey, '-index', `0,255,256,${size - 1}`]);
    expect(go.stderr).toBe('');
    expect(go.code).toBe(0);
    expect((JSON.parse(go.stdout) as { size: number }).size).toBe(size);
  };

  beforeAll(async () => {
    data = tempDir('opa-tlog-mirror-log-');
    srv = await startServer(data, ['--sign-interval-ms', '20']);
    dir = tempDir('opa-tlog-mirror-');
    nginx = await startNginx(dir);
    // The shared OPA samples, as OPA sends them, then generated entries: one full tile + a partial.
    const res = await fetch(`${srv.url}/logs`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'user-agent': 'Open-Policy-Agent/1.4.2 (linux, amd64)',
      },
      body: readFileSync(join(SAMPLES, 'upload-batch.json.gz')),
    });
    expect(res.status).toBe(200);
    total = 50;
    await ingest(300);
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await srv?.stop();
  });

  it('mirror --once copies the tlog-tiles layout; audit and Go verify the log through nginx', async () => {
    const r = await mirror(srv.url, '--once');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('tree size 350');
    expect(published()).toBe(await checkpoint(srv.url));
    for (const p of [
      'tile/0/000',
      'tile/0/001.p/94',
      'tile/1/000.p/1',
      'tile/entries/000',
      'tile/entries/001.p/94',
    ]) {
      const served = await fetch(`${nginx.url}/${p}`);
      expect(served.status, p).toBe(200);
      const want = new Uint8Array(await (await fetch(`${srv.url}/${p}`)).arrayBuffer());
      expect(new Uint8Array(await served.arrayBuffer())).toEqual(want);
    }
    expect(existsSync(join(dir, '.mirror-staging'))).toBe(false);
    await expectAuditViaNginx(350);
  }, 120_000);

  it('follows the log: the checkpoint advances, full tiles are never rewritten, stale partials go', async () => {
    const full = ['tile/0/000', 'tile/entries/000'].map((p) => join(dir, p));
    const before = full.map((f) => statSync(f));
    await ingest(300); // 650: two full tiles and a partial of 138
    const follower = spawn(
      process.execPath,
      [CLI, 'mirror', '--url', srv.url, '--vkey', srv.vkey, '--to', dir, '--interval-ms', '50'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    follower.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    follower.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise((r) => follower.on('exit', r));
    const waitFor = async (text: string) => {
      for (let i = 0; i < 600 && !out.includes(text); i++) await new Promise((r) => setTimeout(r, 50));
    };
    await waitFor('tree size 650');
    await ingest(50); // and one more checkpoint while it follows
    await waitFor('tree size 700');
    follower.kill('SIGTERM');
    await exited;
    expect(out).toContain('tree size 650');
    expect(out).toContain('tree size 700');
    expect(published()).toBe(await checkpoint(srv.url));
    full.forEach((f, i) => {
      const now = statSync(f);
      expect([now.ino, now.mtimeMs]).toEqual([before[i]!.ino, before[i]!.mtimeMs]);
    });
    expect(existsSync(join(dir, 'tile/0/001.p'))).toBe(false);
    expect(existsSync(join(dir, 'tile/0/002.p/138'))).toBe(false);
    expect(readdirSync(join(dir, 'tile/0/002.p'))).toEqual(['188']);
    expect(readdirSync(join(dir, 'tile/entries/002.p'))).toEqual(['188']);
    await expectAuditViaNginx(700);
  }, 120_000);

  it('refuses a forked checkpoint and leaves the published one as it was', async () => {
    const before = published();
    const signer = newEd25519Signer(readFileSync(join(data, 'log.key'), 'utf8').trim());
    const forked = signCheckpoint(
      { origin: signer.name, size: sizeOf(before), rootHash: new Uint8Array(32).fill(9) },
      signer,
    );
    const liar = await proxy(srv.url, (path) =>
      path === 'checkpoint' ? new TextEncoder().encode(forked) : undefined,
    );
    try {
      const r = await mirror(liar.url, '--once');
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain('refused (fork)');
      expect(r.out).toContain(forked.split('\n')[2]!); // the evidence: both notes
      expect(published()).toBe(before);
    } finally {
      await liar.close();
    }
    await expectAuditViaNginx(sizeOf(before));
  }, 60_000);

  it('refuses an altered bundle and an altered tile; nothing new is published', async () => {
    const before = published();
    await ingest(100); // 800: bundle and tile 003.p/32 are new
    for (const [target, code] of [
      ['tile/entries/003.p/32', 'bad_tile'],
      ['tile/0/003.p/32', 'bad_tile'],
    ] as const) {
      const liar = await proxy(srv.url, (path, body) => {
        if (path !== target) return undefined;
        const bad = body.slice();
        bad[bad.length - 1]! ^= 1;
        return bad;
      });
      try {
        const r = await mirror(liar.url, '--once');
        expect(r.code, r.out).toBe(1);
        expect(r.out).toContain(`refused (${code})`);
        expect(published()).toBe(before);
        expect(existsSync(join(dir, target))).toBe(false);
        expect(existsSync(join(dir, '.mirror-staging'))).toBe(false);
      } finally {
        await liar.close();
      }
    }
    await expectAuditViaNginx(sizeOf(before));
  }, 60_000);

  it('SIGKILLed mid-copy, a restart completes and the result audits clean', async () => {
    await ingest(4000); // many bundles to copy
    const before = published();
    // A slow path to the log, so that the kill lands while bundles are being staged.
    const slow = await proxy(srv.url, async () => {
      await new Promise((r) => setTimeout(r, 100));
      return undefined;
    });
    try {
      const victim = spawn(
        process.execPath,
        [CLI, 'mirror', '--url', slow.url, '--vkey', srv.vkey, '--to', dir, '--once'],
        { stdio: 'ignore' },
      );
      const exited = new Promise((r) => victim.on('exit', r));
      const staging = join(dir, '.mirror-staging', 'tile', 'entries');
      for (let i = 0; i < 400 && !(existsSync(staging) && readdirSync(staging).length >= 2); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(existsSync(staging)).toBe(true);
      victim.kill('SIGKILL');
      await exited;
    } finally {
      await slow.close();
    }
    expect(published()).toBe(before);
    await expectAuditViaNginx(sizeOf(before));
    const r = await mirror(srv.url, '--once');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`verifies at size ${sizeOf(before)}`);
    expect(r.out).toContain(`tree size ${total}`);
    expect(existsSync(join(dir, '.mirror-staging'))).toBe(false);
    await expectAuditViaNginx(total);
  }, 120_000);
});
