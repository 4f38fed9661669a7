/** Packing batches for the writer thread loses nothing and changes nothing. */
import { describe, expect, test } from 'vitest';
import type { AppendItem } from '../../src/store/log-storage.js';
import { packBatch, unpackBatch } from '../../src/store/writer-pack.js';

describe('packBatch / unpackBatch', () => {
  test('round-trips every field, including absent ones, through a structured clone', () => {
    const items: AppendItem[] = [
      {
        entry: new Uint8Array([1, 2, 3]),
        leafHash: new Uint8Array(32).fill(7),
        salt: new Uint8Array(32).fill(9),
        payload: new Uint8Array([5, 6]),
        source: 'opa-1',
        id: 'd-1',
        meta: {
          kind: 'opa.decision',
          source: 'opa-1',
          recvMs: 1750000000000,
          tsMs: null,
          path: 'a/b',
          result: 'true',
          revisions: ['r1', 'r2'],
        },
      },
      { entry: new Uint8Array([4]) },
      // Strings of every width (all joined into one string for the crossing): UTF-16 offsets.
      {
        entry: new Uint8Array([12]),
        source: 'ÖPA-é',
        id: '😀-id-\u0000-x',
        meta: {
          kind: 'opa.decision',
          source: 'ÖPA-é',
          recvMs: 1,
          tsMs: 2,
          path: 'π/路径',
          result: '',
          revisions: ['', '😀', 'r'],
        },
      },
      { entry: new Uint8Array([4, 4]), payload: new Uint8Array([1]), unsealed: true, refuseConflict: true },
      {
        entry: new Uint8Array([8, 8]),
        leafHash: new Uint8Array(32).fill(1),
        source: 'opa-tlog',
        id: 'erase/0',
        erase: { index: 0, reason: 'GDPR' },
      },
      {
        entry: new Uint8Array([9]),
        salt: new Uint8Array(32),
        payload: new Uint8Array(0),
        source: '',
        id: '',
      },
      // Metadata columns after items without: a time, a withheld id, no revisions; then one.
      {
        entry: new Uint8Array([10]),
        meta: {
          kind: 'event',
          source: 'k8s',
          recvMs: 1750000000001,
          tsMs: 1749999999000,
          path: null,
          result: null,
          revisions: [],
          privateId: 'Alice Smith',
        },
      },
      {
        entry: new Uint8Array([11]),
        meta: {
          kind: 'opa.decision',
          source: '',
          recvMs: 0,
          tsMs: 0,
          path: '',
          result: 'undefined',
          revisions: ['r3'],
        },
      },
    ];
    const { batch, transfer } = packBatch(items);
    const received = structuredClone(batch, { transfer });
    expect(batch.bytes.byteLength).toBe(0); // moved, not copied
    const back = unpackBatch(received);
    expect(back.map((i) => ({ ...i, entry: [...i.entry] }))).toEqual(
      items.map((i) => ({ ...i, entry: [...i.entry] })),
    );
  });
});
