/**
 * C2SP tlog-tiles support of src/core/tiles.ts: path encoding/parsing against the reference
 * vectors (§4.2) and an independent encoder, strict rejection of non-canonical paths, the tiles
 * that exist at a size (§4.3 worked example), TileBuilder against the naive Merkle oracle and
 * against the reference "tiles to write when growing" rule, and the entry-bundle vector (§4.5).
 */
import { describe, expect, it } from 'vitest';
import { encodeEntryBundle } from '../../src/core/bundle.js';
import { concatBytes, toHex, utf8 } from '../../src/core/bytes.js';
import { leafHash, nodeHash, treeHash } from '../../src/core/merkle.js';
import {
  encodeTileIndex,
  entryBundlePath,
  hashTilePath,
  parseTilePath,
  subtreeLocation,
  type Tile,
  TileBuilder,
  type TileWrite,
  tileAtSize,
  tileSubtreeReader,
  tilesForSize,
} from '../../src/core/tiles.js';
import { expectMerkleError } from '../helpers/merkle.js';
import { prng } from '../helpers/prng.js';
import {
  unhex,
  VECTOR_BUNDLE_HEX,
  VECTOR_LEAF_HASHES,
  VECTOR_LEAVES,
  VECTOR_ROOTS,
} from '../helpers/vectors.js';
import { NAIVE_EMPTY_ROOT, NaiveTree, naiveLeafHash } from './naive-merkle.js';

/** Independent encoder: left-pad the decimal to a multiple of 3 digits and cut into groups. */
function refEncodeIndex(n: bigint): string {
  const d = n.toString();
  const padded = d.padStart(Math.ceil(d.length / 3) * 3, '0');
  const groups: string[] = [];
  for (let i = 0; i < padded.length; i += 3) groups.push(padded.slice(i, i + 3));
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

// ---------------------------------------------------------------------------------------------

describe('tile path encoding (reference §4.2)', () => {
  const vectors: [number, string][] = [
    [0, '000'],
    [5, '005'],
    [999, '999'],
    [1000, 'x001/000'],
    [1234, 'x001/234'],
    [1234067, 'x001/x234/067'],
    [123456789, 'x123/x456/789'],
    [Number.MAX_SAFE_INTEGER, 'x009/x007/x199/x254/x740/991'],
  ];

  for (const [n, enc] of vectors) {
    it(`index ${n} <-> ${enc}`, () => {
      expect(encodeTileIndex(n)).toBe(enc);
      expect(refEncodeIndex(BigInt(n))).toBe(enc);
      expect(parseTilePath(`tile/0/${enc}`)).toEqual({ kind: 'hash', level: 0, index: n, width: 256 });
      expect(parseTilePath(`tile/63/${enc}.p/255`)).toEqual({
        kind: 'hash',
        level: 63,
        index: n,
        width: 255,
      });
      expect(parseTilePath(`tile/entries/${enc}.p/1`)).toEqual({ kind: 'entries', index: n, width: 1 });
      expect(hashTilePath({ level: 7, index: n, width: 256 })).toBe(`tile/7/${enc}`);
      expect(entryBundlePath(n, 89)).toBe(`tile/entries/${enc}.p/89`);
    });
  }

  it('Tessera example paths', () => {
    expect(hashTilePath({ level: 0, index: 1234067, width: 256 })).toBe('tile/0/x001/x234/067');
    expect(hashTilePath({ level: 0, index: 1234067, width: 89 })).toBe('tile/0/x001/x234/067.p/89');
    expect(entryBundlePath(0, 255)).toBe('tile/entries/000.p/255');
    expect(hashTilePath({ level: 15, index: 455667, width: 256 })).toBe('tile/15/x455/667');
    expect(entryBundlePath(0, 256)).toBe('tile/entries/000');
  });

  it('indices >= 2^53 (incl. 2^64-1) are refused by the encoder and unparseable', () => {
    // 2^64-1 is representable in the format but not as a safe JS integer: we cap at 2^53-1.
    const u64max = 2n ** 64n - 1n;
    expect(refEncodeIndex(u64max)).toBe('x018/x446/x744/x073/x709/x551/615');
    expect(parseTilePath('tile/0/x018/x446/x744/x073/x709/x551/615')).toBeUndefined();
    expect(parseTilePath('tile/entries/x018/x446/x744/x073/x709/x551/615')).toBeUndefined();
    // 2^53 and 2^53+1 must not be silently rounded to a neighbouring safe index.
    expect(refEncodeIndex(2n ** 53n)).toBe('x009/x007/x199/x254/x740/992');
    expect(parseTilePath('tile/0/x009/x007/x199/x254/x740/992')).toBeUndefined();
    expect(parseTilePath('tile/0/x009/x007/x199/x254/x740/993')).toBeUndefined();
    expect(parseTilePath('tile/0/x999/x999/x999/x999/x999/x999/x999/999')).toBeUndefined();
    expectMerkleError(() => encodeTileIndex(2 ** 53), 'invalid_argument');
    expectMerkleError(() => encodeTileIndex(2 ** 64), 'invalid_argument');
    expectMerkleError(() => encodeTileIndex(-1), 'invalid_argument');
    expectMerkleError(() => encodeTileIndex(1.5), 'invalid_argument');
    expectMerkleError(() => encodeTileIndex(Number.NaN), 'invalid_argument');
    expectMerkleError(() => hashTilePath({ level: 0, index: 2 ** 53, width: 1 }), 'invalid_argument');
  });

  it('hashTilePath / entryBundlePath reject bad levels and widths', () => {
    expectMerkleError(() => hashTilePath({ level: 64, index: 0, width: 256 }), 'invalid_argument');
    expectMerkleError(() => hashTilePath({ level: -1, index: 0, width: 256 }), 'invalid_argument');
    expectMerkleError(() => hashTilePath({ level: 0, index: 0, width: 0 }), 'invalid_argument');
    expectMerkleError(() => hashTilePath({ level: 0, index: 0, width: 257 }), 'invalid_argument');
    expectMerkleError(() => hashTilePath({ level: 0, index: 0, width: 2.5 }), 'invalid_argument');
    expectMerkleError(() => entryBundlePath(0, 0), 'invalid_argument');
    expectMerkleError(() => entryBundlePath(0, 300), 'invalid_argument');
  });

  it('round-trips 5000 random (level, index, width) and agrees with the independent encoder', () => {
    const rnd = prng(42);
    for (let i = 0; i < 5000; i++) {
      const level = Math.floor(rnd() * 64);
      // Indices of every magnitude from 1 digit up to 2^53-1.
      const digits = 1 + Math.floor(rnd() * 16);
      const index = Math.min(Number.MAX_SAFE_INTEGER, Math.floor(rnd() * 10 ** digits));
      const width = rnd() < 0.3 ? 256 : 1 + Math.floor(rnd() * 255);
      const path = hashTilePath({ level, index, width });
      const suffix = width === 256 ? '' : `.p/${width}`;
      expect(path).toBe(`tile/${level}/${refEncodeIndex(BigInt(index))}${suffix}`);
      expect(parseTilePath(path)).toEqual({ kind: 'hash', level, index, width });
      const bundle = entryBundlePath(index, width);
      expect(bundle).toBe(`tile/entries/${refEncodeIndex(BigInt(index))}${suffix}`);
      expect(parseTilePath(bundle)).toEqual({ kind: 'entries', index, width });
    }
  });

  it('strictly rejects non-canonical or malformed paths', () => {
    const bad = [
      'tile/0/x000/001', // redundant leading zero group
      'tile/0/x000/000',
      'tile/0/1', // not 3 digits
      'tile/0/01',
      'tile/0/0001',
      'tile/0/001.p/0', // width 0
      'tile/0/001.p/256', // full width written as partial
      'tile/0/001.p/257',
      'tile/0/001.p/007', // leading zeroes in width
      'tile/0/001.p/', // empty width
      'tile/0/001.p', // .p without width
      'tile/0/001.P/7',
      'tile/0/001.p/+7',
      'tile/0/001.p/7.5',
      'tile/64/000', // level out of range
      'tile/100/000',
      'tile/01/000', // leading zero in level
      'tile/-1/000',
      'tile/+1/000',
      'tile/0/001/002', // missing x on a non-last group
      'tile/0/x001/x002', // x on the last group
      'tile/entries/x001',
      'tile/0/x1/000', // short x group
      'tile/0/x0001/000',
      'tile/0/000/', // trailing slash
      'tile/0/000.p/5/',
      'tile//000', // empty level
      'tile/0//000',
      'tile/0/',
      'tile/0',
      'tile',
      '',
      '/tile/0/000', // leading slash
      'tiles/0/000',
      'Tile/0/000',
      'tile/0/x001.p/5/000', // .p on a non-last group
      'tile/0/x001/000.p/5/6',
      'tile/0/000.p/1.p/2',
      'tile/8/0/000', // Go sumdb layout (height segment) is not C2SP
      'tile/data/000',
      'tile/entries/000.p/256',
      'tile/entries/000.p/0',
      'tile/entries/0',
      'tile/0/-01',
      'tile/0/ 01',
      'tile/0/00a',
      'tile/0/０００', // full-width digits
      'tile/0/000\n',
      'tile/0/000?x=1',
    ];
    for (const p of bad) expect(parseTilePath(p), JSON.stringify(p)).toBeUndefined();
    // Controls: the closest valid spellings are accepted.
    expect(parseTilePath('tile/0/001')).toEqual({ kind: 'hash', level: 0, index: 1, width: 256 });
    expect(parseTilePath('tile/0/001.p/7')).toEqual({ kind: 'hash', level: 0, index: 1, width: 7 });
    expect(parseTilePath('tile/63/000')).toEqual({ kind: 'hash', level: 63, index: 0, width: 256 });
    expect(parseTilePath('tile/10/x001/000')).toEqual({ kind: 'hash', level: 10, index: 1000, width: 256 });
    expect(parseTilePath('tile/entries/x001/002.p/255')).toEqual({
      kind: 'entries',
      index: 1002,
      width: 255,
    });
  });
});

// ---------------------------------------------------------------------------------------------

/** Reference §4.3 "tiles to write when growing from old to new" (Go NewTiles shape), BigInt. */
function refNewTiles(oldSize: number, newSize: number): string[] {
  const out: string[] = [];
  const o0 = BigInt(oldSize);
  const n0 = BigInt(newSize);
  for (let L = 0n; n0 >> (8n * L) > 0n; L++) {
    const o = o0 >> (8n * L);
    const n = n0 >> (8n * L);
    if (o === n) continue;
    for (let N = o >> 8n; N < n >> 8n; N++) out.push(`tile/${L}/${refEncodeIndex(N)}`);
    if (n % 256n > 0n) out.push(`tile/${L}/${refEncodeIndex(n >> 8n)}.p/${n % 256n}`);
  }
  return out.sort();
}

const paths = (tiles: readonly Tile[]): string[] => tiles.map(hashTilePath);

describe('tiles that exist at a size (reference §4.3)', () => {
  it('s = 70000 matches the worked example exactly', () => {
    const want = [
      ...Array.from({ length: 273 }, (_, i) => `tile/0/${String(i).padStart(3, '0')}`),
      'tile/0/273.p/112',
      'tile/1/000',
      'tile/1/001.p/17',
      'tile/2/000.p/1',
    ];
    expect(paths(tilesForSize(70000))).toEqual(want);
    expect(tileAtSize(70000, 0, 273)).toEqual({ level: 0, index: 273, width: 112 });
    expect(tileAtSize(70000, 0, 274)).toBeUndefined();
    expect(tileAtSize(70000, 1, 1)).toEqual({ level: 1, index: 1, width: 17 });
    expect(tileAtSize(70000, 2, 0)).toEqual({ level: 2, index: 0, width: 1 });
    expect(tileAtSize(70000, 3, 0)).toBeUndefined();
  });

  it('s = 256, 8, 0 and others agree with the growth rule from 0', () => {
    expect(paths(tilesForSize(256))).toEqual(['tile/0/000', 'tile/1/000.p/1']);
    expect(paths(tilesForSize(8))).toEqual(['tile/0/000.p/8']);
    expect(paths(tilesForSize(0))).toEqual([]);
    expect(paths(tilesForSize(1))).toEqual(['tile/0/000.p/1']);
    expect(paths(tilesForSize(257))).toEqual(['tile/0/000', 'tile/0/001.p/1', 'tile/1/000.p/1']);
    for (const s of [1, 255, 256, 257, 511, 512, 65535, 65536, 65537, 70000, 16777216, 16777217 + 256]) {
      expect(paths(tilesForSize(s)).sort(), `size ${s}`).toEqual(refNewTiles(0, s));
    }
  });
});

// ---------------------------------------------------------------------------------------------

const N_LEAVES = 70000;
const ENTRIES = Array.from({ length: N_LEAVES }, (_, i) => utf8(`tile test entry ${i}`));
const LEAF_HASHES = ENTRIES.map((e) => leafHash(e));
const ORACLE = new NaiveTree(ENTRIES);

/** Expected content of every tile at its widest (size N_LEAVES), from the naive oracle. */
function expectedTiles(): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const t of tilesForSize(N_LEAVES)) {
    const span = 256 ** t.level;
    const row: Uint8Array[] = [];
    for (let i = 0; i < t.width; i++) {
      const lo = (t.index * 256 + i) * span;
      row.push(ORACLE.mth(lo, lo + span));
    }
    out.set(`${t.level}/${t.index}`, Buffer.from(concatBytes(...row)));
  }
  return out;
}

describe('TileBuilder', () => {
  const EXPECTED = expectedTiles();

  /** Checks one append's writes: exactly the tiles the growth rule names, with oracle bytes. */
  function checkWrites(writes: readonly TileWrite[], oldSize: number, newSize: number): void {
    expect(writes.map(hashTilePath).sort(), `writes ${oldSize} -> ${newSize}`).toEqual(
      refNewTiles(oldSize, newSize),
    );
    for (const w of writes) {
      const want = EXPECTED.get(`${w.level}/${w.index}`)!;
      expect(w.data.length).toBe(w.width * 32);
      const got = Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength);
      if (!got.equals(want.subarray(0, w.width * 32))) {
        throw new Error(`tile ${hashTilePath(w)} content differs from the oracle`);
      }
    }
  }

  it('oracle sanity: level-0 tiles are the leaf hashes', () => {
    expect(toHex(EXPECTED.get('0/0')!.subarray(0, 32))).toBe(toHex(naiveLeafHash(ENTRIES[0]!)));
    expect(toHex(EXPECTED.get('2/0')!)).toBe(toHex(ORACLE.mth(0, 65536)));
  });

  it('one leaf at a time: every write is the growth rule with oracle bytes; roots match', () => {
    const b = new TileBuilder();
    expect(toHex(b.root())).toBe(toHex(NAIVE_EMPTY_ROOT));
    const rootChecks = new Set([1, 2, 3, 255, 256, 257, 511, 512, 65535, 65536, 65537, 69999, 70000]);
    for (let i = 0; i < N_LEAVES; i++) {
      checkWrites(b.append([LEAF_HASHES[i]!]), i, i + 1);
      if (rootChecks.has(i + 1))
        expect(toHex(b.root()), `root at ${i + 1}`).toBe(toHex(ORACLE.mth(0, i + 1)));
    }
    expect(b.size).toBe(N_LEAVES);
    expect(b.edge().map((r) => r.length)).toEqual([112, 17, 1]);
  });

  it('random batch sizes give the same tiles and roots; restart from edge() continues identically', () => {
    const rnd = prng(7);
    const b = new TileBuilder();
    const final = new Map<string, Uint8Array>();
    let size = 0;
    let forked: TileBuilder | undefined;
    let batches = 0;
    while (size < N_LEAVES) {
      const r = rnd();
      const n = Math.min(
        N_LEAVES - size,
        r < 0.1 ? 0 : r < 0.5 ? 1 + Math.floor(rnd() * 20) : r < 0.9 ? 1 + Math.floor(rnd() * 700) : 2500,
      );
      const batch = LEAF_HASHES.slice(size, size + n);
      const writes = b.append(batch);
      checkWrites(writes, size, size + n);
      if (forked) {
        // A builder restarted from an earlier edge() must produce byte-identical writes.
        const fw = forked.append(batch);
        expect(fw.map((w) => [hashTilePath(w), toHex(w.data)])).toEqual(
          writes.map((w) => [hashTilePath(w), toHex(w.data)]),
        );
        expect(toHex(forked.root())).toBe(toHex(b.root()));
      }
      for (const w of writes) final.set(hashTilePath(w), w.data);
      size += n;
      batches++;
      expect(b.size).toBe(size);
      expect(toHex(b.root()), `root at ${size}`).toBe(toHex(ORACLE.mth(0, size)));
      if (!forked && size > 30000) {
        forked = new TileBuilder(size, b.edge());
        expect(forked.size).toBe(size);
        expect(toHex(forked.root())).toBe(toHex(b.root()));
      }
      // edge() must be a copy: mutating it must not affect the builder.
      const e = b.edge();
      e[0]?.push(new Uint8Array(32));
    }
    expect(batches).toBeGreaterThan(100);
    expect(forked).toBeDefined();
    // Every tile of the final tree was written, with the oracle's bytes.
    for (const t of tilesForSize(N_LEAVES)) {
      const data = final.get(hashTilePath(t));
      expect(data, hashTilePath(t)).toBeDefined();
      expect(Buffer.from(data!).equals(EXPECTED.get(`${t.level}/${t.index}`)!)).toBe(true);
    }
    // And treeHash over those stored tiles is the oracle root.
    const read = tileSubtreeReader((level, index) => {
      const t = tileAtSize(N_LEAVES, level, index);
      return t ? final.get(hashTilePath(t)) : undefined;
    });
    expect(toHex(treeHash(N_LEAVES, read))).toBe(toHex(ORACLE.mth(0, N_LEAVES)));
  });

  it('restarts at tile boundaries (255, 256, 65536, 65537) continue like the one-shot builder', () => {
    for (const cut of [255, 256, 257, 65535, 65536, 65537]) {
      const a = new TileBuilder();
      a.append(LEAF_HASHES.slice(0, cut));
      const c = new TileBuilder(cut, a.edge());
      const rest = LEAF_HASHES.slice(cut, cut + 700);
      const wa = a.append(rest);
      const wc = c.append(rest);
      checkWrites(wc, cut, cut + rest.length);
      expect(wc.map((w) => [hashTilePath(w), toHex(w.data)])).toEqual(
        wa.map((w) => [hashTilePath(w), toHex(w.data)]),
      );
      expect(toHex(c.root())).toBe(toHex(ORACLE.mth(0, cut + rest.length)));
    }
  });

  it('constructor rejects an edge inconsistent with the size', () => {
    const h = new Uint8Array(32);
    const at = (n: number): Uint8Array[][] => {
      const b = new TileBuilder();
      b.append(LEAF_HASHES.slice(0, n));
      return b.edge();
    };
    const e299 = at(299);
    const e300 = at(300);
    expect(e300.map((r) => r.length)).toEqual([44, 1]);
    expect(toHex(new TileBuilder(300, e300).root())).toBe(toHex(ORACLE.mth(0, 300)));
    expectMerkleError(() => new TileBuilder(300, e299), 'invalid_argument');
    expectMerkleError(() => new TileBuilder(299, e300), 'invalid_argument');
    expectMerkleError(() => new TileBuilder(556, e300), 'invalid_argument'); // right level-0 count, wrong level 1
    expectMerkleError(() => new TileBuilder(0, [[h]]), 'invalid_argument');
    expectMerkleError(() => new TileBuilder(1), 'invalid_argument');
    expectMerkleError(() => new TileBuilder(256, [[]]), 'invalid_argument');
    expectMerkleError(() => new TileBuilder(256, [[], [h, h]]), 'invalid_argument');
    expectMerkleError(() => new TileBuilder(5, [[h, h, h, h, h], [h]]), 'invalid_argument');
    expectMerkleError(() => new TileBuilder(-1), 'invalid_argument');
    expectMerkleError(() => new TileBuilder(1.5, [[h]]), 'invalid_argument');
    expectMerkleError(() => new TileBuilder(2 ** 53), 'invalid_argument');
    // Consistent edges are accepted (trailing empty levels are harmless).
    expect(new TileBuilder(256, [[], [h]]).size).toBe(256);
    expect(new TileBuilder(5, [[h, h, h, h, h], []]).size).toBe(5);
  });

  it('append rejects a hash that is not 32 bytes', () => {
    const b = new TileBuilder();
    expectMerkleError(() => b.append([new Uint8Array(31)]), 'invalid_hash');
    expectMerkleError(() => b.append([new Uint8Array(33)]), 'invalid_hash');
  });
});

// ---------------------------------------------------------------------------------------------

describe('reading subtrees from tiles', () => {
  it('subtreeLocation follows reference §4.6', () => {
    expect(subtreeLocation({ level: 0, index: 300 })).toEqual({
      level: 0,
      index: 1,
      offset: 44,
      count: 1,
      height: 0,
    });
    expect(subtreeLocation({ level: 4, index: 17 })).toEqual({
      level: 0,
      index: 1,
      offset: 16,
      count: 16,
      height: 4,
    });
    expect(subtreeLocation({ level: 8, index: 272 })).toEqual({
      level: 1,
      index: 1,
      offset: 16,
      count: 1,
      height: 0,
    });
    expect(subtreeLocation({ level: 12, index: 16 })).toEqual({
      level: 1,
      index: 1,
      offset: 0,
      count: 16,
      height: 4,
    });
    expect(subtreeLocation({ level: 16, index: 0 })).toEqual({
      level: 2,
      index: 0,
      offset: 0,
      count: 1,
      height: 0,
    });
    expect(subtreeLocation({ level: 40, index: 2 ** 12 + 3 })).toEqual({
      level: 5,
      index: 16,
      offset: 3,
      count: 1,
      height: 0,
    });
  });

  it('tileSubtreeReader refuses missing, too-narrow and ragged tiles', () => {
    const tiles = new Map<string, Uint8Array>([['0/0', new Uint8Array(32 * 8)]]);
    const read = tileSubtreeReader((level, index) => tiles.get(`${level}/${index}`));
    expect(read([{ level: 3, index: 0 }])).toHaveLength(1);
    expectMerkleError(() => read([{ level: 4, index: 0 }]), 'invalid_argument'); // needs 16 hashes
    expectMerkleError(() => read([{ level: 0, index: 256 }]), 'invalid_argument'); // tile 0/1 missing
    tiles.set('0/0', new Uint8Array(33));
    expectMerkleError(() => read([{ level: 0, index: 0 }]), 'invalid_hash');
  });
});

// ---------------------------------------------------------------------------------------------

describe('entry bundles (reference §4.5)', () => {
  const leaves = VECTOR_LEAVES;

  it('the 8-leaf bundle and level-0 tile match the vector', () => {
    expect(toHex(encodeEntryBundle(leaves))).toBe(VECTOR_BUNDLE_HEX);
    expect(entryBundlePath(0, leaves.length)).toBe('tile/entries/000.p/8');
    expect(parseTilePath('tile/entries/000.p/8')).toEqual({ kind: 'entries', index: 0, width: 8 });

    const b = new TileBuilder();
    const writes = b.append(leaves.map((e) => leafHash(e)));
    expect(writes.map(hashTilePath)).toEqual(['tile/0/000.p/8']);
    const tile = writes[0]!.data;
    expect(tile.length).toBe(256);
    expect(toHex(tile)).toBe(VECTOR_LEAF_HASHES.join(''));
    // Leaf hashes are over the entry bytes without the length prefix.
    expect(toHex(tile.subarray(32 * 5, 32 * 6))).toBe(toHex(naiveLeafHash(unhex('40414243'))));
    expect(toHex(b.root())).toBe(VECTOR_ROOTS[8]);
  });
});

describe('interior nodes of full tiles', () => {
  it('hold every subtree hash of the tile, so readers with and without them agree', () => {
    const b = new TileBuilder();
    const data = new Map<string, Uint8Array>();
    const interior = new Map<string, Uint8Array>();
    const leaves = Array.from({ length: 70_000 }, (_, i) =>
      leafHash(new Uint8Array([i & 255, (i >> 8) & 255, i >> 16])),
    );
    for (let o = 0; o < leaves.length; o += 997) {
      for (const t of b.append(leaves.slice(o, o + 997))) {
        data.set(`${t.level}/${t.index}`, t.data);
        if (t.width === 256) {
          expect(t.interior?.length).toBe(255 * 32);
          interior.set(`${t.level}/${t.index}`, t.interior!);
        } else expect(t.interior).toBeUndefined();
      }
    }
    const plain = tileSubtreeReader((l, i) => data.get(`${l}/${i}`));
    const withInterior = tileSubtreeReader((l, i) => {
      const d = data.get(`${l}/${i}`);
      return d && { data: d, interior: interior.get(`${l}/${i}`) };
    });
    // Every subtree of heights 0..16 inside the first 65536 leaves, and the tree roots.
    const subtrees: { level: number; index: number }[] = [];
    for (let level = 0; level <= 16; level++) {
      for (let index = 0; index < 2 ** (16 - level); index += Math.max(1, 2 ** (12 - level)))
        subtrees.push({ level, index });
    }
    expect(withInterior(subtrees).map((h) => Buffer.from(h).toString('hex'))).toEqual(
      plain(subtrees).map((h) => Buffer.from(h).toString('hex')),
    );
    // The last 32 bytes are the tile root, the hash one level up.
    const t0 = interior.get('0/0')!;
    expect(t0.subarray(t0.length - 32)).toEqual(data.get('1/0')!.subarray(0, 32));
    // Level 1 of the interior is nodeHash of consecutive leaf hashes.
    expect(t0.subarray(0, 32)).toEqual(nodeHash(leaves[0]!, leaves[1]!));
    // A corrupted interior node changes the answer: readers do use it.
    const bad = new Uint8Array(t0);
    bad[0]! ^= 1;
    const corrupt = tileSubtreeReader((l, i) => ({
      data: data.get(`${l}/${i}`)!,
      interior: l === 0 && i === 0 ? bad : interior.get(`${l}/${i}`),
    }));
    expect(corrupt([{ level: 1, index: 0 }])[0]).not.toEqual(plain([{ level: 1, index: 0 }])[0]);
  });
});
