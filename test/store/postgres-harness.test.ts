/** The throwaway PostgreSQL cluster starts, gives fresh databases, and answers queries. */
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { postgresAvailable, postgresCluster } from '../helpers/postgres.js';

describe.skipIf(!postgresAvailable())('throwaway PostgreSQL', () => {
  test('two fresh databases on one cluster, fsync on', async () => {
    const cluster = await postgresCluster();
    const a = await cluster.createDatabase();
    const b = await cluster.createDatabase();
    expect(a).not.toBe(b);
    const c = new pg.Client({ connectionString: a });
    await c.connect();
    try {
      expect((await c.query('SHOW fsync')).rows[0].fsync).toBe('on');
      expect((await c.query('SELECT current_database() AS d')).rows[0].d).toBe(a.split('/').pop());
    } finally {
      await c.end();
    }
  });
});
