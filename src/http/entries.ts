/**
 * Minimal append API: POST /v1/entries with one JSON object or an array of them; each becomes
 * an `event` entry. An `Idempotency-Key` header makes a retry return the same indices instead
 * of adding leaves (item i of the request gets id "<key>/<i>"). Answers only after commit.
 * Bodies are parsed like every JSON body (http/body.ts): exact integers, duplicate keys refused,
 * limits applied while reading; gzip Content-Encoding is honoured as on /logs.
 */
import { Hono } from 'hono';
import { toBase64 } from '../core/bytes.js';
import type { CborValue } from '../core/cbor.js';
import { JsonError } from '../core/json.js';
import { JsonByteGuard } from '../core/json-guard.js';
import {
  type AppendResult,
  ConflictError,
  type EventInput,
  type StoredCheckpoint,
  type TransparencyLog,
} from '../log/log.js';
import { requireRole, type TokenStore } from './auth.js';
import { jsonRefusal, parseJsonYielding, readEncodedText } from './body.js';
import { HttpError } from './errors.js';

/** Deepest JSON nesting of a /v1/entries body: the CBOR encoder's own limit. */
const ENTRY_JSON_DEPTH = 512;
/** /v1/entries names these refusals as it always did (nesting too deep: invalid_entry). */
const ENTRY_CODES = { too_many_items: 'too_many_entries', too_deep: 'invalid_entry' } as const;

export interface EntriesOptions {
  /** Largest accepted request body in bytes. */
  maxBodyBytes: number;
  /** Most events in one request. */
  maxItems: number;
  tokens: TokenStore;
  /** Longest ?wait=checkpoint waits, ms. */
  checkpointWaitMs: number;
}

const reused = (key: string, why: string) =>
  new HttpError(422, 'idempotency_key_reused', `Idempotency-Key ${JSON.stringify(key)} was used with ${why}`);

/**
 * Appends the request's items as `event` entries (item i gets the id `<key>/<i>`). With an Idempotency-Key the request is applied whole or not at
 * all: a resend of the same body returns the first indices; the key with a different body is
 * refused (422) with nothing applied: a different item count is found here (an item beyond
 * this body's length exists, or the first exists and the last does not), different content by
 * the store inside the append's transaction (ConflictError).
 */
async function appendIdempotent(
  log: TransparencyLog,
  items: readonly unknown[],
  key: string | undefined,
): Promise<AppendResult[]> {
  const events: EventInput[] = items.map((event, i) => ({
    kind: 'event',
    source: 'api',
    id: key === undefined ? '' : `${key}/${i}`,
    event: event as CborValue,
    dedup: key !== undefined,
    refuseConflict: key !== undefined,
  }));
  if (key !== undefined) {
    const has = async (i: number) => (await log.findById('api', `${key}/${i}`)) !== undefined;
    const n = events.length;
    if ((await has(n)) || ((await has(0)) && !(await has(n - 1))))
      throw reused(key, 'another number of entries');
  }
  try {
    return await log.appendEvents(events);
  } catch (err) {
    if (err instanceof ConflictError && key !== undefined) throw reused(key, 'a different body');
    throw err;
  }
}

/** The request's JSON objects: one object or an array of 1..maxItems of them. */
async function readItems(req: Request, opts: EntriesOptions): Promise<CborValue[]> {
  const ct = req.headers.get('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(ct)) {
    throw new HttpError(415, 'unsupported_media_type', 'send Content-Type: application/json');
  }
  // Content-Encoding as for /logs; the inflated body has the same cap as a plain one.
  const limits = { maxDepth: ENTRY_JSON_DEPTH, maxItems: opts.maxItems };
  let parsed: CborValue;
  try {
    const text = await readEncodedText(req, opts.maxBodyBytes, opts.maxBodyBytes, new JsonByteGuard(limits));
    parsed = await parseJsonYielding(text, limits);
  } catch (err) {
    throw err instanceof JsonError ? jsonRefusal(err, 'item', ENTRY_CODES) : err;
  }
  const items = Array.isArray(parsed) ? parsed : [parsed];
  if (items.length === 0) throw new HttpError(400, 'empty_batch', 'no entries in the request');
  if (items.length > opts.maxItems) {
    throw new HttpError(413, 'too_many_entries', `at most ${opts.maxItems} entries per request`);
  }
  items.forEach((it, i) => {
    if (it === null || typeof it !== 'object' || Array.isArray(it)) {
      throw new HttpError(400, 'invalid_entry', `item ${i} is not a JSON object`);
    }
  });
  return items;
}

export function entryRoutes(log: TransparencyLog, opts: EntriesOptions): Hono {
  const app = new Hono();

  app.post('/v1/entries', requireRole(opts.tokens, 'ingest'), async (c) => {
    const items = await readItems(c.req.raw, opts);
    const key = c.req.header('idempotency-key');
    if (key !== undefined && (key.length === 0 || key.length > 256)) {
      throw new HttpError(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1..256 characters');
    }
    const wait = c.req.query('wait');
    if (wait !== undefined && wait !== 'checkpoint') {
      throw new HttpError(400, 'invalid_parameter', 'wait must be "checkpoint"');
    }
    const results = await appendIdempotent(log, items, key);
    const body = {
      indices: results.map((r) => r.index),
      duplicates: results.map((r) => r.duplicate),
      committed_size: log.committedSize,
    };
    if (wait === undefined) return c.json(body);
    // Answer once a signed checkpoint covers every new entry, with a proof for each.
    const need = Math.max(...body.indices) + 1;
    let cp: StoredCheckpoint;
    try {
      cp = await log.waitForCheckpoint(need, opts.checkpointWaitMs);
    } catch {
      throw new HttpError(
        503,
        'not_yet_signed',
        'the entries are committed but no checkpoint covered them in time',
        {
          'Retry-After': '1',
        },
      );
    }
    // One entry at a time: a network store is not flooded with thousands of reads at once.
    const leafHashes: string[] = [];
    const proofs: string[][] = [];
    for (const i of body.indices) {
      const { leafHash, proof } = await log.inclusion(i, cp.size);
      leafHashes.push(toBase64(leafHash));
      proofs.push(proof.map(toBase64));
    }
    return c.json({
      ...body,
      tree_size: cp.size,
      checkpoint: log.publishedNote(cp),
      leaf_hashes: leafHashes,
      proofs,
    });
  });

  return app;
}
