/**
 * Lookups that hand an auditor everything needed to verify one decision offline, search for
 * auditors, and erasure:
 *
 *   GET  /v1/entries/{index}[?tree_size=N]            the entry, its proof, the checkpoint
 *   GET  /v1/decisions/{decision_id}[?source=&tree_size=]
 *   GET  /v1/entries/{index}/tlog-proof, /v1/decisions/{id}/tlog-proof   C2SP tlog-proof file
 *   GET  /v1/decisions?since&until&path&result&source&bundle_revision&limit&cursor[&format=ndjson]
 *   POST /v1/entries/{index}/erase                    {"reason": "..."} (admin)
 *
 * Public parts (entry bytes, proof, checkpoint) need no token: they are public anyway. Salt,
 * payload and the decoded event need the `read` role when tokens are configured.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { parseCanonicalDecimal, toBase64 } from '../core/bytes.js';
import { decodeDeterministic } from '../core/cbor.js';
import { decodeEntry } from '../core/entry.js';
import { stringifyJson } from '../core/json.js';
import { parseRfc3339Ms } from '../core/opa.js';
import { EraseError, type SearchFilter, type StoredCheckpoint, type TransparencyLog } from '../log/log.js';
import { hasRole, requireRole, type TokenStore } from './auth.js';
import { readJsonBody } from './body.js';
import { HttpError } from './errors.js';

export interface DecisionOptions {
  /** How long a lookup waits for a checkpoint to cover a just-committed entry, ms. */
  checkpointWaitMs: number;
}

const json = (c: Context, text: string) =>
  c.body(text, 200, { 'Content-Type': 'application/json; charset=utf-8' });

/**
 * The lookup, search and erasure routes. Each route is one line here; what it checks and
 * builds is in the named functions below.
 */
export function decisionRoutes(log: TransparencyLog, tokens: TokenStore, opts: DecisionOptions): Hono {
  const app = new Hono();
  const bundle = (c: Context, index: number) => verificationBundle(c, log, tokens, opts, index);

  app.get('/v1/entries/:index{[0-9]+}', async (c) => json(c, (await bundle(c, indexParam(c))).text));
  app.get('/v1/entries/:index{[0-9]+}/tlog-proof', async (c) =>
    tlogProofResponse(c, (await bundle(c, indexParam(c))).tlogProof),
  );
  app.get('/v1/decisions/:id/tlog-proof', async (c) =>
    tlogProofResponse(c, (await bundle(c, (await decisionIndices(c, log))[0]!)).tlogProof),
  );
  app.get('/v1/decisions/:id', async (c) => json(c, await decisionLookup(c, log, bundle)));

  app.get('/v1/decisions', requireRole(tokens, 'read'), (c) => search(c, log));

  app.post('/v1/entries/:index{[0-9]+}/erase', requireRole(tokens, 'admin'), async (c) => {
    const index = indexParam(c);
    const reason = await eraseReason(c);
    try {
      const r = await log.erase(index, reason);
      return c.json({ erased: index, erasure_index: r.index, duplicate: r.duplicate });
    } catch (err) {
      if (err instanceof EraseError) {
        throw new HttpError(err.code === 'no_such_entry' ? 404 : 409, err.code, err.message);
      }
      throw err;
    }
  });

  return app;
}

/** The checkpoint to prove against: ?tree_size= (a signed size) or the latest covering `index`. */
async function checkpointFor(
  c: Context,
  log: TransparencyLog,
  opts: DecisionOptions,
  index: number,
): Promise<StoredCheckpoint> {
  const q = c.req.query('tree_size');
  if (q !== undefined) {
    const size = parseCanonicalDecimal(q);
    if (size === undefined)
      throw new HttpError(400, 'invalid_parameter', 'tree_size must be a canonical decimal');
    if (size <= index)
      throw new HttpError(400, 'index_out_of_range', `index ${index} is not below tree_size ${size}`);
    const cp = await log.checkpointAt(size);
    if (!cp) throw new HttpError(404, 'checkpoint_not_found', `the log signed no checkpoint of size ${size}`);
    return cp;
  }
  try {
    return await log.waitForCheckpoint(index + 1, opts.checkpointWaitMs);
  } catch {
    throw new HttpError(503, 'not_yet_signed', `entry ${index} is not covered by a checkpoint yet`, {
      'Retry-After': '1',
    });
  }
}

/** The `erased` field: which entry erased the payload and why, or null. */
const erasedField = (e: { erasureIndex: number; reason: string } | undefined): string =>
  e ? JSON.stringify({ erasure_index: e.erasureIndex, reason: e.reason }) : 'null';

/** Everything to verify entry `index`, as a JSON object (payload fields only if allowed). */
async function verificationBundle(
  c: Context,
  log: TransparencyLog,
  tokens: TokenStore,
  opts: DecisionOptions,
  index: number,
): Promise<{ text: string; tlogProof: string }> {
  const entry = await log.entry(index);
  if (!entry) throw new HttpError(404, 'entry_not_found', `no entry at index ${index}`);
  const cp = await checkpointFor(c, log, opts, index);
  const { leafHash, proof } = await log.inclusion(index, cp.size);
  const mayRead = hasRole(c, tokens, 'read');
  const p = mayRead ? await log.payload(index) : undefined;
  const erasure = await log.erasure(index);
  const note = log.publishedNote(cp);
  const tlogProof = formatTlogProof(index, entry, proof, note);
  const fields: string[] = [
    `"index":${index}`,
    `"entry":${JSON.stringify(toBase64(entry))}`,
    `"leaf_hash":${JSON.stringify(toBase64(leafHash))}`,
    `"salt":${p ? JSON.stringify(toBase64(p.salt)) : 'null'}`,
    `"payload":${p ? JSON.stringify(toBase64(p.payload)) : 'null'}`,
    `"event":${p ? stringifyJson(decodeDeterministic(p.payload)) : 'null'}`,
    `"payload_access":${JSON.stringify(erasure ? 'erased' : mayRead ? 'granted' : 'needs read token')}`,
    `"erased":${erasedField(erasure)}`,
    `"tree_size":${cp.size}`,
    `"proof":${JSON.stringify(proof.map(toBase64))}`,
    `"checkpoint":${JSON.stringify(note)}`,
    `"tlog_proof":${JSON.stringify(tlogProof)}`,
  ];
  return { text: `{${fields.join(',')}}`, tlogProof };
}

/** The `{index}` path parameter, a canonical decimal. */
function indexParam(c: Context): number {
  const n = parseCanonicalDecimal(c.req.param('index') ?? '');
  if (n === undefined) throw new HttpError(400, 'invalid_parameter', 'index must be a canonical decimal');
  return n;
}

/**
 * The indices of decision `{id}` from one source (`?source=`, or the only source that logged
 * it; 409 if several did), in index order: one, or several when the same ids were sent with
 * different content (the later ones conflict with the first).
 */
async function decisionIndices(c: Context, log: TransparencyLog): Promise<number[]> {
  const id = c.req.param('id') ?? '';
  const source = c.req.query('source');
  if (source !== undefined) {
    const found = await log.findAllById(source, id);
    if (found.length === 0)
      throw new HttpError(404, 'decision_not_found', `no decision ${id} from source ${source}`);
    return found;
  }
  const found = await log.findByIdAnySource(id);
  if (found.length === 0) throw new HttpError(404, 'decision_not_found', `no decision with id ${id}`);
  const sources = await Promise.all(found.map(async (i) => decodeEntry((await log.entry(i))!).src));
  const distinct = [...new Set(sources)];
  if (distinct.length > 1) {
    throw new HttpError(
      409,
      'ambiguous_id',
      `${distinct.length} sources logged id ${id}: add ?source= (${distinct.join(', ')})`,
    );
  }
  return found;
}

/**
 * GET /v1/decisions/{id}: the verification bundle of the first entry with that id; when later
 * entries have the same ids and other content, their bundles follow in `conflicts`, each with
 * `conflicts_with` naming the first (absent when there is no conflict, so the answer keeps its
 * single-entry shape).
 */
async function decisionLookup(
  c: Context,
  log: TransparencyLog,
  bundle: (c: Context, index: number) => Promise<{ text: string }>,
): Promise<string> {
  const [first, ...later] = await decisionIndices(c, log);
  const main = (await bundle(c, first!)).text;
  if (later.length === 0) return main;
  const others = await Promise.all(
    later.map(async (i) => `{"conflicts_with":${first},${(await bundle(c, i)).text.slice(1)}`),
  );
  return `${main.slice(0, -1)},"conflicts":[${others.join(',')}]}`;
}

/** The erasure request's reason: a JSON body {"reason": "..."} of 1..1024 characters. */
async function eraseReason(c: Context): Promise<string> {
  let reason: unknown;
  try {
    reason = ((await readJsonBody(c.req.raw, 64 * 1024)) as { reason?: unknown }).reason;
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'invalid_json', 'body must be JSON: {"reason": "..."}');
  }
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 1024) {
    throw new HttpError(
      400,
      'invalid_reason',
      'reason must be a non-empty string of at most 1024 characters',
    );
  }
  return reason;
}

function tlogProofResponse(c: Context, text: string): Response {
  return c.body(text, 200, { 'Content-Type': 'text/plain; charset=utf-8' });
}

/**
 * A C2SP tlog-proof file: the entry bytes ride in the `extra` line, so the file alone is
 * enough to recompute the leaf hash and check it offline.
 */
export function formatTlogProof(
  index: number,
  entry: Uint8Array,
  proof: Uint8Array[],
  checkpointNote: string,
): string {
  return `c2sp.org/tlog-proof@v1\nextra ${toBase64(entry)}\nindex ${index}\n${proof.map((p) => `${toBase64(p)}\n`).join('')}\n${checkpointNote}`;
}

function timeParam(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : parseRfc3339Ms(v);
  if (ms === null || !Number.isSafeInteger(ms)) {
    throw new HttpError(400, 'invalid_parameter', `${name} must be RFC 3339 or milliseconds since the epoch`);
  }
  return ms;
}

const RESULTS = new Set(['true', 'false', 'undefined', 'value']);

/** The search filter from the query (kind defaults to OPA decisions). */
function searchFilter(c: Context): SearchFilter {
  const q = (k: string) => c.req.query(k);
  const result = q('result');
  if (result !== undefined && !RESULTS.has(result)) {
    throw new HttpError(400, 'invalid_parameter', 'result must be true, false, undefined or value');
  }
  return {
    kind: q('kind') ?? 'opa.decision',
    ...(q('since') !== undefined ? { sinceMs: timeParam(q('since'), 'since')! } : {}),
    ...(q('until') !== undefined ? { untilMs: timeParam(q('until'), 'until')! } : {}),
    ...(q('path') !== undefined ? { path: q('path')!.replace(/^\/+/, '') } : {}),
    ...(result !== undefined ? { result } : {}),
    ...(q('source') !== undefined ? { source: q('source')! } : {}),
    ...(q('bundle_revision') !== undefined ? { revision: q('bundle_revision')! } : {}),
  };
}

/** Paging: cursor (exclusive), limit (1..1000 per JSON page, any for NDJSON), and the format. */
function searchPaging(c: Context): { cursor: number; limit: number; ndjson: boolean } {
  const cursorRaw = c.req.query('cursor');
  const cursor = cursorRaw === undefined ? -1 : parseCanonicalDecimal(cursorRaw);
  if (cursor === undefined)
    throw new HttpError(400, 'invalid_parameter', 'cursor must be a canonical decimal');
  const ndjson =
    c.req.query('format') === 'ndjson' || /application\/x-ndjson/.test(c.req.header('accept') ?? '');
  const limitRaw = c.req.query('limit');
  const limit =
    limitRaw === undefined ? (ndjson ? Number.MAX_SAFE_INTEGER : 100) : parseCanonicalDecimal(limitRaw);
  if (limit === undefined || limit < 1 || (!ndjson && limit > 1000)) {
    throw new HttpError(400, 'invalid_parameter', `limit must be 1..${ndjson ? 'any' : 1000}`);
  }
  return { cursor, limit, ndjson };
}

/** One search hit as a JSON object: the decoded entry, whether it is signed yet, its event. */
async function searchRow(log: TransparencyLog, published: number, idx: number): Promise<string> {
  const e = decodeEntry((await log.entry(idx))!);
  const p = await log.payload(idx);
  const erasure = await log.erasure(idx);
  return `{"index":${idx},"kind":${JSON.stringify(e.kind)},"source":${JSON.stringify(e.src)},"id":${JSON.stringify(e.id)},"timestamp":${e.ts === undefined ? 'null' : JSON.stringify(e.ts)},"received_ms":${e.recv},"signed":${idx < published},"erased":${erasedField(erasure)},"event":${p ? stringifyJson(decodeDeterministic(p.payload)) : 'null'}}`;
}

/** GET /v1/decisions: one JSON page with a cursor, or every match streamed as NDJSON. */
async function search(c: Context, log: TransparencyLog): Promise<Response> {
  const filter = searchFilter(c);
  const { cursor, limit, ndjson } = searchPaging(c);
  const published = log.latest().size;
  const rows = (hits: number[]) => Promise.all(hits.map((idx) => searchRow(log, published, idx)));
  if (!ndjson) {
    const hits = await log.search(filter, cursor, limit);
    const next = hits.length === limit ? hits[hits.length - 1]! : null;
    return c.body(
      `{"decisions":[${(await rows(hits)).join(',')}],"next_cursor":${next === null ? 'null' : `"${next}"`}}`,
      200,
      { 'Content-Type': 'application/json; charset=utf-8' },
    );
  }
  // NDJSON: stream every match, page by page, so memory stays flat for any result size.
  let after = cursor;
  let left = limit;
  const enc = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const hits = await log.search(filter, after, Math.min(500, left));
      if (hits.length === 0) {
        controller.close();
        return;
      }
      after = hits[hits.length - 1]!;
      left -= hits.length;
      controller.enqueue(enc.encode(`${(await rows(hits)).join('\n')}\n`));
      if (left <= 0) controller.close();
    },
  });
  return c.body(stream, 200, { 'Content-Type': 'application/x-ndjson; charset=utf-8' });
}
