/**
 * Ingestion as the senders send it, unmodified:
 *
 *   POST /logs, /logs/<partition>   OPA decision-log uploads: a gzip (or identity) JSON array of
 *                                   decision events (old newline framing and NDJSON too)
 *   POST /k8s/audit[/<cluster>]     Kubernetes audit webhook: an audit.k8s.io/v1 EventList
 *
 * Every JSON object becomes one leaf, odd ones included (flagged, never refused: OPA resends a
 * refused chunk forever). A body that cannot be decoded, or is over a size or depth limit, is
 * refused whole with a JSON error and nothing of it is applied. The answer (2xx) is sent only
 * after the batch committed.
 */

import { Hono } from 'hono';
import type { CborObject, CborValue } from '../core/cbor.js';
import { JsonError } from '../core/json.js';
import { JsonByteGuard } from '../core/json-guard.js';
import { deriveK8sAudit, parseRfc3339Ms } from '../core/opa.js';
import { derivedInput, opaDecisionInput } from '../log/leaf.js';
import type { AppendResult, EventInput, TransparencyLog } from '../log/log.js';
import { requireRole, type TokenStore } from './auth.js';
import { bodyText, jsonRefusal, parseJsonPieces, parseJsonYielding, readEncodedBytes } from './body.js';
import { DecodeBudget, type DecodeReservation } from './decode-budget.js';
import { HttpError } from './errors.js';

export interface IngestOptions {
  /** Largest request body as sent (compressed), bytes. */
  maxCompressedBytes: number;
  /** Largest body after gunzip, bytes: the gzip-bomb guard. */
  maxDecompressedBytes: number;
  /** Most events in one request. */
  maxEvents: number;
  /** Deepest JSON nesting accepted. */
  maxDepth: number;
  /** Bodies decoded (inflated and parsed) at once; others wait. Bounds memory under gzip bombs. */
  maxConcurrentDecodes: number;
  /**
   * Text bytes (inflated, or as sent) the decodes in flight may hold together, the oldest
   * excepted (it may reach maxDecompressedBytes); the others wait for room (decode-budget.ts).
   */
  maxDecodeBytes: number;
}

/**
 * Why 8 MiB and 12,000 events (64 MiB and 100,000 until session 12): a request is committed
 * whole, and until it is, its leaves live in both threads (~3-5 KiB a leaf all told): one
 * upload of 90,000 OPA decisions (58 MB) peaked the server at 511 MiB, 99,000 tiny events at
 * 360, against the 300 MiB budget; at these limits 16 uploads at once peak at 279 MiB on a
 * fresh log (spec/storage.md "Large uploads"). OPA's own uploads are ~32 KiB gzip
 * (upload_size_limit_bytes), ~450 decisions. 16 MiB of decode budget: text and the leaves
 * made of it (32 MiB of text alone before).
 */
export const DEFAULT_INGEST_OPTIONS: IngestOptions = {
  maxCompressedBytes: 16 * 1024 * 1024,
  maxDecompressedBytes: 8 * 1024 * 1024,
  maxEvents: 12_000,
  maxDepth: 128,
  maxConcurrentDecodes: 4,
  maxDecodeBytes: 16 * 1024 * 1024,
};

/**
 * A counting semaphore for body decoding: each decode may hold up to maxDecompressedBytes of
 * inflated text, so at most `max` run at once (memory stays under max x that cap, however
 * many gzip bombs arrive together); the rest wait their turn in order.
 */
class DecodeSlots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(max: number) {
    this.#free = max;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

const JSON_TYPES = /^(application\/(json|x-ndjson|jsonl|x-json-stream|[\w.+-]+\+json)|text\/plain)\s*(;|$)/i;

/** What {@link decodeBody} answers when every element of the body went to its sink. */
const STREAMED = Symbol('streamed');

/**
 * Reads, gunzips and decodes a JSON body: the parsed value(s). `batchKey` names the batch
 * array of an object body (Kubernetes: "items"); its elements (or those of a top-level array,
 * or NDJSON lines) are the events, at most `maxEvents`, counted while parsing. Every byte of
 * text is taken from `reserve` first (the shared decode budget). With a `sink`, the elements
 * of a body parsed in pieces go to it (parseJsonPieces) and the answer is {@link STREAMED}.
 */
async function decodeBody(
  req: Request,
  opts: IngestOptions,
  reserve: (bytes: number) => Promise<void> | undefined,
  batchKey?: string,
  sink?: (elements: CborValue[]) => Promise<void> | undefined,
): Promise<CborValue | typeof STREAMED> {
  const ct = req.headers.get('content-type');
  if (ct !== null && ct !== '' && !JSON_TYPES.test(ct)) {
    throw new HttpError(415, 'unsupported_media_type', `Content-Type ${ct} is not JSON`);
  }
  const limits = { maxDepth: opts.maxDepth, maxItems: opts.maxEvents, batchKey };
  const guard = new JsonByteGuard(batchKey === undefined ? limits : { ...limits, maxItems: Infinity });
  let bytes: Uint8Array;
  try {
    bytes = await readEncodedBytes(req, opts.maxCompressedBytes, opts.maxDecompressedBytes, guard, reserve);
  } catch (err) {
    throw err instanceof JsonError ? jsonRefusal(err, 'event', { too_many_items: 'too_many_events' }) : err;
  }
  if (batchKey === undefined) {
    const items = await parseJsonPieces(bytes, guard, limits, sink);
    if (items !== undefined) return sink ? STREAMED : items;
  }
  const text = bodyText(bytes);
  if (text.trim() === '') throw new HttpError(400, 'empty_body', 'the body is empty');
  try {
    return await parseJsonYielding(text, limits);
  } catch (err) {
    if (!(err instanceof JsonError)) throw err;
    // NDJSON (EOPA's http sink): one JSON value per line.
    if (err.code === 'invalid_json' && text.trimStart().startsWith('{')) {
      const lines = text.split('\n').filter((l) => l.trim() !== '');
      if (lines.length > 1) return ndjson(lines, opts);
    }
    throw jsonRefusal(err, 'event', { too_many_items: 'too_many_events' });
  }
}

/** NDJSON lines, each parsed within the same limits; refused whole if any line is not JSON. */
async function ndjson(lines: string[], opts: IngestOptions): Promise<CborValue[]> {
  if (lines.length > opts.maxEvents) {
    throw new HttpError(
      413,
      'too_many_events',
      `${lines.length} events; at most ${opts.maxEvents} per request`,
    );
  }
  const out: CborValue[] = [];
  for (const [i, line] of lines.entries()) {
    try {
      out.push(await parseJsonYielding(line, { maxDepth: opts.maxDepth }));
    } catch (e) {
      if (!(e instanceof JsonError)) throw e;
      const refusal = jsonRefusal(e, 'event');
      throw new HttpError(refusal.status, refusal.code, `NDJSON line ${i + 1}: ${e.message}`);
    }
  }
  return out;
}

const isObject = (v: CborValue): v is CborObject =>
  v !== null &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  !(v instanceof Uint8Array) &&
  !(v instanceof Map);

/**
 * `items` as event objects, refused unless each is a JSON object and the request holds at most
 * `max`: `before` events came earlier in the same request (a body handed over in pieces).
 */
function objects(items: readonly CborValue[], what: string, max: number, before = 0): CborObject[] {
  if (before + items.length > max) {
    throw new HttpError(
      413,
      'too_many_events',
      `${before + items.length} events; at most ${max} per request`,
    );
  }
  items.forEach((it, i) => {
    if (!isObject(it))
      throw new HttpError(400, 'invalid_event', `${what} ${before + i} is not a JSON object`);
  });
  return items as CborObject[];
}

/**
 * Appends the events; resolves with the upload's answer once they are committed. Not async on
 * purpose: while the commit is awaited nothing here holds `inputs` (the parsed events; the
 * queued leaves are all the wait needs), so their heap can go at the next scavenge.
 */
function append(log: TransparencyLog, inputs: EventInput[]) {
  return (inputs.length ? log.appendEvents(inputs) : Promise.resolve([])).then(answer);
}

/** The answer to an upload from its append results. */
function answer(results: readonly AppendResult[]) {
  const duplicates = results.filter((r) => r.duplicate).length;
  // Same ids, other content: logged too (never dropped), and counted so the sender sees it.
  const conflicts = results.filter((r) => r.conflictsWith !== undefined).length;
  return {
    accepted: results.length,
    appended: results.length - duplicates,
    duplicates,
    conflicts,
    indices: results.map((r) => r.index),
  };
}

/** Makes, with a decode's reservation, the sink that takes the elements of a body parsed in pieces. */
type SinkMaker = (reserve: DecodeReservation['take']) => (elements: CborValue[]) => Promise<void> | undefined;

/** Decodes a body within a slot and the budget; `sink` as {@link decodeBody}'s. */
type Decode = (req: Request, batchKey?: string, sink?: SinkMaker) => Promise<CborValue | typeof STREAMED>;

/**
 * An OPA upload: a body parsed in pieces (above ~32 KiB) becomes leaves piece by piece, held
 * packed as each piece is parsed (log.eventAppender), so neither the whole parsed array nor
 * its leaves as objects ever live at once: a 90,000-decision upload peaked the server at 676
 * MiB when they did. The upload is still appended as one request, all or nothing. A refused
 * event refuses it (the first in body order), after the rest of the body was parsed: JSON that
 * does not parse anywhere in the body is what is reported, as for a body parsed whole.
 */
async function opaUpload(log: TransparencyLog, opts: IngestOptions, decode: Decode, req: Request) {
  let appender = log.eventAppender();
  let seen = 0;
  let refused: unknown;
  const value = await decode(req, undefined, (reserve) => (elements) => {
    if (refused !== undefined) return undefined;
    try {
      const events = objects(elements, 'event', opts.maxEvents, seen);
      seen += events.length;
      // The leaves made count against the decode budget as its text does (until the upload
      // is queued, where the queue's bound takes over): four large uploads decoding at once
      // made ~4 x 16 MB of leaves before any of them met that bound.
      return reserve(appender.add(events.map((e) => opaDecisionInput(e, log.sha))));
    } catch (err) {
      refused = err;
      return undefined;
    }
  });
  if (value === STREAMED && refused !== undefined) throw refused;
  if (value !== STREAMED) {
    // Parsed whole (a small body, or one the pieces could not take): what pieces made goes.
    appender = log.eventAppender();
    const items = Array.isArray(value) ? value : [value];
    appender.add(objects(items, 'event', opts.maxEvents).map((e) => opaDecisionInput(e, log.sha)));
  }
  return appender.append().then(answer);
}

export function ingestRoutes(log: TransparencyLog, tokens: TokenStore, opts: IngestOptions): Hono {
  const app = new Hono();
  const ingest = requireRole(tokens, 'ingest');
  const slots = new DecodeSlots(opts.maxConcurrentDecodes);
  const budget = new DecodeBudget(opts.maxDecodeBytes);
  /** Decodes a body within a slot and the budget; its bytes go back as soon as it is parsed. */
  const decode: Decode = (req, batchKey, sink) =>
    slots.run(async () => {
      const r = budget.open();
      try {
        return await decodeBody(req, opts, r.take, batchKey, sink?.(r.take));
      } finally {
        r.release();
      }
    });
  const opa = (req: Request) => opaUpload(log, opts, decode, req);
  app.post('/logs', ingest, async (c) => c.json(await opa(c.req.raw)));
  app.post('/logs/*', ingest, async (c) => c.json(await opa(c.req.raw)));

  const k8s = async (req: Request, source: string) => {
    const value = await decode(req, 'items'); // no sink: never STREAMED
    if (value === STREAMED || !isObject(value) || value.kind !== 'EventList' || !Array.isArray(value.items)) {
      throw new HttpError(
        400,
        'invalid_event_list',
        'body is not an audit.k8s.io EventList (kind EventList, items [])',
      );
    }
    const events = objects(value.items, 'item', opts.maxEvents);
    return append(
      log,
      events.map((e) => {
        const d = deriveK8sAudit(e, source, log.sha);
        return derivedInput(d, {
          tsMs: d.ts ? parseRfc3339Ms(d.ts) : null,
          path: null,
          result: null,
          revisions: [],
        });
      }),
    );
  };
  app.post('/k8s/audit', ingest, async (c) => c.json(await k8s(c.req.raw, 'k8s')));
  app.post('/k8s/audit/:cluster', ingest, async (c) =>
    c.json(await k8s(c.req.raw, `k8s/${c.req.param('cluster')}`)),
  );

  return app;
}
