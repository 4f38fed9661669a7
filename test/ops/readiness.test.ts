/**
 * Probes against the real server: /healthz always 200; /readyz 200 while the database takes
 * writes, 503 `database_not_writable` once the database file and its WAL are made read-only,
 * and 200 again when they are writable again. Read-only is simulated with the immutable
 * attribute (`chattr +i`), which, unlike chmod, also binds root and already open descriptors
 * (the -shm file is left alone: SQLite maps it, and a write to an immutable mapping is a
 * SIGBUS). Needs root and chattr on the temp file system; skipped with a warning otherwise.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

/** True if this process can set and clear the immutable attribute in the temp dir. */
function canChattr(): boolean {
  const f = join(tempDir('opa-tlog-chattr-'), 'probe');
  writeFileSync(f, 'x');
  const set = spawnSync('chattr', ['+i', f]).status === 0;
  return set && spawnSync('chattr', ['-i', f]).status === 0;
}

const chattrOk = canChattr();
if (!chattrOk) console.warn('readiness read-only test skipped: chattr +i is not available here (needs root)');

let srv: RunningServer | undefined;
let locked: string[] = [];
const chattr = (flag: '+i' | '-i', files: string[]) => {
  const r = spawnSync('chattr', [flag, ...files], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chattr ${flag}: ${r.stderr}`);
};
afterAll(async () => {
  if (locked.length) chattr('-i', locked);
  await srv?.stop();
});

async function readyz(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Polls /readyz until its status is `want` (the write probe's answer lives 1 s). */
async function until(url: string, want: number): Promise<Record<string, unknown>> {
  let last = await readyz(url);
  for (let i = 0; i < 50 && last.status !== want; i++) {
    await new Promise((r) => setTimeout(r, 200));
    last = await readyz(url);
  }
  expect(last.status, JSON.stringify(last.body)).toBe(want);
  return last.body;
}

describe('health probes', () => {
  test.skipIf(!chattrOk)(
    'readiness follows a database made read-only and back',
    async () => {
      const data = tempDir();
      srv = await startServer(data, ['--sign-interval-ms', '100']);
      const health = await fetch(`${srv.url}/healthz`);
      expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
      expect(await until(srv.url, 200)).toEqual({ status: 'ready' });
      locked = [join(data, 'log.db'), join(data, 'log.db-wal')];
      chattr('+i', locked);
      const down = await until(srv.url, 503);
      expect(down).toMatchObject({ status: 'not_ready', reason: 'database_not_writable' });
      expect((await fetch(`${srv.url}/healthz`)).status).toBe(200); // alive all the same
      chattr('-i', locked);
      locked = [];
      expect(await until(srv.url, 200)).toEqual({ status: 'ready' });
    },
    60_000,
  );
});
