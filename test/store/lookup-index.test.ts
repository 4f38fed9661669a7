/**
 * The follower-built lookup index (issue 11): runs written behind the commit, merged LSM-style
 * in bounded steps, a merge cut short by a crash left as unlisted garbage that the next start
 * deletes; lookups find every leaf throughout, and no leaf is indexed twice in the listed runs.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { TileBuilder } from '../../src/core/tiles.js';
import { eventLeaf } from '../../src/log/leaf.js';
import { nodeSha256 } from '../../src/log/log.js';
import { type Db, openDatabase } from '../../src/store/db.js';
import { LogStore } from '../../src/store/log-store.js';
import { MERGE_FANOUT } from '../../src/store/lookup-index.js';
import { tempDir } from '../helpers/tmp.js';

const PER_BATCH = 20;

function openStore(path: string) {
  const db = openDatabase(path);
  const store = new LogStore(db, nodeSha256);
  const size = store.treeSize();
  const builder = new TileBuilder(size, store.loadEdge(size), nodeSha256);
  store.openWriter();
  return { db, store, builder };
}

/** Appends batch `b` (ids d<b>-<i>) and writes it as one run at once. */
function appendRun(s: ReturnType<typeof openStore>, b: number): void {
  const items = Array.from({ length: PER_BATCH }, (_, i) =>
    eventLeaf({ kind: 'event', source: 's', id: `d${b}-${i}`, event: { b, i } }, Date.now(), nodeSha256),
  );
  s.store.appendBatch(items, s.builder);
  s.store.background(s.builder.size, false, true);
}

const runs = (db: Db) =>
  db.prepare('SELECT run, level, lo, hi FROM lookup_runs ORDER BY run').all() as {
    run: number;
    level: number;
    lo: number;
    hi: number;
  }[];
const rowRuns = (db: Db) => db.prepare('SELECT DISTINCT run FROM lookup_keys ORDER BY run').pluck().all();

/** Every leaf is found by id and by leaf hash, and has exactly its two rows in the listed runs. */
function expectAllFound(s: ReturnType<typeof openStore>, batches: number): void {
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < PER_BATCH; i++) {
      const idx = b * PER_BATCH + i;
      expect(s.store.findById('s', `d${b}-${i}`)).toBe(idx);
      expect(s.store.findLeaf(s.store.leafHash(idx)!, s.builder.size)).toBe(idx);
    }
  }
  const perIdx = s.db
    .prepare(
      'SELECT idx, count(*) AS n FROM lookup_keys WHERE run IN (SELECT run FROM lookup_runs) GROUP BY idx HAVING n <> 2',
    )
    .all();
  expect(perIdx).toEqual([]);
}

describe('lookup index', () => {
  test('runs are merged into the next level; garbage is deleted; every leaf stays found', () => {
    const s = openStore(join(tempDir(), 'log.db'));
    try {
      for (let b = 0; b <= MERGE_FANOUT; b++) appendRun(s, b);
      expect(runs(s.db).filter((r) => r.level === 0)).toHaveLength(MERGE_FANOUT + 1);
      for (let i = 0; i < 20 && rowRuns(s.db).length > 2; i++) s.store.background(s.builder.size, true);
      const end = PER_BATCH * (MERGE_FANOUT + 1);
      expect(runs(s.db).map((r) => [r.level, r.lo, r.hi])).toEqual([
        [0, PER_BATCH * MERGE_FANOUT, end],
        [1, 0, PER_BATCH * MERGE_FANOUT],
      ]);
      expect(rowRuns(s.db)).toEqual(runs(s.db).map((r) => r.run));
      expectAllFound(s, MERGE_FANOUT + 1);
      expect(s.store.indexedTo()).toBe(end);
    } finally {
      s.db.close();
    }
  });

  test('a merge cut short by a crash leaves an unlisted run, deleted at the next start', () => {
    const path = join(tempDir(), 'log.db');
    let s = openStore(path);
    for (let b = 0; b < MERGE_FANOUT; b++) appendRun(s, b);
    // One step: the merge copies its rows into a new run, not yet listed; then "crash".
    s.store.background(s.builder.size, false);
    expect(rowRuns(s.db)).toHaveLength(MERGE_FANOUT + 1);
    expect(runs(s.db)).toHaveLength(MERGE_FANOUT);
    s.db.close();
    s = openStore(path);
    try {
      expectAllFound(s, MERGE_FANOUT);
      for (let i = 0; i < 20 && (rowRuns(s.db).length !== 1 || runs(s.db).length !== 1); i++) {
        s.store.background(s.builder.size, true);
      }
      expect(runs(s.db).map((r) => [r.level, r.lo, r.hi])).toEqual([[1, 0, PER_BATCH * MERGE_FANOUT]]);
      expect(rowRuns(s.db)).toEqual(runs(s.db).map((r) => r.run));
      expectAllFound(s, MERGE_FANOUT);
    } finally {
      s.db.close();
    }
  });
});
