/**
 * Hostile input, property-based (fast-check, seeded, bounded runs): every generated request
 * is malformed, oversized, unauthorized or otherwise not applicable. For each one the server
 * must answer the expected 4xx with a JSON `{error, detail}` body (except where node's HTTP
 * parser answers by itself, e.g. 431), stay alive, keep serving /checkpoint, and leave the
 * database logically byte-for-byte unchanged (every row of every table, and the checkpoint).
 *
 * Where a generated input could be valid after all (a corrupted gzip that still inflates to the
 * same bytes, an erasure of an already erased entry), an oracle computes the right answer and
 * the database must still be unchanged (the retry deduplicates).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { parseCanonicalDecimal } from '../../src/core/bytes.js';
import { parseTilePath } from '../../src/core/tiles.js';
import { DEFAULT_INGEST_OPTIONS } from '../../src/http/ingest.js';
import {
  decisionEvent,
  errorBody,
  launch,
  OPA_HEADERS,
  type RawRequest,
  type RawResponse,
  rawRequest,
  type Server,
  sleep,
  stats,
  tempDir,
} from './harness.js';
import { fetchCheckpoint } from './mirror.js';

export const TOKENS = {
  ingest: 'reliability-ingest-token-0001',
  read: 'reliability-read-token-00000002',
  admin: 'reliability-admin-token-0000003',
} as const;
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

/** Largest body the hostile server accepts (--max-body-bytes). */
export const MAX_BODY = 1024 * 1024;

interface Expect {
  status: readonly number[];
  /** Allowed `error` codes for 4xx answers (any if absent). */
  codes?: readonly string[];
  /** 4xx answered by node itself (no JSON body). */
  noJson?: boolean;
  /** A transport error (server closed the connection while we still sent) is acceptable. */
  resetOk?: boolean;
  /** Counted as a malformed request (default true). */
  malformed?: boolean;
}

export interface Case {
  readonly label: string;
  readonly req: RawRequest;
  readonly expect: Expect;
}

export interface HostileResult {
  categories: Record<string, number>;
  malformed: number;
  failures: string[];
  crashed: boolean;
}

// ---------------------------------------------------------------------------------------------
// Building blocks

const FIXTURE_GZ = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'opa', 'upload-batch.json.gz'));
const FIXTURE_JSON = gunzipSync(FIXTURE_GZ);

const eventsJson = (ids: readonly string[], pad = ''): string =>
  JSON.stringify(ids.map((id, i) => ({ ...decisionEvent('hostile', id, i), pad })));

const ids = fc.array(fc.uuid(), { minLength: 1, maxLength: 4 });
const ingestPath = fc.constantFrom('/logs', '/logs/partition-a');
const json = (s: string) => Buffer.from(s, 'utf8');

const scalar = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('true', 'false', 'null'),
);
const nonObject = fc.oneof(
  scalar,
  fc.array(scalar, { maxLength: 3 }).map((a) => `[${a.join(',')}]`),
);

const INVALID_UTF8: readonly number[][] = [
  [0xff],
  [0xfe],
  [0x80],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
];

function withBytes(text: string, marker: string, bytes: readonly number[]): Buffer {
  const i = text.indexOf(marker);
  return Buffer.concat([
    Buffer.from(text.slice(0, i)),
    Buffer.from(bytes),
    Buffer.from(text.slice(i + marker.length)),
  ]);
}

function nest(depth: number, shape: 'array' | 'object' | 'mixed', closed: boolean): string {
  let open = '';
  let close = '';
  for (let d = 0; d < depth; d++) {
    const arr = shape === 'array' || (shape === 'mixed' && d % 2 === 0);
    open += arr ? '[' : '{"a":';
    close = (arr ? ']' : '}') + close;
  }
  return closed ? `${open}1${close}` : open;
}

// ---------------------------------------------------------------------------------------------
// Categories

export function categories(ctx: {
  size: number;
  erasedIndex: number;
  erasureEntryIndex: number;
  liveIndex: number;
}): Record<string, fc.Arbitrary<Case>> {
  const ingest = bearer(TOKENS.ingest);
  const uploadHeaders = { ...OPA_HEADERS, ...ingest };
  const identityHeaders = { 'content-type': 'application/json', ...ingest };

  const gzipTruncated = fc
    .record({ ids, cut: fc.double({ min: 0, max: 1, noNaN: true }), path: ingestPath })
    .map(({ ids, cut, path }): Case => {
      const gz = gzipSync(json(eventsJson(ids)));
      const n = Math.floor(cut * (gz.length - 1));
      return {
        label: `truncated gzip ${n}/${gz.length}`,
        req: { method: 'POST', path, headers: uploadHeaders, body: gz.subarray(0, n) },
        expect: { status: [400], codes: ['invalid_gzip', 'empty_body'] },
      };
    });

  // Corrupts the fixture upload (its decisions are in the log already, so if a corruption
  // happens to leave it valid the retry must deduplicate): the oracle is zlib itself.
  const gzipCorrupt = fc
    .record({
      muts: fc.array(fc.record({ pos: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
    })
    .map(({ muts }): Case | undefined => {
      const body = Buffer.from(FIXTURE_GZ);
      for (const m of muts) body[m.pos % body.length]! ^= m.xor;
      let inflated: Buffer | undefined;
      try {
        inflated = gunzipSync(body);
      } catch {
        inflated = undefined;
      }
      if (inflated !== undefined && !inflated.equals(FIXTURE_JSON)) return undefined; // improbable
      return {
        label: `corrupt gzip ${JSON.stringify(muts)}`,
        req: { method: 'POST', path: '/logs', headers: uploadHeaders, body },
        expect:
          inflated === undefined
            ? { status: [400], codes: ['invalid_gzip'] }
            : { status: [200], malformed: false },
      };
    })
    .filter((c): c is Case => c !== undefined);

  const hugeBody = fc
    .record({
      size: fc.integer({ min: MAX_BODY + 1, max: Math.floor(MAX_BODY * 2.5) }),
      route: fc.constantFrom('logs-identity', 'logs-gzip', 'entries'),
      chunked: fc.boolean(),
    })
    .map(({ size, route, chunked }): Case => {
      const body = Buffer.alloc(size, ' ');
      body.write('[{"decision_id":"huge","pad":"');
      body.write('"}]', size - 3);
      const headers = route === 'logs-gzip' ? uploadHeaders : identityHeaders;
      return {
        label: `huge body ${size} ${route} chunked=${chunked}`,
        req: { method: 'POST', path: route === 'entries' ? '/v1/entries' : '/logs', headers, body, chunked },
        expect: { status: [413], codes: ['body_too_large'], resetOk: true },
      };
    });

  const deepJson = fc
    .record({
      depth: fc.integer({ min: 129, max: 60_000 }),
      shape: fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>,
      where: fc.constantFrom('top', 'event', 'unclosed'),
      route: fc.constantFrom('logs-identity', 'logs-gzip', 'entries'),
    })
    .map(({ depth, shape, where, route }): Case => {
      const d = route === 'entries' ? Math.max(depth, 600) : depth;
      const text =
        where === 'top'
          ? nest(d, shape, true)
          : where === 'unclosed'
            ? nest(d, shape, false)
            : `[{"decision_id":"${randomUUID()}","x":${nest(d, shape, true)}}]`;
      const raw = json(text);
      const entries = route === 'entries';
      return {
        label: `deep json ${d} ${shape} ${where} ${route}`,
        req: {
          method: 'POST',
          path: entries ? '/v1/entries' : '/logs',
          headers: route === 'logs-gzip' ? uploadHeaders : identityHeaders,
          body: route === 'logs-gzip' ? gzipSync(raw) : raw,
        },
        expect: entries
          ? { status: [400], codes: ['invalid_entry', 'invalid_json'] }
          : { status: [400], codes: where === 'unclosed' ? ['too_deep', 'invalid_json'] : ['too_deep'] },
      };
    });

  const wrongTypes = fc.oneof(
    // A scalar at the top level.
    fc.record({ v: scalar, route: fc.constantFrom('logs', 'entries') }).map(
      ({ v, route }): Case => ({
        label: `top-level ${v} ${route}`,
        req: {
          method: 'POST',
          path: route === 'logs' ? '/logs' : '/v1/entries',
          headers: identityHeaders,
          body: json(v),
        },
        expect: { status: [400], codes: route === 'logs' ? ['invalid_event'] : ['invalid_entry'] },
      }),
    ),
    // Objects (fresh decisions) with non-objects mixed in: nothing of it may be applied.
    fc
      .record({
        ids,
        bad: fc.array(nonObject, { minLength: 1, maxLength: 3 }),
        at: fc.nat(),
        route: fc.constantFrom('logs', 'logs-gzip', 'entries'),
      })
      .map(({ ids, bad, at, route }): Case => {
        const objs = ids.map((id, i) => JSON.stringify(decisionEvent('hostile', id, i)));
        const items = [...objs];
        for (const b of bad) items.splice(at % (items.length + 1), 0, b);
        const raw = json(`[${items.join(',')}]`);
        const entries = route === 'entries';
        return {
          label: `mixed array ${route}: ${bad.join(' ')}`,
          req: {
            method: 'POST',
            path: entries ? '/v1/entries' : '/logs',
            headers: route === 'logs-gzip' ? uploadHeaders : identityHeaders,
            body: route === 'logs-gzip' ? gzipSync(raw) : raw,
          },
          expect: { status: [400], codes: entries ? ['invalid_entry'] : ['invalid_event'] },
        };
      }),
    fc.constant<Case>({
      label: 'empty batch',
      req: { method: 'POST', path: '/v1/entries', headers: identityHeaders, body: json('[]') },
      expect: { status: [400], codes: ['empty_batch'] },
    }),
    // Not an EventList for the Kubernetes webhook.
    fc
      .record({
        v: fc.oneof(
          nonObject,
          fc.constant('{"kind":"EventList","items":{}}'),
          fc.constant('{"kind":"Event"}'),
        ),
      })
      .map(
        ({ v }): Case => ({
          label: `k8s ${v}`,
          req: { method: 'POST', path: '/k8s/audit', headers: identityHeaders, body: json(v) },
          expect: { status: [400], codes: ['invalid_event_list'] },
        }),
      ),
    fc.record({ bad: fc.array(nonObject, { minLength: 1, maxLength: 3 }) }).map(
      ({ bad }): Case => ({
        label: `k8s items ${bad.join(' ')}`,
        req: {
          method: 'POST',
          path: '/k8s/audit/c1',
          headers: identityHeaders,
          body: json(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${bad.join(',')}]}`),
        },
        expect: { status: [400], codes: ['invalid_event'] },
      }),
    ),
    // Wrong media types and encodings, on an otherwise valid upload of fresh decisions.
    fc
      .record({
        ids,
        ct: fc.constantFrom(
          'text/html',
          'application/xml',
          'multipart/form-data; boundary=x',
          'image/png',
          'application/octet-stream',
        ),
        route: fc.constantFrom('/logs', '/v1/entries'),
      })
      .map(
        ({ ids, ct, route }): Case => ({
          label: `content-type ${ct} ${route}`,
          req: {
            method: 'POST',
            path: route,
            headers: { ...ingest, 'content-type': ct },
            body: json(eventsJson(ids)),
          },
          expect: { status: [415], codes: ['unsupported_media_type'] },
        }),
      ),
    fc
      .record({
        ids,
        enc: fc.constantFrom('br', 'deflate', 'compress', 'zstd', 'gzip, br', 'identity, gzip', 'x-bomb'),
      })
      .map(
        ({ ids, enc }): Case => ({
          label: `content-encoding ${enc}`,
          req: {
            method: 'POST',
            path: '/logs',
            headers: { ...uploadHeaders, 'content-encoding': enc },
            body: gzipSync(json(eventsJson(ids))),
          },
          expect: { status: [415], codes: ['unsupported_encoding'] },
        }),
      ),
  );

  const invalidUtf8 = fc.oneof(
    fc
      .record({
        ids,
        bad: fc.constantFrom(...INVALID_UTF8),
        route: fc.constantFrom('logs', 'logs-gzip', 'entries'),
      })
      .map(({ ids, bad, route }): Case => {
        const raw = withBytes(eventsJson(ids, '@@BAD@@'), '@@BAD@@', bad);
        return {
          label: `invalid utf-8 ${JSON.stringify(bad)} ${route}`,
          req: {
            method: 'POST',
            path: route === 'entries' ? '/v1/entries' : '/logs',
            headers: route === 'logs-gzip' ? uploadHeaders : identityHeaders,
            body: route === 'logs-gzip' ? gzipSync(raw) : raw,
          },
          expect: { status: [400], codes: ['invalid_utf8'] },
        };
      }),
    fc
      .record({
        ids,
        unit: fc.integer({ min: 0xd800, max: 0xdfff }),
        route: fc.constantFrom('logs', 'entries'),
      })
      .map(({ ids, unit, route }): Case => {
        const esc = `\\u${unit.toString(16)}`;
        const raw = json(eventsJson(ids, '@@S@@').replace('@@S@@', `a${esc}b`));
        return {
          label: `lone surrogate ${esc} ${route}`,
          req: {
            method: 'POST',
            path: route === 'entries' ? '/v1/entries' : '/logs',
            headers: identityHeaders,
            body: raw,
          },
          expect: { status: [400], codes: ['invalid_entry'] },
        };
      }),
  );

  const hugeHeaders = fc
    .record({
      size: fc.integer({ min: 17 * 1024, max: 96 * 1024 }),
      many: fc.boolean(),
      route: fc.constantFrom('GET /checkpoint', 'POST /logs', 'GET /tile/0/000.p/1'),
      ids,
    })
    .map(({ size, many, route, ids }): Case => {
      const [method, path] = route.split(' ') as [string, string];
      const headers: Record<string, string> = { ...(method === 'POST' ? uploadHeaders : {}) };
      if (many) for (let i = 0; i * 1000 < size; i++) headers[`x-junk-${i}`] = 'j'.repeat(1000);
      else headers['x-junk'] = 'j'.repeat(size);
      return {
        label: `huge headers ${size} many=${many} ${route}`,
        req: {
          method,
          path,
          headers,
          ...(method === 'POST' ? { body: gzipSync(json(eventsJson(ids))) } : {}),
        },
        expect: { status: [431], noJson: true, resetOk: true },
      };
    });

  const authRoutes = [
    { method: 'POST', path: '/logs', role: 'ingest' },
    { method: 'POST', path: '/v1/entries', role: 'ingest' },
    { method: 'POST', path: '/k8s/audit', role: 'ingest' },
    { method: 'POST', path: `/v1/entries/${ctx.liveIndex}/erase`, role: 'admin' },
    { method: 'GET', path: '/v1/decisions?limit=5', role: 'read' },
  ] as const;
  const tokens = fc
    .record({
      route: fc.constantFrom(...authRoutes),
      ids,
      auth: fc.oneof(
        fc.constant<string | undefined>(undefined),
        fc.string({ unit: 'grapheme-ascii', maxLength: 80 }),
        fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }).map((t) => `Bearer ${t}`),
        fc
          .record({
            tok: fc.constantFrom(...Object.values(TOKENS)),
            at: fc.nat(),
            ch: fc.constantFrom('0', 'Z', '-', '~'),
          })
          .map(({ tok, at, ch }) => {
            const i = at % tok.length;
            const t = tok[i] === ch ? `${tok}x` : tok.slice(0, i) + ch + tok.slice(i + 1);
            return `Bearer ${t}`;
          }),
        fc
          .constantFrom(...Object.values(TOKENS))
          .map((t) => `Basic ${Buffer.from(`u:${t}`).toString('base64')}`),
        fc.constantFrom('Bearer', 'Bearer ', 'Token', 'bearer  ', `Bearer ${'x'.repeat(10_000)}`),
        // A real token with the wrong role.
        fc.constantFrom('read', 'ingest').map((r) => `Bearer ${TOKENS[r as 'read' | 'ingest']}`),
      ),
    })
    .map(({ route, ids, auth }): Case | undefined => {
      const m = auth === undefined ? null : /^(bearer|token)\s+(\S+)\s*$/i.exec(auth.trim());
      const tok = m?.[2];
      const role = Object.entries(TOKENS).find(([, v]) => v === tok)?.[0];
      if (role === 'admin' || role === route.role) return undefined; // authorized: not hostile
      const status = role === undefined ? 401 : 403;
      const body = route.path.endsWith('/erase')
        ? json('{"reason":"hostile"}')
        : route.method === 'POST'
          ? json(eventsJson(ids))
          : undefined;
      return {
        label: `auth ${JSON.stringify(auth?.slice(0, 60))} ${route.method} ${route.path}`,
        req: {
          method: route.method,
          path: route.path,
          headers: {
            'content-type': 'application/json',
            ...(auth === undefined ? {} : { authorization: auth }),
          },
          ...(body ? { body } : {}),
        },
        expect: { status: [status], codes: [status === 401 ? 'unauthorized' : 'forbidden'] },
      };
    })
    .filter((c): c is Case => c !== undefined);

  const tileSeg = fc.oneof(
    fc.constantFrom(
      'entries',
      '0',
      '1',
      '63',
      '64',
      '000',
      '001',
      'x001',
      'x000',
      '.p',
      '0.p',
      '000.p',
      '255',
      '256',
      '1.p',
      'x',
      '00',
      '0000',
      '-1',
      '%30%30%30',
    ),
    fc.string({ unit: fc.constantFrom(...'0123456789xp.%-+e'), maxLength: 6 }),
  );
  const tilePaths = fc
    .array(tileSeg, { minLength: 1, maxLength: 6 })
    .filter((segs) => segs.every((s) => !/^(\.|%2e){1,2}$/i.test(s)))
    .map((segs): Case => {
      const raw = `tile/${segs.join('/')}`;
      const parsed = parseTilePath(raw);
      return {
        label: `/${raw}`,
        req: { method: 'GET', path: `/${raw}` },
        expect: parsed
          ? { status: [200, 404], codes: ['tile_not_found'], malformed: false }
          : { status: [400], codes: ['invalid_tile_path'] },
      };
    });

  const numberish = fc.oneof(
    fc.integer({ min: 0, max: ctx.size + 5 }).map(String),
    fc.constantFrom(
      '',
      '-1',
      '01',
      '00',
      '1.0',
      '0x1',
      '1e3',
      ' 1',
      '1 ',
      '+1',
      '9007199254740991',
      '9007199254740992',
      '99999999999999999999999',
      '１',
      'NaN',
      'Infinity',
      'null',
      '٣',
      '0,1',
    ),
    fc.string({ unit: 'grapheme-ascii', maxLength: 8 }),
  );
  const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const query = (ps: Record<string, string | undefined>) =>
    Object.entries(ps)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${encodeURIComponent(v!)}`)
      .join('&');
  const proofParams = fc.oneof(
    fc.record({ index: opt(numberish), tree_size: opt(numberish) }).map(({ index, tree_size }): Case => {
      const L = ctx.size;
      const size = tree_size === undefined ? L : parseCanonicalDecimal(tree_size);
      const idx = index === undefined ? undefined : parseCanonicalDecimal(index);
      const ok = size !== undefined && size <= L && idx !== undefined && idx < size;
      return {
        label: `inclusion index=${index} tree_size=${tree_size}`,
        req: { method: 'GET', path: `/v1/proof/inclusion?${query({ index, tree_size })}` },
        expect: ok
          ? { status: [200], malformed: false }
          : {
              status: [400],
              codes: ['missing_parameter', 'invalid_parameter', 'index_out_of_range', 'tree_size_too_large'],
            },
      };
    }),
    fc.record({ from: opt(numberish), to: opt(numberish) }).map(({ from, to }): Case => {
      const L = ctx.size;
      const f = from === undefined ? undefined : parseCanonicalDecimal(from);
      const t = to === undefined ? L : parseCanonicalDecimal(to);
      const ok = f !== undefined && t !== undefined && t <= L && f <= t;
      return {
        label: `consistency from=${from} to=${to}`,
        req: { method: 'GET', path: `/v1/proof/consistency?${query({ from, to })}` },
        expect: ok
          ? { status: [200], malformed: false }
          : { status: [400], codes: ['missing_parameter', 'invalid_parameter', 'tree_size_too_large'] },
      };
    }),
  );

  const lookupSeg = fc.oneof(
    fc.integer({ min: 0, max: ctx.size + 10 }).map(String),
    fc.constantFrom('00', '01', '9007199254740992', '99999999999999999999', '-1', '1e2', '0x10', ''),
    fc.string({ maxLength: 12 }),
  );
  const lookups = fc.oneof(
    fc.record({ seg: lookupSeg, tlog: fc.boolean(), ts: opt(numberish) }).map(({ seg, tlog, ts }): Case => {
      const enc = encodeURIComponent(seg);
      const path = `/v1/entries/${enc}${tlog ? '/tlog-proof' : ''}${ts === undefined ? '' : `?tree_size=${encodeURIComponent(ts)}`}`;
      const n = parseCanonicalDecimal(seg);
      let expect: Expect;
      if (!/^[0-9]+$/.test(seg)) expect = { status: [404], codes: ['not_found'] };
      else if (n === undefined) expect = { status: [400], codes: ['invalid_parameter'] };
      else if (n >= ctx.size) expect = { status: [404], codes: ['entry_not_found'] };
      else if (ts === undefined) expect = { status: [200], malformed: false };
      else
        expect = {
          status: [200, 400, 404],
          codes: ['invalid_parameter', 'index_out_of_range', 'checkpoint_not_found'],
        };
      return { label: `GET ${path}`, req: { method: 'GET', path }, expect };
    }),
    fc
      .record({
        id: fc.string({ maxLength: 40 }),
        source: opt(fc.string({ maxLength: 20 })),
        tlog: fc.boolean(),
      })
      .map(({ id, source, tlog }): Case => {
        const path = `/v1/decisions/${encodeURIComponent(id)}${tlog ? '/tlog-proof' : ''}${source === undefined ? '' : `?source=${encodeURIComponent(source)}`}`;
        return {
          label: `GET ${path}`,
          req: { method: 'GET', path },
          expect:
            id === ''
              ? { status: [401, 404], codes: ['unauthorized', 'not_found', 'decision_not_found'] }
              : { status: [404], codes: ['decision_not_found', 'not_found'] },
        };
      }),
    fc
      .record({
        since: opt(numberish),
        until: opt(numberish),
        limit: opt(numberish),
        cursor: opt(numberish),
        result: opt(fc.constantFrom('true', 'maybe', '', 'value', 'TRUE')),
        format: opt(fc.constantFrom('ndjson', 'xml', '')),
      })
      .map((q): Case => {
        const path = `/v1/decisions?${query(q)}`;
        return {
          label: `search ${path}`,
          req: { method: 'GET', path, headers: bearer(TOKENS.read) },
          expect: { status: [200, 400], codes: ['invalid_parameter'], malformed: false },
        };
      }),
  );

  const eraseBodies = fc
    .record({
      target: fc.constantFrom('live', 'beyond', 'erasure-entry', 'erased'),
      body: fc.oneof(
        fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
        fc
          .constantFrom(
            '',
            '{}',
            'null',
            '[]',
            '5',
            '"reason"',
            '{"reason":null}',
            '{"reason":5}',
            '{"reason":["x"]}',
            '{"reason":{}}',
            '{"reason":""}',
            '{"reason":"   "}',
            '{"reason":"\\n\\t"}',
            '{"reason":"ok"',
            '{reason:"x"}',
          )
          .map(json),
        fc.integer({ min: 1025, max: 4000 }).map((n) => json(JSON.stringify({ reason: 'r'.repeat(n) }))),
        fc.constant(json(JSON.stringify({ reason: 'x'.repeat(70_000) }))),
        fc.constantFrom(...INVALID_UTF8).map((b) => withBytes('{"reason":"@"}', '@', b)),
        fc.string({ minLength: 1, maxLength: 30 }).map((r) => json(JSON.stringify({ reason: r }))),
      ),
    })
    .map(({ target, body }): Case | undefined => {
      const index =
        target === 'live'
          ? ctx.liveIndex
          : target === 'beyond'
            ? ctx.size + 100
            : target === 'erased'
              ? ctx.erasedIndex
              : ctx.erasureEntryIndex;
      let expect: Expect;
      let text: string | undefined;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(body);
      } catch {
        text = undefined;
      }
      let parsed: unknown;
      let parses = false;
      try {
        parsed = text === undefined ? undefined : JSON.parse(text);
        parses = text !== undefined && parsed !== null;
      } catch {
        parses = false;
      }
      const reason = parses ? (parsed as { reason?: unknown }).reason : undefined;
      if (body.length > 64 * 1024) expect = { status: [413], codes: ['body_too_large'] };
      else if (text === undefined) expect = { status: [400], codes: ['invalid_utf8'] };
      else if (!parses) expect = { status: [400], codes: ['invalid_json'] };
      else if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 1024)
        expect = { status: [400], codes: ['invalid_reason'] };
      else if (target === 'live')
        return undefined; // a valid erasure: not hostile
      else if (target === 'beyond') expect = { status: [404], codes: ['no_such_entry'] };
      else if (target === 'erasure-entry') expect = { status: [409], codes: ['not_erasable'] };
      else expect = { status: [200], malformed: false }; // a retry of the erasure: deduplicated
      return {
        label: `erase ${index} ${JSON.stringify(body.subarray(0, 60).toString('latin1'))}`,
        req: {
          method: 'POST',
          path: `/v1/entries/${index}/erase`,
          headers: { 'content-type': 'application/json', ...bearer(TOKENS.admin) },
          body,
        },
        expect,
      };
    })
    .filter((c): c is Case => c !== undefined);

  const methods = http.METHODS.filter((m) => m !== 'CONNECT');
  const pathSeg = fc.oneof(
    fc.constantFrom(
      'logs',
      'v1',
      'entries',
      'decisions',
      'proof',
      'inclusion',
      'consistency',
      'tile',
      'checkpoint',
      'k8s',
      'audit',
      'erase',
      'tlog-proof',
      '0',
      '1',
      'x001',
      '000.p',
      '',
    ),
    fc.string({ maxLength: 10 }).map(encodeURIComponent),
  );
  const randomRequests = fc
    .record({
      method: fc.constantFrom(...methods),
      segs: fc.array(pathSeg, { minLength: 1, maxLength: 5 }),
      q: opt(fc.string({ maxLength: 20 }).map(encodeURIComponent)),
      body: opt(fc.uint8Array({ maxLength: 2048 })),
      ct: opt(fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded')),
    })
    .filter(({ segs }) => segs.every((s) => !/^(\.|%2e){1,2}$/i.test(s)))
    .map(({ method, segs, q, body, ct }): Case => {
      const path = `/${segs.join('/')}${q === undefined ? '' : `?${q}`}`;
      return {
        label: `${method} ${path} body=${body?.length ?? '-'}`,
        req: {
          method,
          path,
          headers: ct ? { 'content-type': ct } : {},
          ...(body && method !== 'GET' && method !== 'HEAD' ? { body: Buffer.from(body) } : {}),
        },
        // No token: nothing may be written; every refusal is a JSON error.
        expect: { status: Array.from({ length: 300 }, (_, i) => 200 + i), malformed: false },
      };
    });

  // ---- Issue 15: one bounded parser on every JSON route, one meaning per input, one tile path.

  /** A body for `route` holding `inner` (raw JSON text) inside an otherwise fresh, valid event. */
  const jsonRoutes = ['logs', 'logs-gzip', 'entries', 'entries-gzip', 'k8s', 'erase'] as const;
  type JsonRoute = (typeof jsonRoutes)[number];
  const routed = (route: JsonRoute, id: string, inner: string): RawRequest => {
    const text =
      route === 'erase'
        ? `{"reason":"hostile","x":${inner}}`
        : route.startsWith('k8s')
          ? `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"${id}","stage":"ResponseComplete","x":${inner}}]}`
          : `[${JSON.stringify(decisionEvent('hostile', id, 1)).slice(0, -1)},"x":${inner}}]`;
    const gz = route.endsWith('-gzip');
    const path =
      route === 'erase'
        ? `/v1/entries/${ctx.liveIndex}/erase`
        : route === 'k8s'
          ? '/k8s/audit/hostile'
          : route.startsWith('entries')
            ? '/v1/entries'
            : '/logs';
    const headers = {
      'content-type': 'application/json',
      ...(gz ? { 'content-encoding': 'gzip' } : {}),
      ...(route === 'erase' ? bearer(TOKENS.admin) : ingest),
    };
    return { method: 'POST', path, headers, body: gz ? gzipSync(json(text)) : json(text) };
  };

  const bigNumbers = fc
    .record({
      route: fc.constantFrom(...jsonRoutes),
      id: fc.uuid(),
      len: fc.integer({ min: 1001, max: 20_000 }),
      sign: fc.constantFrom('', '-'),
      tail: fc.constantFrom('', '.5', 'e3', '.0e-2'),
    })
    .map(
      ({ route, id, len, sign, tail }): Case => ({
        label: `number of ${len} digits ${route}`,
        req: routed(route, id, `${sign}${'7'.repeat(len)}${tail}`),
        expect: { status: [413], codes: ['number_too_long'] },
      }),
    );

  const deepEverywhere = fc
    .record({
      route: fc.constantFrom('k8s', 'erase', 'entries-gzip') as fc.Arbitrary<JsonRoute>,
      id: fc.uuid(),
      depth: fc.integer({ min: 600, max: 20_000 }),
      shape: fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>,
      closed: fc.boolean(),
    })
    .map(
      ({ route, id, depth, shape, closed }): Case => ({
        label: `deep json ${depth} ${shape} closed=${closed} ${route}`,
        // An erasure body is at most 64 KiB: deep, but within it.
        req: routed(route, id, nest(route === 'erase' ? Math.min(depth, 10_000) : depth, shape, closed)),
        expect: { status: [400], codes: route.startsWith('entries') ? ['invalid_entry'] : ['too_deep'] },
      }),
    );

  const duplicateKeys = fc
    .record({
      route: fc.constantFrom(...jsonRoutes),
      id: fc.uuid(),
      key: fc.oneof(
        fc.constantFrom('decision_id', 'labels', 'reason', 'kind', 'items', '__proto__', 'a'),
        fc.string({ minLength: 1, maxLength: 8 }),
      ),
      nested: fc.boolean(),
      v1: scalar,
      v2: scalar,
    })
    .map(({ route, id, key, nested, v1, v2 }): Case => {
      const k = JSON.stringify(key);
      const obj = `{${k}:${v1},"other":1,${k}:${v2}}`;
      return {
        label: `duplicate key ${k} nested=${nested} ${route}`,
        req: routed(route, id, nested ? `[1,{"y":${obj}}]` : obj),
        expect: { status: [400], codes: ['duplicate_key'] },
      };
    });

  const dupTopLevel = fc
    .record({ id: fc.uuid(), key: fc.constantFrom('decision_id', 'labels', 'path', 'input', 'timestamp') })
    .map(({ id, key }): Case => {
      const text = `[{"${key}":"a","decision_id":"${id}","labels":{"id":"hostile"},"${key}":"b"}]`;
      return {
        label: `duplicate top-level ${key}`,
        req: { method: 'POST', path: '/logs', headers: identityHeaders, body: json(text) },
        expect: { status: [400], codes: ['duplicate_key'] },
      };
    });

  /** Existing tiles (the baseline has a few leaves), each spelled another way. */
  const tileSpellings = fc
    .record({
      tile: fc.constantFrom('tile/entries/000.p/1', 'tile/0/000.p/1', `tile/entries/000.p/${ctx.size}`),
      how: fc.constantFrom(
        'dotdot',
        'dot',
        'pct-dotdot',
        'pct-dot',
        'double-slash',
        'trailing-slash',
        'pct-slash',
        'pct-digit',
        'prefix-dotdot',
      ),
      at: fc.nat(),
    })
    .map(({ tile, how, at }): Case => {
      const segs = tile.split('/');
      const i = 1 + (at % (segs.length - 1));
      const ins = (extra: string) => [...segs.slice(0, i), extra, ...segs.slice(i)].join('/');
      const spelled: Record<typeof how, string> = {
        dotdot: ins(`x/..`),
        dot: ins('.'),
        'pct-dotdot': ins(`x/%2e%2E`),
        'pct-dot': ins('%2e'),
        'double-slash': ins(''),
        'trailing-slash': `${tile}/`,
        'pct-slash': `${segs.slice(0, i).join('/')}%2f${segs.slice(i).join('/')}`,
        'pct-digit': tile.replace(/0/, '%30'),
        'prefix-dotdot': `v1/../${tile}`,
      };
      const path = `/${spelled[how]}`;
      return {
        label: `tile spelling ${how} ${path}`,
        req: { method: 'GET', path },
        // An encoded slash in the first segment is no /tile/ route at all.
        expect: { status: [400, 404], codes: ['invalid_tile_path', 'not_found'] },
      };
    });

  const encodingLies = fc
    .record({
      ids,
      route: fc.constantFrom('/logs', '/v1/entries', '/k8s/audit'),
      lie: fc.constantFrom(
        'plain-as-gzip',
        'x-gzip-plain',
        'br',
        'deflate',
        'zstd',
        'gzip, gzip',
        'identity;q=1',
      ),
    })
    .map(({ ids, route, lie }): Case => {
      const body =
        route === '/k8s/audit'
          ? json(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"${ids[0]}"}]}`)
          : json(eventsJson(ids));
      const enc = lie === 'plain-as-gzip' ? 'gzip' : lie === 'x-gzip-plain' ? 'x-gzip' : lie;
      const lying = lie === 'plain-as-gzip' || lie === 'x-gzip-plain';
      return {
        label: `content-encoding lie ${lie} ${route}`,
        req: { method: 'POST', path: route, headers: { ...identityHeaders, 'content-encoding': enc }, body },
        expect: lying
          ? { status: [400], codes: ['invalid_gzip'] }
          : { status: [415], codes: ['unsupported_encoding'] },
      };
    });

  return {
    gzipTruncated,
    gzipCorrupt,
    hugeBody,
    deepJson,
    wrongTypes,
    invalidUtf8,
    hugeHeaders,
    tokens,
    tilePaths,
    proofParams,
    lookups,
    eraseBodies,
    randomRequests,
    bigNumbers,
    deepEverywhere,
    duplicateKeys,
    dupTopLevel,
    tileSpellings,
    encodingLies,
  };
}

/**
 * Gzip bombs: tiny bodies that inflate far (multi-member gzip, so they are cheap to build): one
 * far past the server's inflated cap (the default, 8 MiB), and bodies of `[` and of spaces that
 * stay under it, so the parser meets them.
 */
export function bombs(bracketMiB: number): Case[] {
  const member = (fill: string, mib: number) => gzipSync(Buffer.alloc(mib * 1024 * 1024, fill), { level: 9 });
  const many = (m: Buffer, n: number) => Buffer.concat(Array.from({ length: n }, () => m));
  const zeros = many(member('\0', 1), 300); // 300 MiB of NUL bytes, ~315 KB
  const under = DEFAULT_INGEST_OPTIONS.maxDecompressedBytes / (1024 * 1024) - 1;
  // Note: many MiB of '[' cost the server CPU on its event loop (JSON.parse runs to the end
  // before the depth limit applies); the short run uses a smaller one.
  bracketMiB = Math.min(bracketMiB, under);
  const brackets = many(member('[', 1), bracketMiB);
  const spaces = many(member(' ', 1), under);
  const nested = gzipSync(many(member('\0', 1), 200)); // gzip of a bomb: binary after one inflate
  const h = { ...OPA_HEADERS, ...bearer(TOKENS.ingest) };
  return [
    {
      label: 'gzip bomb 300 MiB of NUL',
      req: { method: 'POST', path: '/logs', headers: h, body: zeros },
      expect: { status: [413], codes: ['decompressed_too_large'] },
    },
    {
      label: `gzip bomb ${bracketMiB} MiB of [`,
      req: { method: 'POST', path: '/logs', headers: h, body: brackets },
      expect: { status: [400], codes: ['too_deep'] },
    },
    {
      label: `gzip bomb ${under} MiB of spaces`,
      req: { method: 'POST', path: '/logs', headers: h, body: spaces },
      expect: { status: [400], codes: ['empty_body'] },
    },
    {
      label: 'gzip of a gzip bomb',
      req: { method: 'POST', path: '/logs', headers: h, body: nested },
      expect: { status: [400], codes: ['invalid_utf8'] },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Running

/** A logical digest of the whole database: every row of every table, in key order. */
export function dbDigest(db: Database.Database): { digest: string; counts: Record<string, number> } {
  const h = createHash('sha256');
  const counts: Record<string, number> = {};
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .pluck()
    .all() as string[];
  for (const t of tables) {
    const cols = (db.prepare(`SELECT count(*) AS n FROM pragma_table_info('${t}')`).get() as { n: number }).n;
    const order = Array.from({ length: cols }, (_, i) => i + 1).join(',');
    let n = 0;
    for (const row of db.prepare(`SELECT * FROM "${t}" ORDER BY ${order}`).raw().iterate() as Iterable<
      unknown[]
    >) {
      h.update(t);
      for (const v of row) {
        h.update('\x1f');
        h.update(v instanceof Uint8Array ? Buffer.from(v).toString('hex') : JSON.stringify(v));
      }
      n++;
    }
    counts[t] = n;
  }
  return { digest: h.digest('hex'), counts };
}

/** Starts the hostile-input server with tokens and a 1 MiB body limit, and a small baseline. */
export async function hostileServer(): Promise<{
  srv: Server;
  ctx: { size: number; erasedIndex: number; erasureEntryIndex: number; liveIndex: number };
}> {
  const data = tempDir('opa-tlog-rel-hostile-');
  const srv = await launch(data, [
    '--tokens',
    `ingest:${TOKENS.ingest},read:${TOKENS.read},admin:${TOKENS.admin}`,
    '--max-body-bytes',
    String(MAX_BODY),
    '--sign-interval-ms',
    '20',
  ]);
  const post = async (path: string, headers: Record<string, string>, body: Buffer) => {
    const res = await rawRequest(srv, { method: 'POST', path, headers, body });
    if (res.status !== 200) throw new Error(`baseline ${path}: ${res.status} ${res.body.toString()}`);
    return JSON.parse(res.body.toString()) as Record<string, unknown>;
  };
  await post('/logs', { ...OPA_HEADERS, ...bearer(TOKENS.ingest) }, FIXTURE_GZ);
  await post(
    '/v1/entries',
    { 'content-type': 'application/json', 'idempotency-key': 'hostile-baseline', ...bearer(TOKENS.ingest) },
    json('[{"a":1},{"b":2},{"c":3}]'),
  );
  const erasedIndex = 1;
  const er = await post(
    `/v1/entries/${erasedIndex}/erase`,
    { 'content-type': 'application/json', ...bearer(TOKENS.admin) },
    json('{"reason":"reliability baseline"}'),
  );
  const size = (er.erasure_index as number) + 1;
  for (let i = 0; i < 200 && (await fetchCheckpoint(srv.url, srv.vkey)).size < size; i++) await sleep(20);
  // The lookup index is written behind the commits (spec/storage.md): let it catch up, so that
  // the digest taken next is of the database at rest.
  const db = new Database(join(data, 'log.db'), { readonly: true });
  const indexed = db.prepare('SELECT indexed_to FROM lookup_cursor').pluck();
  for (let i = 0; i < 250 && (indexed.get() as number) < size; i++) await sleep(20);
  db.close();
  return { srv, ctx: { size, erasedIndex, erasureEntryIndex: size - 1, liveIndex: 3 } };
}

/** Sends one case and checks the answer; returns a failure message or undefined. */
export async function checkCase(srv: Server, c: Case): Promise<string | undefined> {
  let res: RawResponse;
  try {
    res = await rawRequest(srv, c.req);
  } catch (err) {
    if (c.expect.resetOk && srv.alive()) return undefined;
    return `${c.label}: transport error ${(err as Error).message}`;
  }
  if (c.expect.malformed !== false) stats.malformed++;
  const body = res.body.toString('utf8');
  if (!c.expect.status.includes(res.status)) {
    return `${c.label}: status ${res.status} (want ${c.expect.status.length > 5 ? '2xx-4xx' : c.expect.status.join('|')}): ${body.slice(0, 300)}`;
  }
  if (res.status >= 400 && !c.expect.noJson && c.req.method !== 'HEAD') {
    const e = errorBody(res.body);
    if (!e) return `${c.label}: ${res.status} without a JSON {error, detail} body: ${body.slice(0, 200)}`;
    if (c.expect.codes && !c.expect.codes.includes(e.error)) {
      return `${c.label}: error ${e.error} (want ${c.expect.codes.join('|')}): ${e.detail}`;
    }
    if (res.status === 401 && res.headers['www-authenticate'] === undefined) {
      return `${c.label}: 401 without WWW-Authenticate`;
    }
  }
  return undefined;
}
