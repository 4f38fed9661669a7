/**
 * The HTTP read API as a tiled-log client sees it (C2SP tlog-tiles), and the minimal append
 * API, through hono's in-process request path.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { decodeEntry } from '../../src/core/entry.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/core/merkle.js';
import { entryBundlePath, hashTilePath } from '../../src/core/tiles.js';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { acceptsGzip } from '../../src/http/tiles.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { engines } from '../helpers/engines.js';
import { openTestLog, TEST_VERIFIER } from '../helpers/log.js';
import { parseBundle } from '../helpers/server.js';

let log: TransparencyLog | undefined;
let location = '';
afterEach(async () => {
  await log?.close();
  log = undefined;
});

describe.each(engines)('$name', (engine) => {
  async function setup(n: number, over = {}) {
    location = await engine.location();
    log = await openTestLog(location, over);
    if (n > 0) {
      await log.appendEvents(
        Array.from({ length: n }, (_, i) => ({ kind: 'event', source: 's', id: `${i}`, event: { i } })),
      );
    }
    await log.signNow();
    return { log, app: createApp(log, { ...DEFAULT_APP_OPTIONS, maxBodyBytes: 4096, maxItems: 100 }) };
  }

  async function json(res: Response) {
    return (await res.json()) as Record<string, unknown>;
  }

  describe('read API', () => {
    test('/checkpoint is the signed note, uncached, readable cross-origin', async () => {
      const { app } = await setup(3);
      const res = await app.request('/checkpoint');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const cp = openCheckpoint(await res.text(), TEST_VERIFIER).checkpoint;
      expect(cp.size).toBe(3);
    });

    test('tiles and bundles: full, partial, prefixes of grown tiles, immutable caching', async () => {
      const { app, log } = await setup(300);
      const full = await app.request(`/${hashTilePath({ level: 0, index: 0, width: 256 })}`);
      expect(full.status).toBe(200);
      expect(full.headers.get('content-type')).toBe('application/octet-stream');
      expect(full.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const tile0 = new Uint8Array(await full.arrayBuffer());
      expect(tile0.length).toBe(8192);
      const partial = new Uint8Array(await (await app.request('/tile/0/001.p/44')).arrayBuffer());
      expect(partial.length).toBe(44 * 32);
      const level1 = await app.request('/tile/1/000.p/1');
      expect(level1.status).toBe(200);
      // An older, narrower partial path still serves the same bytes (a prefix).
      const older = new Uint8Array(await (await app.request('/tile/0/001.p/10')).arrayBuffer());
      expect(older).toEqual(partial.subarray(0, 320));
      const bundle = parseBundle(
        new Uint8Array(await (await app.request(`/${entryBundlePath(1, 44)}`)).arrayBuffer()),
      );
      expect(bundle.length).toBe(44);
      bundle.forEach((e, i) => {
        expect(leafHash(e)).toEqual(partial.subarray(i * 32, i * 32 + 32));
        expect(decodeEntry(e).id).toBe(`${256 + i}`);
      });
      expect(log.latest().size).toBe(300);
    });

    test('tiles beyond the tree are 404, malformed paths 400, both as JSON errors', async () => {
      const { app } = await setup(300);
      for (const p of [
        '/tile/0/001',
        '/tile/0/001.p/45',
        '/tile/0/002.p/1',
        '/tile/1/000',
        '/tile/entries/001.p/45',
        '/tile/2/000.p/1',
      ]) {
        const res = await app.request(p);
        expect(res.status, p).toBe(404);
        expect((await json(res)).error).toBe('tile_not_found');
      }
      for (const p of [
        '/tile/0/1',
        '/tile/0/x000/001',
        '/tile/0/001.p/256',
        '/tile/0/001.p/0',
        '/tile/64/000',
        '/tile/0/%30%30%31',
        '/tile/',
      ]) {
        const res = await app.request(p);
        expect(res.status, p).toBe(400);
        expect(await json(res)).toMatchObject({ error: 'invalid_tile_path' });
      }
    });

    test('an empty log has a checkpoint and no tiles', async () => {
      const { app } = await setup(0);
      expect(
        openCheckpoint(await (await app.request('/checkpoint')).text(), TEST_VERIFIER).checkpoint.size,
      ).toBe(0);
      expect((await app.request('/tile/0/000.p/1')).status).toBe(404);
    });
  });

  describe('POST /v1/entries', () => {
    const post = (app: ReturnType<typeof createApp>, body: string, headers: Record<string, string> = {}) =>
      app.request('/v1/entries', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      });

    test('one object or an array; idempotent with Idempotency-Key', async () => {
      const { app, log } = await setup(0);
      expect(await json(await post(app, '{"a":1}'))).toMatchObject({ indices: [0], duplicates: [false] });
      const first = await json(await post(app, '[{"b":1},{"b":2}]', { 'idempotency-key': 'k1' }));
      expect(first).toMatchObject({ indices: [1, 2], duplicates: [false, false] });
      const retry = await json(await post(app, '[{"b":1},{"b":2}]', { 'idempotency-key': 'k1' }));
      expect(retry).toMatchObject({ indices: [1, 2], duplicates: [true, true] });
      expect(log.committedSize).toBe(3);
    });

    test('bad input is refused with a JSON error and changes nothing', async () => {
      const { app, log } = await setup(0);
      const cases: [string, Record<string, string>, number, string][] = [
        ['{"a":', {}, 400, 'invalid_json'],
        ['[1,2]', {}, 400, 'invalid_entry'],
        ['[{"a":1},"x"]', {}, 400, 'invalid_entry'],
        ['[]', {}, 400, 'empty_batch'],
        ['{"a":"\\ud800"}', {}, 400, 'invalid_entry'],
        [`${'{"a":'.repeat(600)}1${'}'.repeat(600)}`, {}, 400, 'invalid_entry'],
        ['{"a":1}', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
        [`{"a":"${'x'.repeat(5000)}"}`, {}, 413, 'body_too_large'],
        [JSON.stringify(Array.from({ length: 101 }, () => ({}))), {}, 413, 'too_many_entries'],
        ['{"a":1}', { 'idempotency-key': '' }, 400, 'invalid_idempotency_key'],
      ];
      for (const [body, headers, status, code] of cases) {
        const res = await post(app, body, headers);
        expect(res.status, body.slice(0, 40)).toBe(status);
        const b = await json(res);
        expect(b.error).toBe(code);
        expect(typeof b.detail).toBe('string');
      }
      expect(log.committedSize).toBe(0);
    });

    test('a full queue answers 503 with Retry-After', async () => {
      const { app } = await setup(0, { sequencer: { maxQueue: 2, maxDelayMs: 200 } });
      const slow = post(app, '[{"a":1},{"a":2}]');
      const res = await post(app, '[{"a":3}]');
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await json(res)).error).toBe('overloaded');
      expect((await slow).status).toBe(200);
    });

    test('unknown routes are JSON 404s', async () => {
      const { app } = await setup(0);
      const res = await app.request('/nope');
      expect(res.status).toBe(404);
      expect((await json(res)).error).toBe('not_found');
    });
  });

  describe('JSON proof API', () => {
    test('inclusion and consistency proofs verify against the signed checkpoints', async () => {
      const { app, log } = await setup(300);
      const cp300 = openCheckpoint(log.latest().note, TEST_VERIFIER).checkpoint;
      await log.appendEvents(
        Array.from({ length: 77 }, (_, i) => ({ kind: 'event', source: 't', id: `${i}`, event: { i } })),
      );
      await log.signNow();
      const latest = openCheckpoint(
        await (await app.request('/checkpoint')).text(),
        TEST_VERIFIER,
      ).checkpoint;
      expect(latest.size).toBe(377);
      for (const [index, size] of [
        [0, 377],
        [376, 377],
        [255, 300],
        [299, 300],
      ] as const) {
        const q = size === 377 ? `index=${index}` : `index=${index}&tree_size=${size}`;
        const body = (await json(await app.request(`/v1/proof/inclusion?${q}`))) as {
          leaf_hash: string;
          root_hash: string;
          proof: string[];
          tree_size: number;
          checkpoint: string;
        };
        expect(body.tree_size).toBe(size);
        const root = size === 377 ? latest.rootHash : cp300.rootHash;
        expect(body.root_hash).toBe(Buffer.from(root).toString('base64'));
        expect(body.leaf_hash).toBe(Buffer.from(leafHash((await log.entry(index))!)).toString('base64'));
        verifyInclusion(
          index,
          size,
          leafHash((await log.entry(index))!),
          body.proof.map((p) => new Uint8Array(Buffer.from(p, 'base64'))),
          root,
        );
        expect(openCheckpoint(body.checkpoint, TEST_VERIFIER).checkpoint.size).toBe(size);
      }
      // By leaf hash (base64, URL-escaped, or hex) instead of index.
      const lh = leafHash((await log.entry(299))!);
      for (const q of [
        encodeURIComponent(Buffer.from(lh).toString('base64')),
        Buffer.from(lh).toString('hex'),
      ]) {
        const byHash = (await json(
          await app.request(`/v1/proof/inclusion?leaf_hash=${q}&tree_size=300`),
        )) as {
          index: number;
          proof: string[];
        };
        expect(byHash.index).toBe(299);
        verifyInclusion(
          299,
          300,
          lh,
          byHash.proof.map((p) => new Uint8Array(Buffer.from(p, 'base64'))),
          cp300.rootHash,
        );
      }
      // A leaf beyond tree_size is not found there.
      const late = Buffer.from(leafHash((await log.entry(350))!)).toString('hex');
      expect((await app.request(`/v1/proof/inclusion?leaf_hash=${late}&tree_size=300`)).status).toBe(404);
      expect((await app.request(`/v1/proof/inclusion?leaf_hash=${late}`)).status).toBe(200);
      const cons = (await json(await app.request('/v1/proof/consistency?from=300'))) as {
        proof: string[];
        to: number;
      };
      expect(cons.to).toBe(377);
      verifyConsistency(
        300,
        377,
        cp300.rootHash,
        latest.rootHash,
        cons.proof.map((p) => new Uint8Array(Buffer.from(p, 'base64'))),
      );
    });

    test('storage that lost a signed tile is a server fault: 500, never 400 or 404', async () => {
      const { app } = await setup(20);
      // A damaged database: level-0 tile 0 (tile_key 0) vanished after the log opened.
      await engine.sql(location, 'DELETE FROM tiles WHERE tile_key = 0');
      for (const path of [
        '/v1/proof/inclusion?index=3',
        '/v1/entries/3',
        `/${hashTilePath({ level: 0, index: 0, width: 20 })}`,
      ]) {
        const res = await app.request(path);
        expect(res.status, path).toBe(500);
        expect((await json(res)).error, path).toBe('storage_inconsistent');
      }
    });

    test('bad proof parameters are 400s with JSON errors', async () => {
      const { app } = await setup(10);
      const cases: [string, string][] = [
        ['/v1/proof/inclusion', 'missing_parameter'],
        ['/v1/proof/inclusion?index=01', 'invalid_parameter'],
        ['/v1/proof/inclusion?index=-1', 'invalid_parameter'],
        ['/v1/proof/inclusion?index=1e3', 'invalid_parameter'],
        ['/v1/proof/inclusion?index=10', 'index_out_of_range'],
        ['/v1/proof/inclusion?index=1&tree_size=11', 'tree_size_too_large'],
        ['/v1/proof/inclusion?index=99999999999999999999', 'invalid_parameter'],
        ['/v1/proof/inclusion?leaf_hash=abc', 'invalid_parameter'],
        ['/v1/proof/inclusion?index=1&leaf_hash=AAAA', 'invalid_parameter'],
        ['/v1/proof/consistency', 'missing_parameter'],
        ['/v1/proof/consistency?from=5&to=4', 'invalid_parameter'],
        ['/v1/proof/consistency?from=5&to=11', 'tree_size_too_large'],
      ];
      for (const [path, code] of cases) {
        const res = await app.request(path);
        expect(res.status, path).toBe(400);
        expect((await json(res)).error, path).toBe(code);
      }
    });
  });

  describe('compression', () => {
    test('entry bundles are gzipped for clients that accept it, with the same bytes inside', async () => {
      const { app } = await setup(300);
      const plain = new Uint8Array(await (await app.request('/tile/entries/000')).arrayBuffer());
      const res = await app.request('/tile/entries/000', { headers: { 'accept-encoding': 'gzip' } });
      expect(res.headers.get('content-encoding')).toBe('gzip');
      const { gunzipSync } = await import('node:zlib');
      const inflated = new Uint8Array(gunzipSync(new Uint8Array(await res.arrayBuffer())));
      expect(inflated).toEqual(plain);
      expect(plain.length).toBeGreaterThan(1000);
      for (const h of ['gzip;q=0', 'br', 'identity', '']) {
        const r = await app.request('/tile/entries/000', { headers: { 'accept-encoding': h } });
        expect(r.headers.get('content-encoding'), h).toBeNull();
      }
      expect(acceptsGzip('br, gzip;q=0.5')).toBe(true);
      expect(acceptsGzip('GZIP')).toBe(true);
      expect(acceptsGzip('gzip; q=0.0')).toBe(false);
    });
  });
});
