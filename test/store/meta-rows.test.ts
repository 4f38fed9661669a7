/**
 * Search metadata written many rows per statement (src/store/meta-rows.ts): a batch of several
 * hundred leaves (more than one statement's worth, and a remainder) is searchable by every
 * field right after the commit; an erasure in the same batch removes its target's rows even
 * though they were still buffered; a withheld id in the batch deduplicates within it.
 */
import { describe, expect, test } from 'vitest';
import { eventLeaf } from '../../src/log/leaf.js';
import { nodeSha256 } from '../../src/log/log.js';
import type { AppendItem } from '../../src/store/log-storage.js';
import { engines, storagesClosedAfterEach } from '../helpers/engines.js';
import { erasureItem } from '../helpers/items.js';

const sqlite = engines.find((e) => e.name === 'sqlite')!;
const leaf = (n: number, id = `d-${n}`): AppendItem =>
  eventLeaf(
    {
      kind: 'event',
      source: 'src',
      id,
      event: { n },
      search: { tsMs: 1000 + n, path: `p${n % 5}`, result: 'allow', revisions: [`r${n % 3}`, 'all'] },
    },
    5000 + n,
    nodeSha256,
  );
const erasure = erasureItem;

const { open } = storagesClosedAfterEach();

describe('sqlite search metadata, many rows per statement', () => {
  test('a 301-leaf batch is searchable by every field; a same-batch erasure removes its rows', async () => {
    const loc = await sqlite.location();
    const s = await open(loc);
    const items = Array.from({ length: 301 }, (_, n) => leaf(n));
    await s.append([...items, erasure(7), erasure(300)]);
    const all = await s.search({ revision: 'all' }, -1, 1000);
    expect(all.length).toBe(299);
    expect(all).not.toContain(7);
    expect(all).not.toContain(300);
    expect(await s.search({ revision: 'r1' }, -1, 1000)).toEqual(
      Array.from({ length: 301 }, (_, n) => n).filter((n) => n % 3 === 1 && n !== 7 && n !== 300),
    );
    expect(await s.search({ path: 'p2', sinceMs: 1100, untilMs: 1200 }, -1, 1000)).toEqual(
      Array.from({ length: 100 }, (_, k) => 1100 + k - 1000).filter((n) => n % 5 === 2),
    );
    const rows = await sqlite.sql(loc, 'SELECT count(*) AS n FROM leaf_revisions');
    expect(Number(rows[0]!.n)).toBe(2 * 299);
  });

  test('a withheld id repeated within one batch is a duplicate of its first leaf', async () => {
    const loc = await sqlite.location();
    const s = await open(loc);
    const secret = 'alice@example.com';
    const batch = [...Array.from({ length: 100 }, (_, n) => leaf(n)), leaf(1000, secret), leaf(1000, secret)];
    const results = (await s.append(batch)).results;
    expect(results[101]).toEqual({ index: 100, duplicate: true });
  });
});
