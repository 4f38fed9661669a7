/**
 * The sequencer with an asynchronous committer (as with the writer thread): one commit in
 * flight, requests arriving meanwhile form the next batch, a request is never split, and a
 * failing request is retried alone so it cannot fail the others that shared its batch.
 */
import { describe, expect, test } from 'vitest';
import {
  type CommitResult,
  DEFAULT_SEQUENCER_OPTIONS,
  ITEM_OVERHEAD_BYTES,
  QueueFullError,
  Sequencer,
} from '../../src/log/sequencer.js';
import type { AppendItem } from '../../src/store/log-store.js';

const item = (tag: number): AppendItem => ({ entry: new Uint8Array([tag]) });

function fakeCommitter(failOn?: number) {
  let size = 0;
  let inFlight = 0;
  const batches: number[][] = [];
  const commit = async (items: AppendItem[]): Promise<CommitResult> => {
    inFlight++;
    expect(inFlight).toBe(1);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    if (failOn !== undefined && items.some((i) => i.entry[0] === failOn))
      throw new Error(`bad item ${failOn}`);
    batches.push(items.map((i) => i.entry[0]!));
    const results = items.map((_, k) => ({ index: size + k, duplicate: false }));
    size += items.length;
    return { results, size };
  };
  return { commit, batches };
}

/** A sequencer whose byte bound holds three items of ~1 KB (`big`), each `perItem` bytes. */
function byteBound() {
  const c = fakeCommitter();
  const big = (tag: number): AppendItem => ({ entry: new Uint8Array([tag]), payload: new Uint8Array(1000) });
  const perItem = 1 + 1000 + ITEM_OVERHEAD_BYTES;
  const seq = Sequencer.forItems(
    c.commit,
    { maxBatch: 100, maxDelayMs: 0, maxQueue: 1000, maxQueueBytes: 3 * perItem },
    () => {},
  );
  return { seq, big, perItem };
}

describe('Sequencer with an asynchronous committer', () => {
  test('one commit in flight; later requests batch together; requests stay whole', async () => {
    const c = fakeCommitter();
    const seq = Sequencer.forItems(
      c.commit,
      { ...DEFAULT_SEQUENCER_OPTIONS, maxBatch: 4, maxDelayMs: 0, maxQueue: 100 },
      () => {},
    );
    const reqs = [[1], [2, 3], [4, 5, 6], [7], [8, 9]].map((tags) => seq.append(tags.map(item)));
    const results = await Promise.all(reqs);
    expect(results.map((r) => r.map((x) => x.index))).toEqual([[0], [1, 2], [3, 4, 5], [6], [7, 8]]);
    // Batches respect maxBatch but never split a request.
    expect(c.batches).toEqual([
      [1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    await seq.drain();
  });

  test('a failing request fails alone; its batch-mates commit', async () => {
    const c = fakeCommitter(66);
    const seq = Sequencer.forItems(
      c.commit,
      { ...DEFAULT_SEQUENCER_OPTIONS, maxBatch: 10, maxDelayMs: 1, maxQueue: 100 },
      () => {},
    );
    const a = seq.append([item(1)]);
    const bad = seq.append([item(66), item(2)]);
    const b = seq.append([item(3)]);
    await expect(bad).rejects.toThrow('bad item 66');
    expect((await a).map((x) => x.index)).toEqual([0]);
    expect((await b).map((x) => x.index)).toEqual([1]);
  });

  test('the queue bound holds while a commit is in flight, and drain waits for everything', async () => {
    const c = fakeCommitter();
    const seq = Sequencer.forItems(
      c.commit,
      { ...DEFAULT_SEQUENCER_OPTIONS, maxBatch: 2, maxDelayMs: 0, maxQueue: 3 },
      () => {},
    );
    const first = seq.append([item(1), item(2), item(3)]);
    await expect(seq.append([item(4)])).rejects.toBeInstanceOf(QueueFullError);
    await seq.drain();
    expect((await first).length).toBe(3);
    expect(seq.queued).toBe(0);
  });

  test('the byte bound refuses what would exceed it, and an empty queue takes one oversized request', async () => {
    const { seq, big, perItem } = byteBound();
    // Four items are more than the bound, but the queue is empty: taken (committed alone).
    const first = seq.append([big(1), big(2), big(3), big(4)]);
    expect(seq.queuedBytes).toBe(4 * perItem);
    // Anything more while those wait is refused, although only 4 of 1000 leaves are queued.
    await expect(seq.append([big(5)])).rejects.toBeInstanceOf(QueueFullError);
    await seq.drain();
    expect(seq.queuedBytes).toBe(0);
    expect((await first).length).toBe(4);
    // Once drained, requests within the bound queue together again.
    const [a, b] = [seq.append([big(6)]), seq.append([big(7), big(8)])];
    await expect(seq.append([big(9)])).rejects.toBeInstanceOf(QueueFullError);
    expect([...(await a), ...(await b)].map((r) => r.index)).toEqual([4, 5, 6]);
  });

  test('a request held in parts commits whole, in part order, never split across batches', async () => {
    const c = fakeCommitter();
    const seq = Sequencer.forItems(
      c.commit,
      { ...DEFAULT_SEQUENCER_OPTIONS, maxBatch: 3, maxDelayMs: 0, maxQueue: 100 },
      () => {},
    );
    const a = seq.append([item(1), item(2)]);
    // Five items in three parts (one empty): more than maxBatch, so committed as one batch alone.
    const parts = [[3, 4], [], [5, 6, 7]].map((tags) => seq.hold(tags.map(item)));
    expect(parts.map((p) => p.count)).toEqual([2, 0, 3]);
    const b = seq.appendParts(parts);
    const d = seq.append([item(8)]);
    expect((await a).map((r) => r.index)).toEqual([0, 1]);
    expect((await b).map((r) => r.index)).toEqual([2, 3, 4, 5, 6]);
    expect((await d).map((r) => r.index)).toEqual([7]);
    expect(c.batches).toEqual([[1, 2], [3, 4, 5, 6, 7], [8]]);
    // No parts, or only empty ones: nothing to commit.
    expect(await seq.appendParts([seq.hold([])])).toEqual([]);
  });

  test('parts count against the queue bounds as a whole, and a failing request of parts fails alone', async () => {
    const c = fakeCommitter(66);
    const seq = Sequencer.forItems(
      c.commit,
      { ...DEFAULT_SEQUENCER_OPTIONS, maxBatch: 10, maxDelayMs: 1, maxQueue: 4 },
      () => {},
    );
    const first = seq.append([item(1), item(2)]);
    await expect(seq.appendParts([seq.hold([item(3)]), seq.hold([item(4), item(5)])])).rejects.toBeInstanceOf(
      QueueFullError,
    );
    const bad = seq.appendParts([seq.hold([item(6)]), seq.hold([item(66)])]);
    await expect(bad).rejects.toThrow('bad item 66');
    expect((await first).map((r) => r.index)).toEqual([0, 1]);
    await seq.drain();
    expect(c.batches).toEqual([[1, 2]]);
  });

  test('the committer is told when a batch is one request, never retried (it may consume it)', async () => {
    const finals: [number[], boolean][] = [];
    let size = 0;
    const seq = new Sequencer<number[]>(
      async (held, final) => {
        await new Promise((r) => setTimeout(r, 2));
        const tags = held.flat();
        finals.push([tags, final]);
        if (tags.includes(66)) throw new Error('bad item 66');
        size += tags.length;
        return { results: tags.map((_, k) => ({ index: size - tags.length + k, duplicate: false })), size };
      },
      { ...DEFAULT_SEQUENCER_OPTIONS, maxBatch: 10, maxDelayMs: 1 },
      () => {},
      (items) => items.map((i) => i.entry[0]!),
    );
    const a = seq.append([item(1)]);
    const b = seq.append([item(66)]);
    await expect(b).rejects.toThrow('bad item 66');
    await a;
    await seq.append([item(2)]);
    // Two requests together (not final), then each alone after the failure (final), then one.
    expect(finals).toEqual([
      [[1, 66], false],
      [[1], true],
      [[66], true],
      [[2], true],
    ]);
  });

  test('the byte bound counts the batch being committed: a large request waits for it, not only for the queue', async () => {
    const { seq, big } = byteBound();
    const first = seq.append([big(1), big(2)]);
    await new Promise((r) => setTimeout(r, 1)); // taken: committing, nothing queued
    expect(seq.queued).toBe(0);
    const refused = seq.append([big(3), big(4)]);
    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    await expect(refused).rejects.toThrow('a commit of 2 leaves in progress');
    const fits = seq.append([big(5)]); // 2 + 1 within the bound
    await first;
    await fits;
    await seq.drain();
    // Idle again: any one request is taken.
    expect((await seq.append([big(6), big(7), big(8), big(9)])).length).toBe(4);
  });
});
