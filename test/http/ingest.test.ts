/**
 * OPA decision-log ingestion as OPA sends it, decision lookup verified from the response
 * alone, search, erasure, access control and the Kubernetes audit webhook.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { bytesEqual, fromBase64, toBase64 } from '../../src/core/bytes.js';
import { decodeDeterministic } from '../../src/core/cbor.js';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { decodeEntry } from '../../src/core/entry.js';
import { leafHash, verifyInclusion } from '../../src/core/merkle.js';
import { parseNote } from '../../src/core/note.js';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { TokenStore } from '../../src/http/auth.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { Retention } from '../../src/log/retention.js';
import { engines } from '../helpers/engines.js';
import { openTestLog, TEST_VERIFIER, tempDir } from '../helpers/log.js';

const SAMPLES = join(import.meta.dirname, '..', 'fixtures', 'opa');
const sample = (name: string) => readFileSync(join(SAMPLES, name));

const INGEST = 'ingest:ingest-token-0123456789';
const READ = 'read:read-token-0123456789abcd';
const ADMIN = 'admin:admin-token-0123456789ab';
const bearer = (spec: string) => ({ authorization: `Bearer ${spec.slice(spec.indexOf(':') + 1)}` });

let log: TransparencyLog | undefined;
let location = '';
afterEach(async () => {
  await log?.close();
  log = undefined;
});

describe.each(engines)('$name', (engine) => {
  async function setup(opts: { tokens?: string[]; maxDecompressed?: number; now?: () => number } = {}) {
    location = await engine.location();
    log = await openTestLog(location, {
      signIntervalMs: 20,
      ...(opts.now ? { now: opts.now } : {}),
    });
    const app = createApp(log, {
      ...DEFAULT_APP_OPTIONS,
      tokens: new TokenStore((opts.tokens ?? []).join('\n'), []),
      ingest: {
        ...DEFAULT_APP_OPTIONS.ingest,
        maxCompressedBytes: 256 * 1024,
        maxDecompressedBytes: opts.maxDecompressed ?? 4 * 1024 * 1024,
        maxEvents: 1000,
        maxDepth: 64,
      },
      checkpointWaitMs: 2000,
    });
    return { log, app };
  }

  /** Headers exactly as OPA sends them. */
  const OPA_HEADERS = {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
    'user-agent': 'Open-Policy-Agent/1.4.2 (linux, amd64)',
    'accept-encoding': 'gzip',
  };

  type App = Awaited<ReturnType<typeof setup>>['app'];
  const upload = (
    app: App,
    body: Uint8Array | string,
    headers: Record<string, string> = OPA_HEADERS,
    path = '/logs',
  ) => app.request(path, { method: 'POST', body: body as Uint8Array<ArrayBuffer> | string, headers });

  /** Everything that a refused request must leave untouched. */
  async function snapshot(l: TransparencyLog) {
    const count = async (t: string) =>
      Number((await engine.sql(location, `SELECT count(*) AS n FROM ${t}`))[0]!.n);
    const tiles =
      engine.name === 'sqlite'
        ? 'SELECT group_concat(hex(data)) AS h FROM tiles'
        : "SELECT string_agg(encode(data, 'hex'), ',' ORDER BY tile_key) AS h FROM tiles";
    // SQLite keeps full tiles and bundles in its blob file, where places say.
    const places = engine.name === 'sqlite' ? ['tile_places', 'bundle_places'] : [];
    return {
      size: l.committedSize,
      tables: await Promise.all(
        ['entries', 'payloads', 'ids', 'tiles', 'leaf_meta', 'leaf_revisions', 'erasures', ...places].map(
          count,
        ),
      ),
      tiles: (await engine.sql(location, tiles))[0]!.h,
    };
  }

  const b64 = (s: string) => fromBase64(s)!;

  /** Verifies a lookup response using nothing but its own bytes and the log's verifier key. */
  function verifyLookup(body: Record<string, unknown>) {
    const entry = b64(body.entry as string);
    const e = decodeEntry(entry);
    const cp = openCheckpoint(body.checkpoint as string, TEST_VERIFIER).checkpoint;
    const leaf = leafHash(entry);
    verifyInclusion(body.index as number, cp.size, leaf, (body.proof as string[]).map(b64), cp.rootHash);
    if (body.payload !== null) {
      const salt = b64(body.salt as string);
      const payload = b64(body.payload as string);
      const c = createHash('sha256').update(salt).update(payload).digest();
      expect('c' in e && bytesEqual(c, e.c)).toBe(true);
    }
    return { entry: e, checkpoint: cp };
  }

  describe('POST /logs as OPA sends it', () => {
    test('the sample upload becomes 50 leaves; a resend adds none and returns the same indices', async () => {
      const { app, log } = await setup();
      const res = await upload(app, sample('upload-batch.json.gz'));
      expect(res.status).toBe(200);
      const first = (await res.json()) as { accepted: number; appended: number; indices: number[] };
      expect(first).toMatchObject({ accepted: 50, appended: 50, duplicates: 0 });
      expect(first.indices).toEqual(Array.from({ length: 50 }, (_, i) => i));
      const again = (await (await upload(app, sample('upload-batch.json.gz'))).json()) as typeof first;
      expect(again).toMatchObject({ accepted: 50, appended: 0, duplicates: 50 });
      expect(again.indices).toEqual(first.indices);
      // The old newline framing and an uncompressed, pretty body carry the same events.
      const legacy = (await (
        await upload(app, sample('upload-batch.legacy-newlines.json.gz'))
      ).json()) as typeof first;
      expect(legacy).toMatchObject({ appended: 0, duplicates: 50 });
      const pretty = await upload(app, sample('upload-batch.pretty.json'), {
        'content-type': 'application/json',
      });
      expect(((await pretty.json()) as typeof first).indices).toEqual(first.indices);
      expect(log.committedSize).toBe(50);
      // Each leaf names its OPA instance and decision.
      const events = JSON.parse(sample('upload-batch.json').toString()) as {
        decision_id: string;
        labels: { id: string };
      }[];
      for (const [i, ev] of events.entries()) {
        const e = decodeEntry((await log.entry(i))!);
        expect([e.kind, e.src, e.id]).toEqual(['opa.decision', ev.labels.id, ev.decision_id]);
      }
    });

    test('an upload parsed in pieces becomes its leaves in body order, whole; its resend only duplicates', async () => {
      const { app, log } = await setup();
      // 900 decisions, ~140 KiB of JSON: several pieces of the byte guard (~32 KiB each), each
      // turned into leaves as it is parsed (log.eventAppender), appended as one request.
      const events = Array.from({ length: 900 }, (_, i) => ({
        decision_id: `piece-${i}`,
        labels: { id: `opa-${i % 3}` },
        input: { i, pad: 'y'.repeat(80) },
      }));
      const body = gzipSync(JSON.stringify(events));
      const first = (await (await upload(app, body)).json()) as { appended: number; indices: number[] };
      expect(first.appended).toBe(900);
      expect(first.indices).toEqual(events.map((_, i) => i));
      for (const i of [0, 1, 449, 450, 899]) {
        const e = decodeEntry((await log.entry(i))!);
        expect([e.src, e.id]).toEqual([events[i]!.labels.id, events[i]!.decision_id]);
      }
      const again = (await (await upload(app, body)).json()) as typeof first & { duplicates: number };
      expect(again).toMatchObject({ appended: 0, duplicates: 900 });
      expect(again.indices).toEqual(first.indices);
      expect(log.committedSize).toBe(900);
    });

    test('partitions (/logs/<name>) are accepted too', async () => {
      const { app } = await setup();
      expect((await upload(app, sample('upload-batch.json.gz'), OPA_HEADERS, '/logs/tenant-a')).status).toBe(
        200,
      );
    });

    test('a decision is verifiable from the lookup response alone', async () => {
      const { app } = await setup();
      await upload(app, sample('upload-batch.json.gz'));
      const events = JSON.parse(sample('upload-batch.json').toString()) as Record<string, unknown>[];
      const want = events[7]!;
      const res = await app.request(`/v1/decisions/${want.decision_id}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      const { entry } = verifyLookup(body);
      expect(entry.id).toBe(want.decision_id);
      expect(body.event).toEqual(want);
      // The payload is the deterministic CBOR of exactly that event.
      expect(decodeDeterministic(b64(body.payload as string))).toEqual(want);
      // The tlog-proof file verifies on its own too.
      const proofText = await (await app.request(`/v1/decisions/${want.decision_id}/tlog-proof`)).text();
      expect(proofText).toBe(body.tlog_proof);
      const [head, note] = [
        proofText.slice(0, proofText.indexOf('\n\n') + 1),
        proofText.slice(proofText.indexOf('\n\n') + 2),
      ];
      const lines = head.trimEnd().split('\n');
      expect(lines[0]).toBe('c2sp.org/tlog-proof@v1');
      const entryBytes = b64(lines[1]!.replace(/^extra /, ''));
      const index = Number(lines[2]!.replace(/^index /, ''));
      const cp = openCheckpoint(note, TEST_VERIFIER).checkpoint;
      verifyInclusion(index, cp.size, leafHash(entryBytes), lines.slice(3).map(b64), cp.rootHash);
      expect(parseNote(note).signatures.length).toBeGreaterThan(0);
    });
  });

  /** 400 decisions of ~150 bytes (2+ pieces of the byte guard) with `bad` as element `at`. */
  const large = (at: number, bad: unknown) =>
    JSON.stringify(
      Array.from({ length: 400 }, (_, i) =>
        i === at ? bad : { decision_id: `big-${i}`, input: { pad: 'x'.repeat(100) } },
      ),
    );

  describe('odd and hostile uploads', () => {
    test('events missing ids or fields are kept and flagged; a resend still deduplicates', async () => {
      const { app, log } = await setup();
      const body = gzipSync(
        JSON.stringify([{ labels: { id: 'x' }, input: { a: 1 } }, { decision_id: 'd-1' }, {}]),
      );
      const r1 = (await (await upload(app, body)).json()) as { indices: number[] };
      expect(r1.indices).toEqual([0, 1, 2]);
      const r2 = (await (await upload(app, body)).json()) as { indices: number[]; duplicates: number };
      expect(r2).toMatchObject({ indices: [0, 1, 2], duplicates: 3 });
      const e0 = decodeEntry((await log.entry(0))!);
      expect(e0.flags).toEqual(['missing_decision_id', 'missing_timestamp']);
      expect(e0.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(decodeEntry((await log.entry(1))!).flags).toEqual(['missing_labels', 'missing_timestamp']);
    });

    test('integers beyond 2^53 are committed exactly', async () => {
      const { app } = await setup();
      const raw =
        '[{"labels":{"id":"i"},"decision_id":"big","timestamp":"2025-01-01T00:00:00Z","result":1750000000123456789}]';
      expect((await upload(app, gzipSync(raw))).status).toBe(200);
      const text = await (await app.request('/v1/decisions/big')).text();
      expect(text).toContain('"result":1750000000123456789');
      const body = JSON.parse(text) as { payload: string };
      expect((decodeDeterministic(b64(body.payload)) as { result: unknown }).result).toBe(
        1750000000123456789n,
      );
    });

    test('undecodable or oversized bodies are refused whole and change nothing', async () => {
      const { app, log } = await setup({ maxDecompressed: 1024 * 1024 });
      await upload(app, gzipSync(JSON.stringify([{ labels: { id: 'a' }, decision_id: 'seed' }])));
      // A shared engine builds tiles after the commit (its sequencer integrates, then signs):
      // wait until the seed is signed, so the "before" snapshot already holds its tile.
      await vi.waitUntil(() => log.latest().size >= 1, { timeout: 5000, interval: 10 });
      const before = await snapshot(log);
      const valid = gzipSync(JSON.stringify([{ decision_id: 'ok-1' }, { decision_id: 'ok-2' }]));
      const deep = `${'['.repeat(100)}${']'.repeat(100)}`;
      const cases: [string, Uint8Array | string, Record<string, string>, number, string][] = [
        ['not gzip', 'hello', OPA_HEADERS, 400, 'invalid_gzip'],
        ['truncated gzip', valid.subarray(0, valid.length - 6), OPA_HEADERS, 400, 'invalid_gzip'],
        [
          'corrupt gzip',
          Uint8Array.from(valid, (b, i) => (i === 20 ? b ^ 0xff : b)),
          OPA_HEADERS,
          400,
          'invalid_gzip',
        ],
        [
          'gzip bomb',
          gzipSync(Buffer.alloc(3 * 1024 * 1024, 0x20)),
          OPA_HEADERS,
          413,
          'decompressed_too_large',
        ],
        ['too large', new Uint8Array(300 * 1024), OPA_HEADERS, 413, 'body_too_large'],
        ['not JSON', gzipSync('{"a":'), OPA_HEADERS, 400, 'invalid_json'],
        ['not objects', gzipSync('[{"decision_id":"ok-3"}, 42]'), OPA_HEADERS, 400, 'invalid_event'],
        ['a string', gzipSync('"x"'), OPA_HEADERS, 400, 'invalid_event'],
        ['too deep', gzipSync(`[{"decision_id":"ok-4","input":${deep}}]`), OPA_HEADERS, 400, 'too_deep'],
        [
          'invalid UTF-8',
          gzipSync(Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d])),
          OPA_HEADERS,
          400,
          'invalid_utf8',
        ],
        ['empty', gzipSync(''), OPA_HEADERS, 400, 'empty_body'],
        [
          'too many',
          gzipSync(JSON.stringify(Array.from({ length: 1001 }, () => ({})))),
          OPA_HEADERS,
          413,
          'too_many_events',
        ],
        ['xml', '<a/>', { 'content-type': 'application/xml' }, 415, 'unsupported_media_type'],
        ['brotli', valid, { ...OPA_HEADERS, 'content-encoding': 'br' }, 415, 'unsupported_encoding'],
        [
          'lone surrogate',
          gzipSync('[{"decision_id":"ok-5","input":"\\ud800"}]'),
          OPA_HEADERS,
          400,
          'invalid_entry',
        ],
        // Large enough to be parsed piece by piece (src/http/body.ts parseJsonPieces): a bad
        // element late in the body refuses the whole of it, and bad JSON after it is what is
        // reported, as for a body parsed whole.
        ['not objects, large', gzipSync(large(300, 42)), OPA_HEADERS, 400, 'invalid_event'],
        [
          'lone surrogate, large',
          gzipSync(large(300, { decision_id: 'x', input: '\ud800' })),
          OPA_HEADERS,
          400,
          'invalid_entry',
        ],
        [
          'bad element, then bad JSON, large',
          gzipSync(`${large(300, 42).slice(0, -1)},{"a":}]`),
          OPA_HEADERS,
          400,
          'invalid_json',
        ],
        // The bad element in the first piece, already handed over to become leaves: the bad
        // JSON pieces later is still what is reported.
        [
          'bad element early, then bad JSON, large',
          gzipSync(`${large(5, 42).slice(0, -1)},{"a":}]`),
          OPA_HEADERS,
          400,
          'invalid_json',
        ],
        ['bad element early, large', gzipSync(large(5, 42)), OPA_HEADERS, 400, 'invalid_event'],
      ];
      for (const [name, body, headers, status, code] of cases) {
        const res = await upload(app, body, headers);
        expect(res.status, name).toBe(status);
        const err = (await res.json()) as { error: string; detail: string };
        expect(err.error, name).toBe(code);
        expect(err.detail.length, name).toBeGreaterThan(0);
        expect(await snapshot(log), name).toEqual(before);
      }
    });

    test('NDJSON and single objects (EOPA http sinks) are accepted', async () => {
      const { app, log } = await setup();
      const nd = '{"decision_id":"n1","labels":{"id":"e"}}\n{"decision_id":"n2","labels":{"id":"e"}}\n';
      expect((await upload(app, nd, { 'content-type': 'application/x-ndjson' })).status).toBe(200);
      expect((await upload(app, '{"decision_id":"n3"}', { 'content-type': 'application/json' })).status).toBe(
        200,
      );
      expect(log.committedSize).toBe(3);
    });
  });

  describe('access control', () => {
    test('ingest needs an ingest token; payloads need a read token; proofs are public', async () => {
      const { app } = await setup({ tokens: [INGEST, READ, ADMIN] });
      const body = gzipSync(
        JSON.stringify([{ labels: { id: 'a' }, decision_id: 'secret-1', input: { user: 'alice' } }]),
      );
      const none = await upload(app, body);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expect(
        (await upload(app, body, { ...OPA_HEADERS, authorization: 'Bearer wrong-token-0000000000' })).status,
      ).toBe(401);
      expect((await upload(app, body, { ...OPA_HEADERS, ...bearer(READ) })).status).toBe(403);
      expect((await upload(app, body, { ...OPA_HEADERS, ...bearer(INGEST) })).status).toBe(200);
      // Public: the entry and its proof, but no payload.
      const pub = (await (await app.request('/v1/decisions/secret-1')).json()) as Record<string, unknown>;
      expect(pub).toMatchObject({
        payload: null,
        salt: null,
        event: null,
        payload_access: 'needs read token',
      });
      verifyLookup(pub);
      const priv = (await (
        await app.request('/v1/decisions/secret-1', { headers: bearer(READ) })
      ).json()) as Record<string, unknown>;
      expect((priv.event as { input: unknown }).input).toEqual({ user: 'alice' });
      verifyLookup(priv);
      expect((await app.request('/checkpoint')).status).toBe(200);
      expect((await app.request('/v1/decisions')).status).toBe(401);
      expect((await app.request('/v1/decisions', { headers: bearer(INGEST) })).status).toBe(403);
      expect((await app.request('/v1/decisions', { headers: bearer(ADMIN) })).status).toBe(200);
    });

    test('token files are re-read when they change', async () => {
      const { writeFileSync } = await import('node:fs');
      const file = join(tempDir(), 'tokens');
      writeFileSync(file, '# ingest tokens\ningest:first-token-0123456789\n');
      const store = new TokenStore('', [file]);
      expect(store.roles('first-token-0123456789').has('ingest')).toBe(true);
      writeFileSync(file, 'read:second-token-0123456789\n');
      const { utimesSync } = await import('node:fs');
      utimesSync(file, new Date(), new Date(Date.now() + 5000));
      await new Promise((r) => setTimeout(r, 1100));
      expect(store.roles('first-token-0123456789').size).toBe(0);
      expect(store.roles('second-token-0123456789').has('read')).toBe(true);
      expect(() => new TokenStore('superuser:abcdefghijklmnopq', [])).toThrow(/unknown role/);
      expect(() => new TokenStore('read:short', [])).toThrow(/shorter than 16/);
    });
  });

  describe('search', () => {
    test('filters, cursor paging and NDJSON streaming', async () => {
      const { app } = await setup();
      const mk = (i: number) => ({
        labels: { id: i % 2 ? 'opa-a' : 'opa-b' },
        decision_id: `s-${i}`,
        path: i % 3 ? 'http/authz/allow' : '/http/other',
        result: i % 4 === 0,
        bundles: { authz: { revision: i < 5 ? 'rev-1' : 'rev-2' } },
        timestamp: `2025-06-10T14:0${i % 10}:00.123456789Z`,
      });
      await upload(app, gzipSync(JSON.stringify(Array.from({ length: 10 }, (_, i) => mk(i)))));
      const q = async (qs: string) =>
        (await (await app.request(`/v1/decisions?${qs}`)).json()) as {
          decisions: { id: string }[];
          next_cursor: string | null;
        };
      expect((await q('source=opa-a')).decisions.map((d) => d.id)).toEqual([
        's-1',
        's-3',
        's-5',
        's-7',
        's-9',
      ]);
      expect((await q('path=http/other')).decisions.map((d) => d.id)).toEqual(['s-0', 's-3', 's-6', 's-9']);
      expect((await q('result=true')).decisions.map((d) => d.id)).toEqual(['s-0', 's-4', 's-8']);
      expect((await q('bundle_revision=rev-1&source=opa-b')).decisions.map((d) => d.id)).toEqual([
        's-0',
        's-2',
        's-4',
      ]);
      expect((await q('since=2025-06-10T14:07:00Z')).decisions.map((d) => d.id)).toEqual([
        's-7',
        's-8',
        's-9',
      ]);
      expect((await q('until=2025-06-10T14:02:00Z')).decisions.map((d) => d.id)).toEqual(['s-0', 's-1']);
      const page1 = await q('limit=4');
      expect(page1.decisions.map((d) => d.id)).toEqual(['s-0', 's-1', 's-2', 's-3']);
      const page2 = await q(`limit=4&cursor=${page1.next_cursor}`);
      expect(page2.decisions.map((d) => d.id)).toEqual(['s-4', 's-5', 's-6', 's-7']);
      const nd = await app.request('/v1/decisions?format=ndjson&result=false');
      expect(nd.headers.get('content-type')).toMatch(/application\/x-ndjson/);
      const lines = (await nd.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string; event: unknown });
      expect(lines.map((l) => l.id)).toEqual(['s-1', 's-2', 's-3', 's-5', 's-6', 's-7', 's-9']);
      expect(lines[0]!.event).toEqual(mk(1));
      for (const bad of ['since=yesterday', 'limit=0', 'limit=5000', 'cursor=-1', 'result=maybe']) {
        const res = await app.request(`/v1/decisions?${bad}`);
        expect(res.status, bad).toBe(400);
      }
    });
  });

  describe('erasure', () => {
    test('erasing deletes salt and payload, appends an erasure entry, and every proof still verifies', async () => {
      const { app, log } = await setup({ tokens: [INGEST, READ, ADMIN] });
      const events = Array.from({ length: 5 }, (_, i) => ({
        labels: { id: 'a' },
        decision_id: `e-${i}`,
        input: { ssn: `123-${i}` },
      }));
      await upload(app, gzipSync(JSON.stringify(events)), { ...OPA_HEADERS, ...bearer(INGEST) });
      const before = (await (await app.request('/v1/entries/2', { headers: bearer(READ) })).json()) as Record<
        string,
        unknown
      >;
      const erase = (i: number, reason = 'GDPR art. 17 request #42', auth = ADMIN) =>
        app.request(`/v1/entries/${i}/erase`, {
          method: 'POST',
          body: JSON.stringify({ reason }),
          headers: { 'content-type': 'application/json', ...bearer(auth) },
        });
      expect((await erase(2, 'x', READ)).status).toBe(403);
      const res = await erase(2);
      expect(res.status).toBe(200);
      const r = (await res.json()) as { erasure_index: number };
      expect(r.erasure_index).toBe(5);
      expect((await (await erase(2)).json()) as { erasure_index: number; duplicate: boolean }).toMatchObject({
        erasure_index: 5,
        duplicate: true,
      });
      expect(await log.payload(2)).toBeUndefined();
      const after = (await (await app.request('/v1/entries/2', { headers: bearer(READ) })).json()) as Record<
        string,
        unknown
      >;
      expect(after).toMatchObject({ payload: null, salt: null, event: null, payload_access: 'erased' });
      expect(after.erased).toEqual({ erasure_index: 5, reason: 'GDPR art. 17 request #42' });
      expect(after.entry).toBe(before.entry);
      verifyLookup(after);
      const eraseEntry = (await (await app.request('/v1/entries/5')).json()) as Record<string, unknown>;
      const { entry } = verifyLookup(eraseEntry);
      expect(entry).toMatchObject({ kind: 'erasure', erases: 2, reason: 'GDPR art. 17 request #42' });
      // Every other payload is intact, and the old proof still verifies against the old root.
      expect(await log.payload(1)).toBeDefined();
      verifyLookup(before);
      expect((await erase(99)).status).toBe(404);
      expect(((await (await erase(5)).json()) as { error: string }).error).toBe('not_erasable');
      expect(((await (await erase(3, '')).json()) as { error: string }).error).toBe('invalid_reason');
    });

    test('retention erases payloads older than N days', async () => {
      let now = Date.parse('2026-01-01T00:00:00Z');
      const { app, log } = await setup({ now: () => now });
      await upload(app, gzipSync(JSON.stringify([{ decision_id: 'old-1' }, { decision_id: 'old-2' }])));
      now += 10 * 86_400_000;
      await upload(app, gzipSync(JSON.stringify([{ decision_id: 'new-1' }])));
      now += 25 * 86_400_000;
      const erased = await new Retention(log, 30, () => now).runOnce();
      expect(erased).toBe(2);
      expect(await log.payload(0)).toBeUndefined();
      expect(await log.payload(1)).toBeUndefined();
      expect(await log.payload(2)).toBeDefined();
      expect((await log.erasure(0))?.reason).toMatch(/^retention:/);
      expect(await new Retention(log, 30, () => now).runOnce()).toBe(0);
    });
  });

  describe('Kubernetes audit webhook', () => {
    test('an EventList becomes one leaf per (auditID, stage); a resend adds none', async () => {
      const { app, log } = await setup();
      const ev = (stage: string) => ({
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        level: 'Metadata',
        auditID: '1a2b3c4d-0000-4000-8000-000000000001',
        stage,
        requestURI: '/api/v1/namespaces/default/pods',
        verb: 'list',
        user: { username: 'alice', groups: ['system:authenticated'] },
        requestReceivedTimestamp: '2025-06-10T14:03:07.000000Z',
        stageTimestamp: '2025-06-10T14:03:07.123456Z',
      });
      const list = JSON.stringify({
        kind: 'EventList',
        apiVersion: 'audit.k8s.io/v1',
        metadata: {},
        items: [ev('RequestReceived'), ev('ResponseComplete')],
      });
      const post = () =>
        app.request('/k8s/audit', {
          method: 'POST',
          body: list,
          headers: { 'content-type': 'application/json' },
        });
      expect(((await (await post()).json()) as { indices: number[] }).indices).toEqual([0, 1]);
      expect(((await (await post()).json()) as { duplicates: number }).duplicates).toBe(2);
      expect(log.committedSize).toBe(2);
      const e = decodeEntry((await log.entry(1))!);
      expect([e.kind, e.src, e.id, e.ts]).toEqual([
        'k8s.audit',
        'k8s',
        '1a2b3c4d-0000-4000-8000-000000000001/ResponseComplete',
        '2025-06-10T14:03:07.123456Z',
      ]);
      const bad = await app.request('/k8s/audit', {
        method: 'POST',
        body: '{"kind":"Pod"}',
        headers: { 'content-type': 'application/json' },
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toBe('invalid_event_list');
    });
  });

  describe('POST /v1/entries?wait=checkpoint', () => {
    test('answers once a checkpoint covers the entries, with proofs that verify', async () => {
      const { app } = await setup();
      const res = await app.request('/v1/entries?wait=checkpoint', {
        method: 'POST',
        body: '[{"a":1},{"a":2},{"a":3}]',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        indices: number[];
        checkpoint: string;
        proofs: string[][];
        leaf_hashes: string[];
      };
      const cp = openCheckpoint(body.checkpoint, TEST_VERIFIER).checkpoint;
      expect(cp.size).toBeGreaterThanOrEqual(3);
      body.indices.forEach((idx, i) => {
        verifyInclusion(idx, cp.size, b64(body.leaf_hashes[i]!), body.proofs[i]!.map(b64), cp.rootHash);
      });
      expect(toBase64(b64(body.leaf_hashes[0]!))).toBe(body.leaf_hashes[0]);
    });
  });
});
