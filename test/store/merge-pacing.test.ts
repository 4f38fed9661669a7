/**
 * The lookup index's merges keep pace with indexing under sustained load (log-store.ts
 * background, MERGE_PACE): commits with no idle time between them leave a bounded number of
 * listed runs, where one merge step per commit let them pile up without bound. And a store
 * opened only to finish merges (maintainAll, the bench's log generator) picks fresh run ids.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { encodeEntry } from '../../src/core/entry.js';
import { TileBuilder } from '../../src/core/tiles.js';
import { nodeSha256 } from '../../src/log/log.js';
import { openDatabase } from '../../src/store/db.js';
import type { AppendItem } from '../../src/store/log-storage.js';
import { LogStore } from '../../src/store/log-store.js';
import { MERGE_FANOUT, RUN_LEAVES } from '../../src/store/lookup-index.js';
import { tempDir } from '../helpers/tmp.js';

/** Leaf i: a small entry with a dedup id and no payload (cheap to write in bulk). */
const leaf = (i: number): AppendItem => ({
  entry: encodeEntry({ v: 1, kind: 'erasure', src: 's', id: `d${i}`, recv: 1, erases: 0, reason: 'r' }),
  source: 's',
  id: `d${i}`,
});

const listedRuns = (store: LogStore) =>
  (store.db.prepare('SELECT count(*) FROM lookup_runs').pluck().get() as number) ?? 0;

describe('merge pacing', () => {
  test('under commits with no idle ticks the listed runs stay bounded; maintainAll finishes merges', () => {
    const path = join(tempDir(), 'log.db');
    const db = openDatabase(path);
    const store = new LogStore(db, nodeSha256);
    const builder = new TileBuilder(0, [], nodeSha256);
    store.openWriter();
    const runs = 3 * MERGE_FANOUT + 3;
    let next = 0;
    for (let r = 0; r < runs; r++) {
      // One run's worth of leaves in one commit, followed by the commit's turn only.
      store.appendBatch(
        Array.from({ length: RUN_LEAVES }, () => leaf(next++)),
        builder,
      );
      // No time cap on the turn: the test counts work, not speed (the machine may be busy).
      store.background(builder.size, false, false, Number.POSITIVE_INFINITY);
    }
    expect(store.indexedTo()).toBe(runs * RUN_LEAVES);
    // Without pacing: one 4,096-row step per commit, while each run adds ~16k rows to be
    // merged once per level they climb: the runs pile up.
    expect(listedRuns(store)).toBeLessThanOrEqual(2 * MERGE_FANOUT);
    db.close();

    const again = new LogStore(openDatabase(path), nodeSha256);
    expect(again.maintainAll()).toBe(true);
    expect(listedRuns(again)).toBeLessThan(MERGE_FANOUT);
    again.db.close();
  });
});
