/** The in-memory dedup window: bounded by entries and by time, exact against a naive model. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DedupWindow, NO_KEY } from '../../src/store/dedup-window.js';

const found = (w: DedupWindow, key: number): number[] => {
  const out: number[] = [];
  w.candidates(key, (i) => out.push(i));
  return out.sort((a, b) => a - b);
};

describe('DedupWindow', () => {
  test('finds what it holds, under the right key only', () => {
    const w = new DedupWindow({ maxEntries: 10, windowMs: 60_000 });
    w.add(5, 111, 0);
    w.add(6, NO_KEY, 0);
    w.add(7, 222, 0);
    expect(found(w, 111)).toEqual([5]);
    expect(found(w, 222)).toEqual([7]);
    expect(found(w, 333)).toEqual([]);
    expect(found(w, NO_KEY)).toEqual([]);
    expect([w.start, w.end, w.size]).toEqual([5, 8, 3]);
  });

  test('capacity: the oldest leaf leaves first', () => {
    const w = new DedupWindow({ maxEntries: 3, windowMs: 60_000 });
    for (let i = 0; i < 5; i++) w.add(i, 1000 + i, 0);
    expect(found(w, 1000)).toEqual([]);
    expect(found(w, 1001)).toEqual([]);
    expect(found(w, 1002)).toEqual([2]);
    expect(found(w, 1004)).toEqual([4]);
    expect(w.size).toBe(3);
  });

  test('time: leaves older than the window leave, never a leaf inside it', () => {
    const w = new DedupWindow({ maxEntries: 100, windowMs: 10_000 });
    w.add(0, 1, 1_000);
    w.add(1, 2, 5_000);
    w.add(2, 3, 9_500);
    w.evictExpired(15_999); // 5_000 is 10_999 old: kept
    expect(found(w, 1)).toEqual([]);
    expect(found(w, 2)).toEqual([1]);
    w.evictExpired(16_000);
    expect(found(w, 2)).toEqual([]);
    expect(found(w, 3)).toEqual([2]);
  });

  test('colliding keys chain, and deleting one keeps the others findable', () => {
    const w = new DedupWindow({ maxEntries: 4, windowMs: 60_000 });
    // The home slot comes from the top bits: keys below 2^21 all share slot 0.
    w.add(0, 7, 0);
    w.add(1, 7 + 1024, 0);
    w.add(2, 7, 0);
    w.add(3, 8 * 2 ** 21 + 5, 0);
    w.add(4, 7 + 2048, 0); // evicts leaf 0
    expect(found(w, 7)).toEqual([2]);
    expect(found(w, 7 + 1024)).toEqual([1]);
    expect(found(w, 8 * 2 ** 21 + 5)).toEqual([3]);
    expect(found(w, 7 + 2048)).toEqual([4]);
  });

  test('the table grows past its first size and keeps every chain', () => {
    const w = new DedupWindow({ maxEntries: 3000, windowMs: 60_000 });
    for (let i = 0; i < 5000; i++) w.add(i, (i % 700) * 1024 + (i % 3), 0);
    for (let k = 0; k < 700; k++) {
      const want: number[] = [];
      for (let i = 2000; i < 5000; i++) if ((i % 700) * 1024 + (i % 3) === k * 1024 + (k % 3)) want.push(i);
      expect(found(w, k * 1024 + (k % 3))).toEqual(want);
    }
  });

  test('refuses a gap in the indices', () => {
    const w = new DedupWindow({ maxEntries: 4, windowMs: 1 });
    w.add(0, 1, 0);
    expect(() => w.add(2, 1, 0)).toThrow(RangeError);
  });

  test('matches a naive model under random adds, evictions and collisions', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('add' as const), key: fc.integer({ min: -1, max: 40 }), dt: fc.nat(3000) }),
      fc.record({ t: fc.constant('expire' as const), dt: fc.nat(5000) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(op, { maxLength: 400 }), (cap, ops) => {
        const windowMs = 10_000;
        const w = new DedupWindow({ maxEntries: cap, windowMs });
        const model: { index: number; key: number; sec: number }[] = [];
        let now = 1_000_000;
        let next = 0;
        for (const o of ops) {
          now += o.dt;
          if (o.t === 'add') {
            // Keys over few home slots (the top bits pick the slot) to force long chains.
            const key = o.key < 0 ? NO_KEY : (o.key % 5) + 2 ** 21 * Math.floor(o.key / 5);
            w.add(next, key, now);
            model.push({ index: next++, key, sec: Math.floor(now / 1000) });
            if (model.length > cap) model.shift();
          } else {
            w.evictExpired(now);
            while (model.length > 0 && (model[0]!.sec + 1) * 1000 <= now - windowMs) model.shift();
          }
          for (let k = 0; k < 45; k++) {
            const key = (k % 5) + 2 ** 21 * Math.floor(k / 5);
            const want = model.filter((m) => m.key === key).map((m) => m.index);
            expect(found(w, key)).toEqual(want);
          }
        }
        expect(w.size).toBe(model.length);
      }),
      { numRuns: 150 },
    );
  });

  test('keys that share their low 32 bits are both proposed (candidates, confirmed by the caller)', () => {
    const w = new DedupWindow({ maxEntries: 10, windowMs: 60_000 });
    w.add(0, 5, 0);
    w.add(1, 5 + 2 ** 32, 0);
    w.add(2, 6 + 2 ** 40, 0);
    expect(found(w, 5)).toEqual([0, 1]);
    expect(found(w, 5 + 2 ** 32)).toEqual([0, 1]);
    expect(found(w, 6)).toEqual([2]);
    expect(found(w, 7)).toEqual([]);
  });

  test('receive times over many seconds (the run ring grows) expire exactly, oldest first', () => {
    const w = new DedupWindow({ maxEntries: 10_000, windowMs: 100_000 });
    // 3 leaves a second for 1,000 seconds, then expiry at the end: leaves of the last 100
    // whole seconds stay.
    for (let i = 0; i < 3000; i++) w.add(i, 1000 + i, Math.floor(i / 3) * 1000 + 250);
    w.evictExpired(999_250);
    // The window reaches back to 899,250: second 898 ended before it, second 899 did not.
    expect(w.start).toBe(899 * 3);
    expect(found(w, 1000 + 899 * 3 - 1)).toEqual([]);
    expect(found(w, 1000 + 899 * 3)).toEqual([899 * 3]);
    w.evictExpired(2_000_000);
    expect(w.size).toBe(0);
    w.add(7000, 42, 3_000_000);
    expect(found(w, 42)).toEqual([7000]);
    expect([w.start, w.end]).toEqual([7000, 7001]);
  });

  test('tags: kept per leaf, unset for a new leaf in a reused ring slot, forgotten on request', () => {
    const w = new DedupWindow({ maxEntries: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) w.add(i, 9, 0);
    expect(w.tagA(1)).toBe(0);
    w.setTags(1, 11, 12);
    w.setTags(2, 21, 22);
    expect([w.tagA(1), w.tagB(1), w.tagA(2), w.tagB(2)]).toEqual([11, 12, 21, 22]);
    w.forgetTags(2);
    expect([w.tagA(2), w.tagB(2)]).toEqual([0, 0]);
    w.add(3, 9, 0); // evicts leaf 0
    w.add(4, 9, 0); // evicts leaf 1: leaf 4 takes its ring slot, without its tags
    expect([w.tagA(1), w.tagA(4), w.tagB(4)]).toEqual([0, 0, 0]);
    expect(() => w.setTags(1, 1, 1)).toThrow(RangeError);
    const order: number[] = [];
    w.candidates(9, (i) => order.push(i));
    expect(order).toEqual([4, 3, 2]);
  });

  test('one key held by most of the window: every leaf found, other keys unaffected', () => {
    const w = new DedupWindow({ maxEntries: 5000, windowMs: 60_000 });
    for (let i = 0; i < 20_000; i++) w.add(i, i % 10 === 0 ? 1000 + i : 77, 0);
    expect(found(w, 77).length).toBe(4500);
    expect(found(w, 77)[0]).toBe(15_001);
    expect(found(w, 1000 + 19_990)).toEqual([19_990]);
    expect(found(w, 1000 + 14_990)).toEqual([]);
  });
});
