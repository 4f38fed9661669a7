/**
 * The commit's dedup probe against a naive model: a resend (same source, id and content) is a
 * duplicate of the first leaf, other content under the same ids conflicts with the first, in
 * one batch and across batches; and one id sent thousands of times (by one uploader with many
 * contents, or from many sources) gets the same exact answers (the probe reads the leaf it
 * picks, not every leaf under the id: src/store/event-tags.ts; PostgreSQL indexes the content
 * of a key's candidates once per batch: postgres-append.ts ContentIndex).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { eventLeaf } from '../../src/log/leaf.js';
import { nodeSha256 } from '../../src/log/log.js';
import type { AppendItem, AppendResult, LogStorage } from '../../src/store/log-storage.js';
import { type Engine, engines, storagesClosedAfterEach } from '../helpers/engines.js';
import { erasureItem } from '../helpers/items.js';

const { open } = storagesClosedAfterEach();

const item = (source: string, id: string, n: number): AppendItem =>
  eventLeaf({ kind: 'event', source, id, event: { n } }, 5000, nodeSha256);

/** An event of these tests: its ids and which content. */
interface Event {
  readonly source: string;
  readonly id: string;
  readonly n: number;
}

/** What the probe must answer, from every earlier leaf (no window: nothing here expires). */
class Model {
  readonly #leaves: Event[] = [];

  append(batch: readonly Event[]): AppendResult[] {
    return batch.map((e) => {
      const same = this.#leaves.findIndex((l) => l.source === e.source && l.id === e.id && l.n === e.n);
      if (same >= 0) return { index: same, duplicate: true };
      const first = this.#leaves.findIndex((l) => l.source === e.source && l.id === e.id);
      this.#leaves.push(e);
      const index = this.#leaves.length - 1;
      return first >= 0 ? { index, duplicate: false, conflictsWith: first } : { index, duplicate: false };
    });
  }
}

const run = async (s: LogStorage, model: Model, batch: Event[]) => {
  const got = (await s.append(batch.map((e) => item(e.source, e.id, e.n)))).results;
  expect(got).toEqual(model.append(batch));
};

/** Random batches (up to 6, of up to `maxBatch` events) on a fresh store answer as the model. */
async function matchesModel(engine: Engine, event: fc.Arbitrary<Event>, maxBatch: number, numRuns: number) {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(event, { minLength: 1, maxLength: maxBatch }), { maxLength: 6 }),
      async (batches) => {
        const s = await open(await engine.location());
        const model = new Model();
        for (const b of batches) await run(s, model, b);
      },
    ),
    { numRuns },
  );
}

describe.each(engines)('$name dedup probe', (engine) => {
  test('matches a naive model over random batches of few ids, sources and contents', async () => {
    const event = fc.record({
      source: fc.constantFrom('a', 'b'),
      id: fc.constantFrom('1', '2', '3'),
      n: fc.integer({ min: 1, max: 4 }),
    });
    await matchesModel(engine, event, 12, engine.name === 'sqlite' ? 60 : 8);
  });

  test('matches the model with many contents under one id (past the linear probe)', async () => {
    const event = fc.record({
      source: fc.constantFrom('a', 'b'),
      id: fc.constant('x'),
      n: fc.integer({ min: 1, max: 30 }),
    });
    await matchesModel(engine, event, 40, engine.name === 'sqlite' ? 30 : 6);
  });
});

describe.each(engines)('$name dedup probe, one id many times', (engine) => {
  test('thousands of contents and sources under one id: resends and conflicts stay exact', async () => {
    const s = await open(await engine.location());
    const model = new Model();
    // 3,000 contents of one (source, id) in three batches, each batch also resending some of
    // the earlier ones; then the same id from 500 other sources; then resends of all.
    for (let b = 0; b < 3; b++) {
      const batch = Array.from({ length: 1000 }, (_, i) => ({ source: 'a', id: 'x', n: b * 1000 + i }));
      for (let i = 0; i < b * 1000; i += 97) batch.push({ source: 'a', id: 'x', n: i });
      await run(s, model, batch);
    }
    await run(
      s,
      model,
      Array.from({ length: 500 }, (_, i) => ({ source: `s${i}`, id: 'x', n: i })),
    );
    await run(s, model, [
      ...Array.from({ length: 3000 }, (_, i) => ({ source: 'a', id: 'x', n: i })),
      ...Array.from({ length: 500 }, (_, i) => ({ source: `s${i}`, id: 'x', n: i })),
      { source: 's7', id: 'x', n: 8 },
    ]);
  });

  test('an erased leaf whose content was indexed matches nothing afterwards', async () => {
    const s = await open(await engine.location());
    const model = new Model();
    await run(s, model, [
      { source: 'a', id: 'x', n: 1 },
      { source: 'a', id: 'x', n: 2 },
    ]);
    // Probed once more: both leaves' tags are learnt.
    await run(s, model, [{ source: 'a', id: 'x', n: 2 }]);
    await s.append([erasureItem(0)]);
    // Leaf 0 lost its payload and salt: the same content again is a new leaf, conflicting
    // with leaf 0 (its ids are public, so still known).
    expect((await s.append([item('a', 'x', 1)])).results).toEqual([
      { index: 3, duplicate: false, conflictsWith: 0 },
    ]);
    expect((await s.append([item('a', 'x', 2)])).results).toEqual([{ index: 1, duplicate: true }]);
  });
});
