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
import { type Db, openDatabase, SCHEMA_VERSION } from '../../src/store/db.js';
import { DEFAULT_DEDUP_WINDOW } from '../../src/store/dedup-window.js';
import { LogStore } from '../../src/store/log-store.js';
import {
  BLOCK_PAIRS,
  BlockWriter,
  blockIndicesOf,
  decodeBlock,
  encodeBlock,
  MAX_BLOCK_PAIRS,
} from '../../src/store/lookup-blocks.js';
import {
  decodeKeys,
  encodeKeys,
  KeyBloom,
  listedIndexPairs,
  MERGE_FANOUT,
  storedRuns,
} from '../../src/store/lookup-index.js';
import { prng } from '../helpers/prng.js';
import { leavesWithoutTwoPairs } from '../helpers/sqlite.js';
import { tempDir } from '../helpers/tmp.js';

const PER_BATCH = 20;

function openStore(path: string, window = DEFAULT_DEDUP_WINDOW) {
  // NORMAL: these tests commit many small batches and never lose power.
  const db = openDatabase(path, { synchronous: 'NORMAL' });
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
const rowRuns = (db: Db) => storedRuns(db);

/** Every leaf is found by id and by leaf hash, and has exactly its two rows in the listed runs. */
function expectAllFound(s: ReturnType<typeof openStore>, batches: number): void {
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < PER_BATCH; i++) {
      const idx = b * PER_BATCH + i;
      expect(s.store.findById('s', `d${b}-${i}`)).toBe(idx);
      expect(s.store.findLeaf(s.store.leafHash(idx)!, s.builder.size)).toBe(idx);
    }
  }
  expect(leavesWithoutTwoPairs(s.db)).toEqual([]);
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

describe('lookup runs as blocks', () => {
  test('runs of many blocks merge in (key, idx) order across refills; every leaf stays found', () => {
    const s = openStore(join(tempDir(), 'log.db'));
    const big = 1500; // 3,000 pairs a run: ~13 blocks; the merged run ~97, read 16 at a time
    try {
      for (let b = 0; b <= MERGE_FANOUT; b++) {
        s.store.appendBatch(
          Array.from({ length: big }, (_, i) => leafOf(b, i)),
          s.builder,
        );
        s.store.background(s.builder.size, false, true);
      }
      for (let i = 0; i < 50 && storedRuns(s.db).length > 2; i++) s.store.background(s.builder.size, true);
      expect(runs(s.db).map((r) => [r.level, r.lo, r.hi])).toEqual([
        [0, big * MERGE_FANOUT, big * (MERGE_FANOUT + 1)],
        [1, 0, big * MERGE_FANOUT],
      ]);
      const merged = runs(s.db)[1]!.run;
      const pairs = listedIndexPairs(s.db).filter((p) => p.run === merged);
      expect(pairs).toHaveLength(2 * big * MERGE_FANOUT);
      for (let i = 1; i < pairs.length; i++) {
        const [a, b] = [pairs[i - 1]!, pairs[i]!];
        expect(a.key < b.key || (a.key === b.key && a.idx < b.idx)).toBe(true);
      }
      const blocks = s.db.prepare('SELECT count(*) FROM lookup_blocks WHERE run = ?').pluck().get(merged);
      expect(blocks).toBeGreaterThan(16);
      for (let b = 0; b <= MERGE_FANOUT; b++) {
        for (const i of [0, 1, big - 1, Math.floor(big / 2)]) {
          expect(s.store.findById('s', `d${b}-${i}`)).toBe(b * big + i);
          const idx = b * big + i;
          expect(s.store.findLeaf(s.store.leafHash(idx)!, s.builder.size)).toBe(idx);
        }
      }
      expect(leavesWithoutTwoPairs(s.db)).toEqual([]);
    } finally {
      s.db.close();
    }
  });

  test('an id logged more times than a block holds (many sources) is found across blocks, in fresh and merged runs', () => {
    // A window of one leaf and a batch per leaf: each append compares with one leaf, not all.
    const s = openStore(join(tempDir(), 'log.db'), {
      maxEntries: 1,
      windowMs: DEFAULT_DEDUP_WINDOW.windowMs,
    });
    const n = MAX_BLOCK_PAIRS + 10;
    // One id from n sources: n leaves under one id key.
    const same = (i: number) =>
      eventLeaf({ kind: 'event', source: `s${i}`, id: 'same', event: { i } }, Date.now(), nodeSha256);
    try {
      for (let i = 0; i < n; i++) expect(s.store.appendBatch([same(i)], s.builder)[0]!.duplicate).toBe(false);
      s.store.background(s.builder.size, false, true);
      const all = Array.from({ length: n }, (_, i) => i);
      expect(s.store.findByIdAnySource('same')).toEqual(all);
      for (let b = 1; b <= MERGE_FANOUT; b++) appendRun(s, b);
      for (let i = 0; i < 50 && storedRuns(s.db).length > 2; i++) s.store.background(s.builder.size, true);
      expect(runs(s.db).map((r) => r.level)).toEqual([0, 1]);
      // The key's pairs span blocks of the merged run.
      const merged = runs(s.db)[1]!.run;
      const key = listedIndexPairs(s.db).find((p) => p.run === merged && p.idx === 0 && p.key >= 0)!.key;
      const full = (
        s.db.prepare('SELECT data FROM lookup_blocks WHERE run = ?').pluck().all(merged) as Buffer[]
      )
        .map((d) => decodeBlock(d))
        .filter((b) => b.keys.includes(key));
      expect(full.length).toBeGreaterThan(1);
      expect(s.store.findByIdAnySource('same')).toEqual(all);
      expect(s.store.findById(`s${n - 1}`, 'same')).toBe(n - 1);
      // None of them is a late duplicate (other sources); a resend of one of them, past the
      // window, is (its source and content match one leaf of the n), and a conflict is not.
      const late = () => s.db.prepare('SELECT idx, first_idx AS first FROM late_duplicates').all();
      expect(late()).toEqual([]);
      const [resent] = s.store.appendBatch([same(5)], s.builder);
      const conflict = eventLeaf(
        { kind: 'event', source: 's7', id: 'same', event: { i: -7 } },
        Date.now(),
        nodeSha256,
      );
      const [other] = s.store.appendBatch([conflict], s.builder);
      s.store.background(s.builder.size, false, true);
      expect(late()).toEqual([{ idx: resent!.index, first: 5 }]);
      expect(s.store.findById('s7', 'same')).toBe(7);
      expect(s.store.findAllById('s7', 'same')).toEqual([7, other!.index]);
    } finally {
      s.db.close();
    }
  });
});

describe('a log written before blocks (schema 11: runs as lookup_keys rows)', () => {
  /** Rewrites every listed run of `path` as lookup_keys rows and sets the schema back to 11. */
  function toSchema11(path: string): void {
    const db = openDatabase(path, { synchronous: 'NORMAL' });
    db.transaction(() => {
      const ins = db.prepare('INSERT INTO lookup_keys (run, key, idx) VALUES (?, ?, ?)');
      for (const p of listedIndexPairs(db)) ins.run(p.run, p.key, p.idx);
      db.exec('DROP TABLE lookup_blocks');
      db.pragma('user_version = 11');
    })();
    db.close();
  }

  test('opens; row runs answer lookups and late duplicates, and merge into blocks; nothing is indexed twice', () => {
    const path = join(tempDir(), 'log.db');
    const tiny = { maxEntries: 1, windowMs: DEFAULT_DEDUP_WINDOW.windowMs };
    let s = openStore(path, tiny);
    for (let b = 0; b < MERGE_FANOUT; b++) appendRun(s, b);
    const before = listedIndexPairs(s.db);
    s.db.close();
    toSchema11(path);
    s = openStore(path, tiny);
    try {
      expect(s.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(s.db.prepare('SELECT count(*) FROM lookup_blocks').pluck().get()).toBe(0);
      expect(listedIndexPairs(s.db)).toEqual(before);
      expectAllFound(s, MERGE_FANOUT);
      // A resend past the window is found in a row run.
      const [r] = s.store.appendBatch([leafOf(3, 4)], s.builder);
      s.store.background(s.builder.size, false, true);
      expect(s.db.prepare('SELECT first_idx FROM late_duplicates WHERE idx = ?').pluck().get(r!.index)).toBe(
        3 * PER_BATCH + 4,
      );
      // The eight row runs merge into one run of blocks; their rows are deleted as garbage.
      for (let i = 0; i < 50 && storedRuns(s.db).length > 2; i++) s.store.background(s.builder.size, true);
      expect(runs(s.db).map((x) => x.level)).toEqual([0, 1]);
      expect(s.db.prepare('SELECT count(*) FROM lookup_keys').pluck().get()).toBe(0);
      expectAllFound(s, MERGE_FANOUT);
    } finally {
      s.db.close();
    }
  });
});

describe('lookup blocks', () => {
  test('encode and decode round-trip, from an aligned blob and from an unaligned view', () => {
    const keys = [-(2 ** 52), -1, 0, 5, 5, 2 ** 52 - 1];
    const idxs = [7, 3, 0, 1, 2, 2 ** 53 - 1];
    const blob = encodeBlock(keys, idxs, 0, keys.length);
    expect(blob.length).toBe(16 * keys.length);
    const unaligned = new Uint8Array(blob.length + 3);
    unaligned.set(blob, 3);
    for (const b of [blob, Buffer.from(blob), unaligned.subarray(3)]) {
      const d = decodeBlock(b);
      expect([...d.keys]).toEqual(keys);
      expect([...d.idxs]).toEqual(idxs);
      expect(blockIndicesOf(d, 5)).toEqual([1, 2]);
      expect(blockIndicesOf(d, 4)).toEqual([]);
      expect(blockIndicesOf(d, -(2 ** 52))).toEqual([7]);
    }
    expect(() => decodeBlock(new Uint8Array(17))).toThrow(/17 bytes/);
  });

  test('a block is cut where the key changes once it holds BLOCK_PAIRS, and at MAX_BLOCK_PAIRS whatever the key', () => {
    const out: { keys: number[]; last: [number, number] }[] = [];
    const w = new BlockWriter((data, k, i) => out.push({ keys: [...decodeBlock(data).keys], last: [k, i] }));
    let idx = 0;
    for (let k = 0; k < BLOCK_PAIRS - 1; k++) w.add(k, idx++);
    for (let j = 0; j < 3; j++) w.add(1000, idx++); // straddles BLOCK_PAIRS: stays in one block
    for (let j = 0; j < MAX_BLOCK_PAIRS + 10; j++) w.add(2000, idx++); // longer than a block
    w.add(3000, idx++);
    w.finish();
    expect(out.map((b) => b.keys.length)).toEqual([BLOCK_PAIRS + 2, MAX_BLOCK_PAIRS, 11]);
    expect(out[0]!.last).toEqual([1000, BLOCK_PAIRS + 1]);
    expect(out[1]!.keys.every((k) => k === 2000)).toBe(true);
    expect(out[2]!.keys).toEqual([...Array(10).fill(2000), 3000]);
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
