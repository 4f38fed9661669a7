/**
 * The PostgreSQL engine's size, for the `database_bytes` / `database_wal_bytes` gauges:
 * `pg_database_size(current_database())`, and the write-ahead log as the sum of
 * `pg_ls_waldir()` (the whole cluster's WAL; needs superuser or the `pg_monitor` role, so
 * without it the WAL is reported absent, never 0). Scrapes must not hammer the database, so a
 * reading is reused for {@link SIZE_REFRESH_MS} and concurrent scrapes share one query.
 */
import type { StorageBytes } from './log-storage.js';
import type { Queryable } from './postgres-query.js';

/** How long one reading of the sizes is reused. */
export const SIZE_REFRESH_MS = 5_000;

/** PostgreSQL's SQLSTATE for "insufficient privilege". */
const INSUFFICIENT_PRIVILEGE = '42501';

/** Cached database and WAL sizes of one pool's database. */
export class PgStorageSize {
  readonly #q: Queryable;
  readonly #now: () => number;
  #last: { at: number; bytes: StorageBytes } | undefined;
  #pending: Promise<StorageBytes> | undefined;
  /** pg_ls_waldir() was refused once: not asked again. */
  #walDenied = false;

  constructor(q: Queryable, now: () => number = Date.now) {
    this.#q = q;
    this.#now = now;
  }

  /**
   * The sizes, read at most once per {@link SIZE_REFRESH_MS} (a scrape in between gets the
   * last reading). Rejects with the driver's error when the database cannot be reached.
   */
  read(): Promise<StorageBytes> {
    const last = this.#last;
    if (last && this.#now() - last.at < SIZE_REFRESH_MS) return Promise.resolve(last.bytes);
    this.#pending ??= this.#query().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #query(): Promise<StorageBytes> {
    const db = (await this.#q.query('SELECT pg_database_size(current_database()) AS b')).rows[0] as {
      b: number;
    };
    const wal = await this.#wal();
    const bytes: StorageBytes = wal === undefined ? { db: db.b } : { db: db.b, wal };
    this.#last = { at: this.#now(), bytes };
    return bytes;
  }

  async #wal(): Promise<number | undefined> {
    if (this.#walDenied) return undefined;
    try {
      const r = (await this.#q.query('SELECT coalesce(sum(size), 0) AS b FROM pg_ls_waldir()')).rows[0] as {
        b: number | string;
      };
      return Number(r.b);
    } catch (err) {
      if ((err as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) throw err;
      this.#walDenied = true;
      return undefined;
    }
  }
}
