/**
 * The PostgreSQL size reading behind the `database_bytes` gauges: re-read at most every
 * SIZE_REFRESH_MS (scrapes must not hammer the database), concurrent reads share one query,
 * and a role refused `pg_ls_waldir()` reports no WAL size (and is not asked again).
 */
import { describe, expect, test } from 'vitest';
import type { Queryable } from '../../src/store/postgres-query.js';
import { PgStorageSize, SIZE_REFRESH_MS } from '../../src/store/postgres-size.js';

/** A fake database answering the two size queries, counting them. */
function fakeDb(walDenied: boolean) {
  const asked: string[] = [];
  const q: Queryable = {
    async query(text: string) {
      asked.push(text.includes('pg_ls_waldir') ? 'wal' : 'db');
      if (text.includes('pg_ls_waldir')) {
        if (walDenied) throw Object.assign(new Error('permission denied'), { code: '42501' });
        return { rows: [{ b: '16777216' }], rowCount: 1 };
      }
      return { rows: [{ b: 8_000_000 + asked.length }], rowCount: 1 };
    },
  };
  return { q, asked };
}

describe('PgStorageSize', () => {
  test('reads once per refresh period; concurrent reads share the query', async () => {
    let now = 1_000;
    const { q, asked } = fakeDb(false);
    const size = new PgStorageSize(q, () => now);
    const [a, b] = await Promise.all([size.read(), size.read()]);
    expect(a).toEqual({ db: 8_000_001, wal: 16_777_216 });
    expect(b).toBe(a);
    now += SIZE_REFRESH_MS - 1;
    expect(await size.read()).toBe(a);
    expect(asked).toEqual(['db', 'wal']);
    now += 1;
    expect((await size.read()).db).toBe(8_000_003);
    expect(asked).toEqual(['db', 'wal', 'db', 'wal']);
  });

  test('without the right to list the WAL: no wal field, and not asked again', async () => {
    let now = 0;
    const { q, asked } = fakeDb(true);
    const size = new PgStorageSize(q, () => now);
    expect(await size.read()).toEqual({ db: 8_000_001 });
    now += SIZE_REFRESH_MS;
    expect(await size.read()).toEqual({ db: 8_000_003 });
    expect(asked).toEqual(['db', 'wal', 'db']);
  });
});
