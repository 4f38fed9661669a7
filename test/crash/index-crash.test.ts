/**
 * Issue 11: SIGKILL the server while it ingests (its follower indexer writes a run at least
 * every 500 ms, and larger ones under load), restart: every acknowledged decision is found by
 * id, no leaf has more than its two rows (id key, leaf-hash key) in the listed runs, and the
 * durable cursor indexed_to has caught up with the tree. SQLite only (PostgreSQL keeps its
 * own ids table). Real server from dist/ (`npm run build` first).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, test, vi } from 'vitest';
import { tempDir } from '../helpers/log.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { leavesWithoutTwoPairs, STORED_ENTRIES_SQL } from '../helpers/sqlite.js';

const ROUNDS = 3;
const WRITERS = 4;
const PER_REQUEST = 1000;

const decision = (id: string) => ({
  labels: { id: 'opa-1' },
  decision_id: id,
  timestamp: '2025-01-15T10:30:00Z',
  path: 'authz/allow',
  result: true,
});

function readDb<T>(path: string, f: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    return f(db);
  } finally {
    db.close();
  }
}

/** Posts batches from `WRITERS` loops until the server dies; records the acknowledged ids. */
async function ingestUntilKilled(srv: RunningServer, round: number, acked: string[]): Promise<void> {
  const writer = async (w: number) => {
    for (let n = 0; ; n++) {
      const ids = Array.from({ length: PER_REQUEST }, (_, i) => `r${round}-w${w}-${n}-${i}`);
      try {
        const res = await fetch(`${srv.url}/logs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(ids.map(decision)),
        });
        if (res.status === 200) acked.push(...ids);
        else await res.arrayBuffer();
      } catch {
        return; // the server is gone
      }
    }
  };
  const before = acked.length;
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
  // Kill after the first acknowledgement of this round (a loaded machine starts slowly), at a
  // random moment while the indexer is busy behind the commits.
  await vi.waitUntil(() => acked.length > before, { timeout: 20_000, interval: 20 });
  await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 900)));
  await srv.kill();
  await Promise.all(writers);
}

describe('SIGKILL while the lookup index is being built', () => {
  test(`${ROUNDS} kills during ingest: every lookup answers, no duplicate index rows, the cursor catches up`, async () => {
    const data = tempDir('opa-tlog-index-crash-');
    const dbPath = join(data, 'log.db');
    const acked: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await ingestUntilKilled(await startServer(data, ['--sign-interval-ms', '100']), round, acked);
    }
    expect(acked.length).toBeGreaterThan(0);
    const srv = await startServer(data, ['--sign-interval-ms', '100']);
    try {
      await vi.waitFor(
        () =>
          readDb(dbPath, (db) =>
            expect(db.prepare('SELECT indexed_to FROM lookup_cursor').pluck().get()).toBe(
              db.prepare(STORED_ENTRIES_SQL).pluck().get(),
            ),
          ),
        { timeout: 5000, interval: 100 },
      );
      // Each leaf has exactly its two pairs (id key, leaf-hash key) in the listed runs.
      const twice = readDb(dbPath, (db) => leavesWithoutTwoPairs(db));
      expect(twice).toEqual([]);
      const sample = [
        ...acked.filter((_, i) => i % Math.ceil(acked.length / 300) === 0),
        ...acked.slice(-100),
      ];
      for (let i = 0; i < sample.length; i += 25) {
        const rs = await Promise.all(
          sample.slice(i, i + 25).map((id) => fetch(`${srv.url}/v1/decisions/${id}`)),
        );
        for (const [j, r] of rs.entries()) expect([sample[i + j], r.status]).toEqual([sample[i + j], 200]);
      }
    } finally {
      await srv.stop();
    }
  }, 120_000);
});
