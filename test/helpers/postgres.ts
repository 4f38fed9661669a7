/**
 * A throwaway PostgreSQL cluster for the tests: `initdb` in a temp directory and `pg_ctl start`
 * on a free loopback port, with its socket in that directory (never the system's cluster on
 * 5432), fsync on. Root cannot run PostgreSQL, so as root the cluster belongs to the `postgres`
 * user (`runuser`). One cluster per test file (started on first use), one database per
 * `createDatabase()`; the cluster is stopped and its directory removed after the file.
 * Without PostgreSQL installed, `postgresAvailable()` is false and the PostgreSQL tests skip
 * with a warning, unless OPA_TLOG_REQUIRE_POSTGRES=1 makes that an error (CI).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';

/** A running throwaway cluster. */
export interface PgCluster {
  readonly port: number;
  /** Creates a fresh empty database and returns its URL. */
  createDatabase(): Promise<string>;
  /** URL of database `name` on this cluster. */
  url(name: string): string;
  stop(): void;
}

/** The newest `/usr/lib/postgresql/<version>/bin`, or undefined. */
function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/** True when PostgreSQL is installed; otherwise warns, or throws under OPA_TLOG_REQUIRE_POSTGRES=1. */
export function postgresAvailable(): boolean {
  if (pgBin()) return true;
  const msg = 'PostgreSQL (Debian package postgresql) is not installed: skipping the PostgreSQL tests';
  if (process.env.OPA_TLOG_REQUIRE_POSTGRES === '1') throw new Error(msg);
  console.warn(msg);
  return false;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const isRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL program as the cluster's owner (`postgres` when we are root). */
function runPg(bin: string, prog: string, args: string[]): void {
  const cmd = join(bin, prog);
  if (isRoot) execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' });
  else execFileSync(cmd, args, { stdio: 'pipe' });
}

let cluster: Promise<PgCluster> | undefined;

// Registered while vitest collects the importing file (as tmp.ts does), so it belongs to it.
afterAll(async () => {
  const c = cluster;
  cluster = undefined;
  if (c) (await c.catch(() => undefined))?.stop();
});

/** The test file's cluster, started on first call and stopped after the file. */
export function postgresCluster(): Promise<PgCluster> {
  cluster ??= startCluster();
  return cluster;
}

async function startCluster(): Promise<PgCluster> {
  const bin = pgBin();
  if (!bin) throw new Error('PostgreSQL is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'opa-tlog-pg-'));
  chmodSync(dir, 0o777); // the postgres user writes here; the directory is removed after the file
  const data = join(dir, 'data');
  const port = await freePort();
  runPg(bin, 'initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=on -c max_connections=200`;
  runPg(bin, 'pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      runPg(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // Already gone.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stop);
  const url = (name: string) => `postgres://postgres@127.0.0.1:${port}/${name}`;
  let n = 0;
  return {
    port,
    url,
    stop,
    async createDatabase() {
      const name = `t${process.pid}_${n++}`;
      const c = new pg.Client({ connectionString: url('postgres') });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return url(name);
    },
  };
}
