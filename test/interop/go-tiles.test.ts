/**
 * Interop with Go's reference tlog client (golang.org/x/mod/sumdb/{note,tlog}) through
 * test/interop/go/tlogcheck. Independent of our HTTP server: a log of 70,000 entries is built
 * here with TileBuilder, its tiles, entry bundles and Ed25519-signed checkpoints are served by a
 * minimal static server, and the Go verifier must accept it, must produce the very same
 * proofs we produce, must accept our proofs, and must reject tampered tiles, bundles, roots and
 * signatures.
 *
 * Without Go this file is skipped with a warning, unless OPA_TLOG_REQUIRE_GO=1 (then it fails).
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEntryBundle } from '../../src/core/bundle.js';
import { concatBytes, fromHex, toBase64, utf8 } from '../../src/core/bytes.js';
import { sha256 } from '../../src/core/hash.js';
import {
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  type SubtreeReader,
  treeHash,
} from '../../src/core/merkle.js';
import {
  entryBundlePath,
  hashTilePath,
  parseTilePath,
  TileBuilder,
  tileAtSize,
  tileSubtreeReader,
} from '../../src/core/tiles.js';
import { type Served as ServedFetch, serveFetch } from '../helpers/server.js';
import { goAvailable, runTlogCheck } from './go-harness.js';

// ---------------------------------------------------------------------------------------------
// The log key of reference §10.

const ORIGIN = 'example.com/log';
const SEED_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const VKEY = 'example.com/log+d455c521+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4';

function ed25519FromSeed(seedHex: string): { priv: KeyObject; pub: Uint8Array } {
  const seed = fromHex(seedHex)!;
  const pkcs8 = concatBytes(fromHex('302e020100300506032b657004220420')!, seed);
  const priv = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return { priv, pub: new Uint8Array(spki.subarray(spki.length - 32)) };
}

const LOG_KEY = ed25519FromSeed(SEED_HEX);
const OTHER_KEY = ed25519FromSeed('ff'.repeat(32));

function keyId(name: string, pub: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8(name), Uint8Array.of(0x0a, 0x01), pub)).subarray(0, 4);
}

/** A signed-note checkpoint (reference §2, §3): text, blank line, one Ed25519 signature line. */
function signCheckpoint(
  size: number,
  root: Uint8Array,
  key = LOG_KEY,
  origin = ORIGIN,
  keyName = ORIGIN,
): string {
  const text = `${origin}\n${size}\n${toBase64(root)}\n`;
  const sig = sign(null, Buffer.from(text, 'utf8'), key.priv);
  // The key ID is always computed from the log's public key, so a signature by another key is
  // "known but invalid" to the verifier rather than merely unknown.
  return `${text}\n— ${keyName} ${toBase64(concatBytes(keyId(keyName, LOG_KEY.pub), sig))}\n`;
}

// ---------------------------------------------------------------------------------------------
// The log: 70,000 entries, published at several sizes.

const N = 70_000;
const STATES = [1, 8, 255, 256, 257, 65_536, 65_537, N];
const entryOf = (i: number): Uint8Array => {
  if (i === 3) return new Uint8Array(0); // empty entry
  if (i === 300) return utf8('x'.repeat(1000)); // length prefix above 255
  return utf8(`go interop entry ${i}`);
};
const ENTRIES = Array.from({ length: N }, (_, i) => entryOf(i));
const LEAF_HASHES = ENTRIES.map((e) => leafHash(e));

interface Log {
  files: Map<string, Uint8Array>;
  roots: Map<number, Uint8Array>;
}

function buildLog(): Log {
  const files = new Map<string, Uint8Array>();
  const roots = new Map<number, Uint8Array>();
  const b = new TileBuilder();
  let size = 0;
  for (const s of STATES) {
    for (const w of b.append(LEAF_HASHES.slice(size, s))) files.set(hashTilePath(w), w.data);
    for (let n = Math.floor(size / 256); n * 256 < s; n++) {
      const width = Math.min(256, s - n * 256);
      files.set(entryBundlePath(n, width), encodeEntryBundle(ENTRIES.slice(n * 256, n * 256 + width)));
    }
    size = s;
    roots.set(s, b.root());
  }
  return { files, roots };
}

function readerAt(files: ReadonlyMap<string, Uint8Array>, size: number): SubtreeReader {
  return tileSubtreeReader((level, index) => {
    const t = tileAtSize(size, level, index);
    return t ? files.get(hashTilePath(t)) : undefined;
  });
}

// ---------------------------------------------------------------------------------------------
// A minimal static tlog-tiles server under the prefix /log.

interface Served {
  checkpoint: string;
  /** Per-path replacement bytes (tampering) or null (404). */
  override: Map<string, Uint8Array | null>;
}

/** The static server's handler: GET /log/checkpoint and /log/<tile path>, nothing else. */
function staticTiles(log: Log, served: Served): (req: Request) => Response {
  return (req) => {
    const url = new URL(req.url);
    const path = url.pathname.startsWith('/log/') ? url.pathname.slice(5) : undefined;
    if (req.method !== 'GET' || path === undefined) return new Response(null, { status: 404 });
    if (path === 'checkpoint') {
      return new Response(served.checkpoint, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
    if (!parseTilePath(path)) return new Response('bad path', { status: 400 });
    const body = served.override.has(path) ? served.override.get(path) : log.files.get(path);
    if (!body) return new Response(null, { status: 404 });
    return new Response(body, { headers: { 'content-type': 'application/octet-stream' } });
  };
}

// ---------------------------------------------------------------------------------------------

interface TilesReport {
  origin: string;
  size: number;
  root: string;
  tree_hash: string;
  inclusion:
    | { index: number; tree_size: number; bundle: string; leaf_hash: string; proof: string[] }[]
    | null;
  consistency: { from: number; to: number; from_root: string; to_root: string; proof: string[] }[] | null;
  fetches: number;
}

interface ProofsReport {
  results: { kind: string; ok: boolean; anchor: string; root: string; error?: string }[];
}

const REQUIRE_GO = process.env.OPA_TLOG_REQUIRE_GO === '1';
const HAVE_GO = goAvailable();

if (!HAVE_GO) {
  if (REQUIRE_GO) {
    it('Go toolchain with golang.org/x/mod/sumdb is available (OPA_TLOG_REQUIRE_GO=1)', () => {
      expect.fail('go / golang-golang-x-mod-dev not found, and OPA_TLOG_REQUIRE_GO=1');
    });
  } else {
    console.warn(
      'go-tiles.test.ts: SKIPPED, Go toolchain or golang.org/x/mod/sumdb not found ' +
        '(install golang-go golang-golang-x-mod-dev; set OPA_TLOG_REQUIRE_GO=1 to make this fatal)',
    );
  }
}

describe.skipIf(!HAVE_GO)("Go's sumdb/tlog client against a TileBuilder-built log", () => {
  let log: Log;
  let server: ServedFetch;
  let base: string;
  const served: Served = { checkpoint: '', override: new Map() };

  const publish = (size: number): void => {
    served.checkpoint = signCheckpoint(size, log.roots.get(size)!);
    served.override.clear();
  };
  const check = (args: string[], stdin?: string) =>
    runTlogCheck(['-url', base, '-vkey', VKEY, '-origin', ORIGIN, ...args], stdin);

  beforeAll(async () => {
    log = buildLog();
    server = await serveFetch(staticTiles(log, served));
    base = `${server.url}/log`;
    publish(N);
  });
  afterAll(async () => {
    await server.close();
  });

  it('our checkpoint signing reproduces the §10 vector (key, vkey and signature line)', () => {
    expect(Buffer.from(LOG_KEY.pub).toString('hex')).toBe(
      '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8',
    );
    expect(
      `${ORIGIN}+${Buffer.from(keyId(ORIGIN, LOG_KEY.pub)).toString('hex')}+${toBase64(concatBytes(Uint8Array.of(1), LOG_KEY.pub))}`,
    ).toBe(VKEY);
    const root8 = fromHex('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328')!;
    expect(signCheckpoint(8, root8)).toBe(
      'example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n' +
        '— example.com/log 1FXFIQghEbt48JV0nbbvyoj51oOGWi8PWVu51z3js1zWy2qLhh2zcvy6M2X+e8pEVRpGR/9z7MVVru29jIzLkdPuEwg=\n',
    );
  });

  it('verifies the 70,000-leaf log (partial tiles at levels 0, 1 and 2) and computes our proofs', async () => {
    expect([...log.files.keys()]).toEqual(
      expect.arrayContaining([
        'tile/0/273.p/112',
        'tile/1/001.p/17',
        'tile/2/000.p/1',
        'tile/entries/273.p/112',
      ]),
    );
    const indices = [0, 1, 3, 255, 256, 300, 65_535, 65_536, 69_887, 69_888, 69_999];
    const olds = [1, 2, 255, 256, 257, 4096, 65_535, 65_536, 65_537, 69_888, 69_999, N];
    const r = await check(['-index', indices.join(','), '-old', olds.join(',')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as TilesReport;
    const root = log.roots.get(N)!;
    expect(rep.origin).toBe(ORIGIN);
    expect(rep.size).toBe(N);
    expect(rep.root).toBe(toBase64(root));
    expect(rep.tree_hash).toBe(toBase64(root));

    // Go's ProveRecord/ProveTree from the same tiles must give exactly our proofs.
    const read = readerAt(log.files, N);
    expect(rep.inclusion!.map((p) => p.index)).toEqual(indices);
    for (const p of rep.inclusion!) {
      expect(p.leaf_hash).toBe(toBase64(LEAF_HASHES[p.index]!));
      expect(p.bundle).toBe(
        entryBundlePath(Math.floor(p.index / 256), Math.min(256, N - 256 * Math.floor(p.index / 256))),
      );
      expect(p.proof).toEqual(inclusionProof(p.index, N, read).map(toBase64));
    }
    expect(rep.consistency!.map((p) => p.from)).toEqual(olds);
    for (const p of rep.consistency!) {
      expect(p.from_root).toBe(toBase64(treeHash(p.from, read)));
      expect(p.proof).toEqual(consistencyProof(p.from, N, read).map(toBase64));
    }
  });

  it('verifies every published state (sizes 1 .. 70,000) with first/last indices and old sizes', async () => {
    for (const s of STATES) {
      publish(s);
      const indices = [...new Set([0, Math.floor(s / 2), s - 1])];
      const olds = [...new Set([1, Math.max(1, s - 1), s])];
      const r = await check(['-index', indices.join(','), '-old', olds.join(',')]);
      expect(r.stderr, `size ${s}`).toBe('');
      expect(r.code, `size ${s}`).toBe(0);
      const rep = JSON.parse(r.stdout) as TilesReport;
      expect(rep.size).toBe(s);
      expect(rep.tree_hash).toBe(toBase64(log.roots.get(s)!));
      const read = readerAt(log.files, s);
      for (const p of rep.inclusion!) expect(p.proof).toEqual(inclusionProof(p.index, s, read).map(toBase64));
      for (const p of rep.consistency!)
        expect(p.proof).toEqual(consistencyProof(p.from, s, read).map(toBase64));
    }
    publish(N);
  });

  it('proves every index of a 257-leaf state (both partial level-0 and level-1 tiles)', async () => {
    publish(257);
    const r = await check(['-all-indices', '-old', Array.from({ length: 257 }, (_, i) => i + 1).join(',')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as TilesReport;
    expect(rep.inclusion).toHaveLength(257);
    expect(rep.consistency).toHaveLength(257);
    publish(N);
  });

  it('accepts proofs produced by our code (tlog.CheckRecord / tlog.CheckTree)', async () => {
    const read = readerAt(log.files, N);
    const inputs: object[] = [];
    for (const index of [0, 3, 300, 65_536, 69_999]) {
      inputs.push({
        index,
        tree_size: N,
        leaf_hash: toBase64(LEAF_HASHES[index]!),
        proof: inclusionProof(index, N, read).map(toBase64),
      });
    }
    // An older tree size: Go derives its root from tiles authenticated against the checkpoint.
    const read65537 = readerAt(log.files, 65_537);
    inputs.push({
      index: 65_536,
      tree_size: 65_537,
      leaf_hash: toBase64(LEAF_HASHES[65_536]!),
      proof: inclusionProof(65_536, 65_537, read65537).map(toBase64),
    });
    for (const from of [0, 1, 256, 65_536, 69_999, N]) {
      inputs.push({
        from,
        to: N,
        from_root: toBase64(from === 0 ? EMPTY_ROOT : treeHash(from, read)),
        proof: consistencyProof(from, N, read).map(toBase64),
      });
    }
    const r = await check(['-mode', 'proofs'], inputs.map((i) => JSON.stringify(i)).join('\n'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as ProofsReport;
    expect(rep.results).toHaveLength(inputs.length);
    expect(rep.results.every((x) => x.ok)).toBe(true);
    expect(rep.results[5]!.anchor).toBe('tiles');
    expect(rep.results[0]!.anchor).toBe('checkpoint');

    // Offline anchor (-size/-root), as a JSON array.
    const off = await runTlogCheck(
      ['-mode', 'proofs', '-size', String(N), '-root', toBase64(log.roots.get(N)!)],
      JSON.stringify(inputs.slice(0, 5)),
    );
    expect(off.stderr).toBe('');
    expect(off.code).toBe(0);

    // A single flipped bit in one proof element, a wrong index, a wrong old root: rejected.
    const first = inputs[0] as { proof: string[] };
    const flipped = flipFirstBitB64(first.proof[3]!);
    const bad = [
      { ...first, proof: [...first.proof.slice(0, 3), flipped, ...first.proof.slice(4)] },
      { ...(inputs[1] as object), index: 4 },
      { ...(inputs[8] as object), from_root: toBase64(log.roots.get(257)!) },
      { ...(inputs[1] as object), proof: [] },
    ];
    for (const b of bad) {
      const rb = await check(['-mode', 'proofs'], JSON.stringify(b));
      expect(rb.code, JSON.stringify(b)).toBe(1);
      expect(rb.stderr).toMatch(/^tlogcheck: proof 0/);
    }
  });

  describe('rejects a lying log', () => {
    const flipByte = (path: string, at = 7): Uint8Array => {
      const data = log.files.get(path)!.slice();
      data[at] = data[at]! ^ 0x01;
      return data;
    };

    it('baseline for the tampering cases succeeds', async () => {
      publish(N);
      const r = await check(['-index', '0,69999', '-old', '300']);
      expect(r.code).toBe(0);
    });

    const cases: { name: string; setup: () => void; args: string[]; stderr: RegExp }[] = [
      // Note on full tiles below the right edge: Go's tileHashReader (x/mod 0.7.0) only
      // parent-authenticates tiles at positions >= len(stx) (the number of tree-hash *indexes*,
      // not tiles), so with several tree-hash subtrees in one tile some requested tiles escape
      // that step. Their hashes still end up in a proof checked against the signed root, so a
      // tampered hash that a proof uses is always caught, by one check or the other.
      {
        name: 'a flipped byte in a full level-0 tile',
        setup: () => served.override.set('tile/0/000', flipByte('tile/0/000')),
        args: ['-index', '1'], // leaf 0's hash (tampered) is leaf 1's sibling
        stderr: /downloaded inconsistent tile|CheckRecord\(index 1, size 70000\): invalid transparency proof/,
      },
      {
        name: 'a flipped byte in a full level-0 tile deep inside the tree',
        setup: () => served.override.set('tile/0/100', flipByte('tile/0/100', 32 * 255 + 31)),
        args: ['-index', '25854'], // leaf 25855 (tampered) is its sibling
        stderr:
          /downloaded inconsistent tile|CheckRecord\(index 25854, size 70000\): invalid transparency proof/,
      },
      {
        name: 'a flipped byte in the partial level-0 tile',
        setup: () => served.override.set('tile/0/273.p/112', flipByte('tile/0/273.p/112', 32 * 111)),
        args: [],
        stderr: /downloaded inconsistent tile/,
      },
      {
        name: 'a flipped byte in a full level-1 tile',
        setup: () => served.override.set('tile/1/000', flipByte('tile/1/000', 32 * 200 + 5)),
        // MTH of leaves [51200, 51456) = tile/1/000 hash 200 is in the proof for leaf 51456
        // and in the old root of size 51456.
        args: ['-index', '51456', '-old', '51456'],
        stderr: /downloaded inconsistent tile|invalid transparency proof/,
      },
      {
        name: 'a flipped byte in the level-2 partial tile',
        setup: () => served.override.set('tile/2/000.p/1', flipByte('tile/2/000.p/1')),
        args: [],
        stderr: /downloaded inconsistent tile/,
      },
      {
        name: 'a truncated tile',
        setup: () =>
          served.override.set('tile/1/001.p/17', log.files.get('tile/1/001.p/17')!.subarray(0, 32 * 16)),
        args: [],
        stderr: /has 512 bytes, want 544/,
      },
      {
        name: 'a missing tile',
        setup: () => served.override.set('tile/0/100', null),
        args: ['-index', '25600'],
        stderr: /HTTP 404/,
      },
      {
        name: 'a changed entry in a bundle',
        setup: () => {
          const bundle = log.files.get('tile/entries/001')!.slice();
          bundle[bundle.length - 1] = bundle[bundle.length - 1]! ^ 0x20;
          served.override.set('tile/entries/001', bundle);
        },
        args: ['-index', '511'],
        stderr: /CheckRecord\(index 511, size 70000\): invalid transparency proof/,
      },
      {
        name: 'an entry bundle with one entry missing',
        setup: () =>
          served.override.set(
            'tile/entries/273.p/112',
            log.files.get('tile/entries/273.p/112')!.subarray(0, 24),
          ),
        args: ['-index', '69888'],
        stderr: /entry bundle holds 1 entries, want 112/,
      },
      {
        name: 'a correctly signed checkpoint with a wrong root',
        setup: () => {
          served.checkpoint = signCheckpoint(N, log.roots.get(65_537)!);
        },
        args: [],
        stderr: /downloaded inconsistent tile/,
      },
      {
        name: 'a correctly signed checkpoint with a wrong size',
        setup: () => {
          served.checkpoint = signCheckpoint(65_537, log.roots.get(N)!);
        },
        args: [],
        stderr: /downloaded inconsistent tile/,
      },
      {
        name: 'a checkpoint signed by another key',
        setup: () => {
          served.checkpoint = signCheckpoint(N, log.roots.get(N)!, OTHER_KEY);
        },
        args: [],
        stderr: /checkpoint signature: invalid signature for key example\.com\/log/,
      },
      {
        name: 'a checkpoint whose text was altered after signing',
        setup: () => {
          served.checkpoint = signCheckpoint(N, log.roots.get(N)!).replace('70000', '69999');
        },
        args: [],
        stderr: /checkpoint signature: invalid signature/,
      },
      {
        name: 'a checkpoint signed under another key name',
        setup: () => {
          served.checkpoint = signCheckpoint(N, log.roots.get(N)!, LOG_KEY, ORIGIN, 'example.com/other');
        },
        args: [],
        stderr: /checkpoint signature: note has no verifiable signatures/,
      },
      {
        name: 'a validly signed checkpoint for another origin',
        setup: () => {
          served.checkpoint = signCheckpoint(N, log.roots.get(N)!, LOG_KEY, 'example.com/other');
        },
        args: [],
        stderr: /checkpoint origin "example\.com\/other", want "example\.com\/log"/,
      },
    ];

    for (const c of cases) {
      it(`fails on ${c.name}`, async () => {
        publish(N);
        c.setup();
        const r = await check(c.args);
        publish(N);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(c.stderr);
      });
    }
  });

  it('Go parses tile paths exactly like parseTilePath (valid paths) and rejects our rejects', async () => {
    const valid: string[] = [];
    let x = 12345;
    const next = (): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x >>> 1;
    };
    for (let i = 0; i < 500; i++) {
      const index = (next() % 10 ** (1 + (i % 12))) * (i % 3 === 0 ? 1 : 1000);
      const width = i % 4 === 0 ? 256 : 1 + (next() % 255);
      valid.push(
        i % 5 === 0 ? entryBundlePath(index, width) : hashTilePath({ level: next() % 64, index, width }),
      );
    }
    const invalid = [
      'tile/0/x000/001',
      'tile/0/1',
      'tile/0/0001',
      'tile/0/001.p/0',
      'tile/0/001.p/256',
      'tile/0/001.p/007',
      'tile/01/000',
      'tile/0/001/002',
      'tile/entries/x001',
      'tile/0/000/',
      'tile//000',
      'tile/0/x001.p/5/000',
      'tile/entries/000.p/256',
    ];
    const r = await runTlogCheck(['-mode', 'paths'], [...valid, ...invalid].join('\n'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = JSON.parse(r.stdout) as {
      path: string;
      ok: boolean;
      kind: string;
      level: number;
      index: number;
      width: number;
    }[];
    expect(got).toHaveLength(valid.length + invalid.length);
    for (const g of got.slice(0, valid.length)) {
      const ours = parseTilePath(g.path)!;
      expect(ours, g.path).toBeDefined();
      expect(g.ok, g.path).toBe(true);
      expect({
        kind: g.kind,
        index: g.index,
        width: g.width,
        level: ours.kind === 'hash' ? g.level : undefined,
      }).toEqual({
        kind: ours.kind,
        index: ours.index,
        width: ours.width,
        level: ours.kind === 'hash' ? ours.level : undefined,
      });
    }
    for (const g of got.slice(valid.length)) {
      expect(parseTilePath(g.path), g.path).toBeUndefined();
      expect(g.ok, g.path).toBe(false);
    }
  });
});

/** Flips the lowest bit of the first byte of a base64 hash. */
function flipFirstBitB64(s: string): string {
  const b = Buffer.from(s, 'base64');
  b[0] = b[0]! ^ 1;
  return b.toString('base64');
}
