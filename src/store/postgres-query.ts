/**
 * Connections of the PostgreSQL engine: a pool whose `bigint` columns read as JavaScript
 * numbers (every size and index is below 2^53, spec/storage.md), and the one query shape the
 * engine's modules share, so each takes a pool or a single connection alike.
 */
import pg from 'pg';
import { errorFields, type Logger, silentLogger } from '../core/logger.js';

/** Anything that runs a parameterized query: a pool or one connection. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

const INT8_OID = 20;

/** Type parsers: int8 as a number (safe below 2^53), everything else as pg's default. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/** Options of a connection to `url` with the engine's type parsers. */
export function connectionConfig(url: string): pg.ClientConfig {
  return { connectionString: url, types, application_name: 'opa-tlog' };
}

/**
 * A pool of at most `max` connections to `url`. Idle connection errors (the database
 * restarted, a failover) are reported to `logger`, not thrown: the next query reconnects.
 */
export function openPool(url: string, max: number, logger: Logger = silentLogger): pg.Pool {
  const pool = new pg.Pool({ ...connectionConfig(url), max });
  pool.on('error', (err) => logger.warn(errorFields(err), 'postgres: idle connection failed'));
  return pool;
}
