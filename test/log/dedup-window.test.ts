/**
 * Issue 11: dedup of retries is exact within the in-memory window (default 24 h), across a
 * restart too; a resend beyond the window becomes a new leaf that the follower indexer flags as
 * a late duplicate of the first, and lookups keep answering with the first.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, test, vi } from 'vitest';
import { openTestLog, tempDir } from '../helpers/log.js';

const DAY = 24 * 3600_000;
const ev = (id: string, n = 1) => ({ kind: 'event', source: 'opa-1', id, event: { n } });

function lateDuplicates(dbPath: string): { idx: number; first_idx: number }[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT idx, first_idx FROM late_duplicates ORDER BY idx').all() as never;
  } finally {
    db.close();
  }
}

/** Resolves once the indexer has flagged `count` late duplicates (it runs behind the commit). */
async function flagged(dbPath: string, count: number) {
  await vi.waitFor(() => expect(lateDuplicates(dbPath)).toHaveLength(count), { timeout: 5000, interval: 50 });
  return lateDuplicates(dbPath);
}

describe.each([false, true])('dedup window (writer thread %s)', (writerThread) => {
  test('a resend after 1 s, after the window minus a minute and after a restart adds no leaf', async () => {
    const dbPath = join(tempDir(), 'log.db');
    let t = Date.UTC(2026, 0, 1);
    const now = () => t;
    let log = await openTestLog(dbPath, { now, writerThread });
    try {
      const [first] = await log.appendEvents([ev('d1'), ev('d2')]);
      expect(first!.duplicate).toBe(false);
      t += 1000;
      expect(await log.appendEvents([ev('d1')])).toEqual([{ index: first!.index, duplicate: true }]);
      t += DAY - 61_000;
      expect(await log.appendEvents([ev('d1')])).toEqual([{ index: first!.index, duplicate: true }]);
      await log.close();
      log = await openTestLog(dbPath, { now, writerThread });
      expect(await log.appendEvents([ev('d1')])).toEqual([{ index: first!.index, duplicate: true }]);
      // Other content under the same ids is still a conflict, not a duplicate.
      const [other] = await log.appendEvents([ev('d1', 2)]);
      expect(other).toEqual({ index: 2, duplicate: false, conflictsWith: first!.index });
      expect(await log.findAllById('opa-1', 'd1')).toEqual([first!.index, 2]);
    } finally {
      await log.close();
    }
  });

  test('beyond the window: a new leaf, flagged as a late duplicate; lookups answer the first', async () => {
    const dbPath = join(tempDir(), 'log.db');
    let t = Date.UTC(2026, 0, 1);
    const log = await openTestLog(dbPath, { now: () => t, writerThread });
    try {
      const [first] = await log.appendEvents([ev('d1')]);
      t += DAY + 60_000;
      const [late] = await log.appendEvents([ev('d1')]);
      expect(late).toEqual({ index: 1, duplicate: false });
      expect(await flagged(dbPath, 1)).toEqual([{ idx: 1, first_idx: first!.index }]);
      expect(await log.findById('opa-1', 'd1')).toBe(first!.index);
      expect(await log.findAllById('opa-1', 'd1')).toEqual([first!.index]);
      expect(await log.findByIdAnySource('d1')).toEqual([first!.index]);
    } finally {
      await log.close();
    }
  });

  test('a window of 2 entries: the third leaf back is a late duplicate, the second back is not', async () => {
    const dbPath = join(tempDir(), 'log.db');
    const log = await openTestLog(dbPath, { dedupWindowEntries: 2, writerThread });
    try {
      await log.appendEvents([ev('a'), ev('b'), ev('c')]);
      expect(await log.appendEvents([ev('b')])).toEqual([{ index: 1, duplicate: true }]);
      expect(await log.appendEvents([ev('a')])).toEqual([{ index: 3, duplicate: false }]);
      expect(await flagged(dbPath, 1)).toEqual([{ idx: 3, first_idx: 0 }]);
      expect(await log.findAllById('opa-1', 'a')).toEqual([0]);
    } finally {
      await log.close();
    }
  });
});

describe('requests held packed for the writer thread', () => {
  test('a refused request fails alone; the requests that shared its batch commit, and every one is found', async () => {
    const dbPath = join(tempDir(), 'log.db');
    const log = await openTestLog(dbPath, { writerThread: true });
    try {
      await log.appendEvents([ev('key-1', 1)]);
      // Queued together: the middle request reuses an id with other content and must be refused;
      // the batch rolls back and each request is retried alone from its held (packed) form.
      const reqs = [
        log.appendEvents([ev('a-1'), ev('a-2')]),
        log.appendEvents([{ ...ev('key-1', 2), refuseConflict: true }]),
        log.appendEvents([ev('b-1'), ev('b-2'), ev('b-3')]),
      ];
      const settled = await Promise.allSettled(reqs);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'idempotency_key_reused' });
      const indices = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value.map((r) => r.index) : []));
      expect(indices.sort()).toEqual([1, 2, 3, 4, 5]);
      for (const id of ['a-1', 'a-2', 'b-1', 'b-2', 'b-3', 'key-1']) {
        expect(await log.findById('opa-1', id)).toBeDefined();
      }
    } finally {
      await log.close();
    }
  });
});
