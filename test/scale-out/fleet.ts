/**
 * Servers on one PostgreSQL database for the scale-out tests: data directories sharing one
 * signer key, a restartable fleet of `opa-tlog serve --store` processes, which of them holds
 * the sequencer lease, and uploads of generated OPA decisions.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';
import { CLI, type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'opa');
/** The shared OPA samples: one upload of real decision logs. */
export const SAMPLE = readFileSync(join(FIXTURES, 'upload-batch.json'));
const TEMPLATE = (JSON.parse(SAMPLE.toString()) as Record<string, unknown>[])[0]!;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const procs: RunningServer[] = [];
afterAll(async () => {
  for (const s of procs.splice(0)) {
    s.proc.kill('SIGCONT');
    await s.kill();
  }
});

/** N data directories holding the same signer key (servers on one database share it). */
export function sharedKeyDirs(n: number): string[] {
  const dirs = Array.from({ length: n }, () => tempDir());
  execFileSync(process.execPath, [CLI, 'keygen', '--origin', 'scale.example/log', '--out', dirs[0]!]);
  for (const d of dirs.slice(1)) {
    for (const f of ['log.key', 'log.vkey']) copyFileSync(join(dirs[0]!, f), join(d, f));
  }
  return dirs;
}

/** Runs one query on `url` with a connection of its own. */
export async function queryDb<T>(url: string, sql: string, args: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, args)).rows as T[];
  } finally {
    await c.end();
  }
}

/** A cluster of servers on one database, each restartable on its own data directory. */
export class Fleet {
  readonly servers: (RunningServer | undefined)[];
  constructor(
    readonly url: string,
    readonly dirs: string[],
    readonly signMs: number,
    readonly extraArgs: string[] = [],
  ) {
    this.servers = dirs.map(() => undefined);
  }
  args(): string[] {
    return [
      '--store',
      this.url,
      '--sign-interval-ms',
      String(this.signMs),
      '--max-queue',
      '1000000',
      ...this.extraArgs,
    ];
  }
  async start(i: number): Promise<RunningServer> {
    const s = await startServer(this.dirs[i]!, this.args());
    procs.push(s);
    this.servers[i] = s;
    return s;
  }
  live(): RunningServer[] {
    return this.servers.filter((s): s is RunningServer => s !== undefined);
  }
  /** The largest checkpoint size stored so far. */
  async storedSize(): Promise<number> {
    return Number((await queryDb<{ m: string }>(this.url, 'SELECT max(size) AS m FROM checkpoints'))[0]!.m);
  }
  /** Index of the server holding the sequencer lease (its holder names its pid). */
  async sequencer(): Promise<number | undefined> {
    const r = await queryDb<{ holder: string }>(
      this.url,
      'SELECT holder FROM lease WHERE id = 1 AND expires_at > now()',
    );
    const pid = Number(String(r[0]?.holder ?? '').split('/')[1]);
    const i = this.servers.findIndex((s) => s?.proc.pid === pid);
    return i < 0 ? undefined : i;
  }
}

/** A generated OPA upload of `n` decisions with fresh ids. */
export function generated(tag: string, n: number): { body: string; ids: string[] } {
  const ids = Array.from({ length: n }, (_, i) => `${tag}-${i}`);
  const events = ids.map((id, i) => ({ ...TEMPLATE, decision_id: id, req_id: i }));
  return { body: JSON.stringify(events), ids };
}

/** POSTs an OPA upload; the acknowledged indices, or undefined when it was not acknowledged. */
export async function post(url: string, body: string | Uint8Array): Promise<number[] | undefined> {
  try {
    const res = await fetch(`${url}/logs`, {
      method: 'POST',
      body: body as string,
      headers: { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(20_000),
    });
    if (res.status !== 200) return undefined;
    return ((await res.json()) as { indices: number[] }).indices;
  } catch {
    return undefined; // the server died mid-request: not acknowledged
  }
}
