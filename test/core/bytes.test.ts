import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { ByteSlab, concatBytes, fromBase64, Scratch, toBase64 } from '../../src/core/bytes.js';
import { type CborValue, encodeDeterministic } from '../../src/core/cbor.js';
import { commitment } from '../../src/core/entry.js';
import { leafHash, nodeHash } from '../../src/core/merkle.js';
import { nodeSha256 } from '../../src/store/node-hash.js';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('ByteSlab', () => {
  it('hands out disjoint views that keep their bytes while later ones are taken', () => {
    const slab = new ByteSlab(256);
    const got: [Uint8Array, Uint8Array][] = [];
    for (let i = 0; i < 200; i++) {
      const src = bytes((i * 7) % 70, i);
      got.push([slab.copy(src), src.slice()]);
      src.fill(0xee); // the owner reuses its buffer: the copy must not change
    }
    for (const [view, want] of got) expect(view).toEqual(want);
    const byBuffer = new Map<ArrayBufferLike, [number, number][]>();
    for (const [v] of got) {
      if (v.length === 0) continue;
      const r = byBuffer.get(v.buffer) ?? [];
      r.push([v.byteOffset, v.byteOffset + v.length]);
      byBuffer.set(v.buffer, r);
    }
    for (const r of byBuffer.values()) {
      r.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < r.length; i++) expect(r[i]![0]).toBeGreaterThanOrEqual(r[i - 1]![1]);
    }
  });

  it('gives a request over a quarter of the slab its own buffer, and refuses a silly size', () => {
    const slab = new ByteSlab(256);
    const big = slab.alloc(65);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(65);
    expect(() => new ByteSlab(10)).toThrow(RangeError);
  });
});

describe('Scratch', () => {
  it('reuses one buffer up to its limit and grows to fit', () => {
    const s = new Scratch(4096);
    const a = s.take(10);
    const b = s.take(900);
    expect(b.buffer).toBe(a.buffer);
    const c = s.take(3000);
    expect(c.length).toBe(3000);
    expect(s.take(5000).buffer.byteLength).toBe(5000); // past the limit: not kept
    expect(s.take(100).buffer).toBe(c.buffer);
  });
});

describe('hashing through reused buffers', () => {
  it('leafHash, nodeHash and commitment equal SHA-256 of the concatenation, call after call', () => {
    for (const sha of [nodeSha256, (d: Uint8Array) => nobleSha256(d)]) {
      const kept: [Uint8Array, Uint8Array][] = [];
      for (let i = 0; i < 300; i++) {
        const entry = bytes((i * 131) % 2000, i);
        const l = leafHash(entry, sha);
        kept.push([l, nobleSha256(concatBytes(new Uint8Array([0]), entry))]);
        const a = bytes(32, i);
        const b = bytes(32, i + 1);
        kept.push([nodeHash(a, b, sha), nobleSha256(concatBytes(new Uint8Array([1]), a, b))]);
        const salt = bytes(32, i + 2);
        kept.push([commitment(salt, entry, sha), nobleSha256(concatBytes(salt, entry))]);
      }
      // Every digest is still right after all the others were computed (no shared output).
      for (const [got, want] of kept) expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
    }
  });

  it('nodeSha256 digests are Buffers that later digests never overwrite', () => {
    const first = nodeSha256(new Uint8Array([1, 2, 3]));
    const copy = Buffer.from(first);
    for (let i = 0; i < 1000; i++) nodeSha256(bytes(i % 100, i));
    expect(Buffer.isBuffer(first)).toBe(true);
    expect(copy.equals(first)).toBe(true);
    expect(copy.equals(Buffer.from(nobleSha256(new Uint8Array([1, 2, 3]))))).toBe(true);
  });

  it('encodeDeterministic into a slab gives the same bytes as its own buffer', () => {
    const slab = new ByteSlab(1024);
    const values: CborValue[] = [
      { a: 1, b: [true, null, 'x'.repeat(300)] },
      'short',
      { n: 2n ** 70n },
      [1.5, -0],
    ];
    const views = values.map((v) => encodeDeterministic(v, { slab }));
    for (const [i, v] of values.entries()) expect(views[i]).toEqual(encodeDeterministic(v));
  });
});

describe('toBase64', () => {
  it("matches node's encoder at every length around the 3-byte groups and the 8 KiB chunks", () => {
    const lengths = [
      ...Array.from({ length: 70 }, (_, n) => n),
      6141,
      6142,
      6143,
      6144,
      6145,
      6146,
      12_288,
      12_289,
      50_000,
    ];
    for (const n of lengths) {
      const b = bytes(n, n);
      const want = Buffer.from(b).toString('base64');
      expect([n, toBase64(b)]).toEqual([n, want]);
      expect(fromBase64(want)).toEqual(b);
    }
  });
});
