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
import { DEFAULT_DEDUP_WINDOW } from '../../src/store/dedup-window.js';
import { LogStore } from '../../src/store/log-store.js';
import { decodeKeys, encodeKeys, KeyBloom, MERGE_FANOUT } from '../../src/store/lookup-index.js';
import { prng } from '../helpers/prng.js';
import { tempDir } from '../helpers/tmp.js';

const PER_BATCH = 20;

function openStore(path: string, window = DEFAULT_DEDUP_WINDOW) {
  const db = openDatabase(path);
  const store = new LogStore(db, nodeSha256);
  const size = store.treeSize();
  const builder = new TileBuilder(size, store.loadEdge(size), nodeSha256);
  store.openWriter(window);
  return { db, store, builder };
}

/** Event i of batch b: id d<b>-<i>, a fresh salt at every call. */
const leafOf = (b: number, i: number) =>
  eventLeaf({ kind: 'event', source: 's', id: `d${b}-${i}`, event: { b, i } }, Date.now(), nodeSha256);

/** Appends batch `b` (ids d<b>-<i>) and writes it as one run at once. */
function appendRun(s: ReturnType<typeof openStore>, b: number): void {
  s.store.appendBatch(
    Array.from({ length: PER_BATCH }, (_, i) => leafOf(b, i)),
    s.builder,
  );
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

  test('late duplicates are found in fresh, merged and reopened runs (Bloom filters made at write, at merge, in the background)', () => {
    const path = join(tempDir(), 'log.db');
    // A window of one leaf: every resend below is past it, so only the indexer can catch it.
    const tiny = { maxEntries: 1, windowMs: DEFAULT_DEDUP_WINDOW.windowMs };
    let s = openStore(path, tiny);
    const late = (db: Db) =>
      db.prepare('SELECT idx, first_idx AS first FROM late_duplicates ORDER BY idx').all() as {
        idx: number;
        first: number;
      }[];
    /** Resends event (b, i) as a new leaf and indexes it; returns the new leaf's index. */
    const resend = (b: number, i: number): number => {
      const [r] = s.store.appendBatch([leafOf(b, i)], s.builder);
      expect(r!.duplicate).toBe(false);
      s.store.background(s.builder.size, false, true);
      return r!.index;
    };
    try {
      for (let b = 0; b <= MERGE_FANOUT; b++) appendRun(s, b);
      for (let i = 0; i < 20 && runs(s.db).length > 2; i++) s.store.background(s.builder.size, true);
      expect(runs(s.db).map((r) => r.level)).toEqual([0, 1]);
      const a = resend(0, 3); // in the merged run
      const b = resend(MERGE_FANOUT, 7); // in the fresh level-0 run
      expect(late(s.db)).toEqual([
        { idx: a, first: 3 },
        { idx: b, first: MERGE_FANOUT * PER_BATCH + 7 },
      ]);
      // Every listed run has its stored filter, and no unlisted run keeps one.
      const stored = s.db.prepare('SELECT run FROM lookup_blooms ORDER BY run').pluck().all();
      expect(stored).toEqual(runs(s.db).map((r) => r.run));
      // A new process loads the stored filters; one deleted (a log from before they were
      // stored) is sought for every key until the background rebuilds and stores it.
      s.db.prepare('DELETE FROM lookup_blooms WHERE run = ?').run(runs(s.db)[1]!.run);
      s.db.close();
      s = openStore(path, tiny);
      const c = resend(2, 5);
      for (let i = 0; i < 10; i++) s.store.background(s.builder.size, true);
      expect(s.db.prepare('SELECT count(*) FROM lookup_blooms').pluck().get()).toBe(runs(s.db).length);
      const d = resend(MERGE_FANOUT, 1);
      expect(late(s.db).slice(2)).toEqual([
        { idx: c, first: 2 * PER_BATCH + 5 },
        { idx: d, first: MERGE_FANOUT * PER_BATCH + 1 },
      ]);
      // An event never logged before is not flagged.
      s.store.appendBatch([leafOf(99, 0)], s.builder);
      s.store.background(s.builder.size, false, true);
      expect(late(s.db)).toHaveLength(4);
    } finally {
      s.db.close();
    }
  });
});

describe('KeyBloom', () => {
  test('never forgets a key; about 1 % false positives at 10 bits a key', () => {
    const rand = prng(11);
    const key = () => Math.floor(rand() * 2 ** 26) * 2 ** 26 + Math.floor(rand() * 2 ** 26);
    const keys = Array.from({ length: 20_000 }, key);
    const bloom = new KeyBloom(keys.length);
    for (const k of keys) bloom.add(k);
    for (const k of keys) expect(bloom.has(k)).toBe(true);
    let fp = 0;
    for (let i = 0; i < 20_000; i++) if (bloom.has(key())) fp++;
    expect(fp / 20_000).toBeLessThan(0.03);
    expect(bloom.bytes).toBe(25_000);
  });

  test('stored bits read back as the same filter, from a whole blob (shared) or a view into a larger buffer (copied)', () => {
    const rand = prng(12);
    const keys = Array.from({ length: 1000 }, () => Math.floor(rand() * 2 ** 52));
    const bloom = new KeyBloom(keys.length);
    for (const k of keys) bloom.add(k);
    const stored = bloom.stored();
    const inLarger = new Uint8Array(stored.byteLength + 8);
    inLarger.set(stored, 4);
    for (const bytes of [Buffer.from(stored), inLarger.subarray(4, 4 + stored.byteLength)]) {
      const back = KeyBloom.fromStored(bytes);
      expect(back.bytes).toBe(bloom.bytes);
      expect(back.stored()).toEqual(stored);
      for (const k of keys) expect(back.has(k)).toBe(true);
    }
  });

  test('batch keys decode from a whole blob and from a small pooled Buffer alike', () => {
    const keys = Float64Array.of(0, 1, 2 ** 52 - 1, -1, 123_456_789);
    const enc = encodeKeys(keys);
    expect(decodeKeys(enc)).toEqual(keys);
    expect(decodeKeys(Buffer.from(enc))).toEqual(keys);
  });
});
