/**
 * Minimal append API: POST /v1/entries with one JSON object or an array of them; each becomes
 * an `event` entry. An `Idempotency-Key` header makes a retry return the same indices instead
 * of adding leaves (item i of the request gets id "<key>/<i>"). Answers only after commit.
 */
import { Hono } from 'hono';
import type { CborValue } from '../core/cbor.js';
import type { EventInput, TransparencyLog } from '../log/log.js';
import { readBody } from './body.js';
import { HttpError } from './errors.js';

export interface EntriesOptions {
  /** Largest accepted request body in bytes. */
  maxBodyBytes: number;
  /** Most events in one request. */
  maxItems: number;
}

export function entryRoutes(log: TransparencyLog, opts: EntriesOptions): Hono {
  const app = new Hono();

  app.post('/v1/entries', async (c) => {
    const ct = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(ct)) {
      throw new HttpError(415, 'unsupported_media_type', 'send Content-Type: application/json');
    }
    const text = await readBody(c.req.raw, opts.maxBodyBytes);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, 'invalid_json', `body is not JSON: ${(err as Error).message}`);
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
    const key = c.req.header('idempotency-key');
    if (key !== undefined && (key.length === 0 || key.length > 256)) {
      throw new HttpError(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1..256 characters');
    }
    const events: EventInput[] = items.map((event, i) => ({
      kind: 'event',
      source: 'api',
      id: key === undefined ? '' : `${key}/${i}`,
      event: event as CborValue,
      dedup: key !== undefined,
    }));
    const results = await log.appendEvents(events);
    return c.json({
      indices: results.map((r) => r.index),
      duplicates: results.map((r) => r.duplicate),
      committed_size: log.committedSize,
    });
  });

  return app;
}
