/**
 * A throwaway PostgreSQL cluster for the tests: `initdb` in a temp directory and `pg_ctl start`
 * on a free loopback port, with its socket in that directory (never the system's cluster on
 * 5432), fsync on. Root cannot run PostgreSQL, so as root the cluster belongs to the `postgres`
 * user (`runuser`). One cluster per test file (started on first use), one database per
 * `createDatabase()`; the cluster is stopped and its directory removed after the file.
 * Without PostgreSQL installed, `postgresAvailable()` is false and the PostgreSQL tests skip
 * with a warning, unless OPA_TLOG_REQUIRE_POSTGRES=1 makes that an error (CI).
 */
import { afterAll } from 'vitest';
import { type PgCluster, pgBin, startPgCluster } from './services.js';

export type { PgCluster } from './services.js';

/** True when PostgreSQL is installed; otherwise warns, or throws under OPA_TLOG_REQUIRE_POSTGRES=1. */
export function postgresAvailable(): boolean {
  if (pgBin()) return true;
  const msg = 'PostgreSQL (Debian package postgresql) is not installed: skipping the PostgreSQL tests';
  if (process.env.OPA_TLOG_REQUIRE_POSTGRES === '1') throw new Error(msg);
  console.warn(msg);
  return false;
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
  cluster ??= startPgCluster('t');
  return cluster;
}
