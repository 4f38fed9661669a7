/**
 * Public fields validated (issue 15 part 6): free text in `labels.id`, `decision_id` or
 * `timestamp` never reaches the public leaf; it is withheld (flagged) and kept privately, and
 * dedup and lookups by id still work with the real values.
 */
import { describe, expect, test } from 'vitest';
import { fromBase64 } from '../../src/core/bytes.js';
import { decodeEntry } from '../../src/core/entry.js';
import type { createApp } from '../../src/http/app.js';
import { openTestApp } from '../helpers/log.js';

const setup = () => openTestApp({ checkpointWaitMs: 2000 });

const post = (app: ReturnType<typeof createApp>, path: string, body: unknown) =>
  app.request(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

describe('public fields', () => {
  test('free text in labels.id, decision_id and timestamp is withheld from the leaf', async () => {
    const { app, log } = await setup();
    const odd = {
      labels: { id: "Alice's laptop" },
      decision_id: 'alice@example.com',
      timestamp: 'Alice Smith',
      input: { x: 1 },
    };
    const fine = { labels: { id: 'opa-1' }, decision_id: 'd-1', timestamp: '2025-01-15T10:30:00Z' };
    const r = (await (await post(app, '/logs', [odd, fine])).json()) as { indices: number[] };
    const e = decodeEntry((await log.entry(r.indices[0]!))!);
    expect(e).toMatchObject({ src: '', id: '' });
    expect(e.ts).toBeUndefined();
    expect(e.flags).toEqual(['withheld_id', 'withheld_src', 'withheld_ts']);
    const raw = new TextDecoder().decode(await log.entry(r.indices[0]!));
    for (const s of ['Alice', 'alice@example.com']) expect(raw).not.toContain(s);
    expect(decodeEntry((await log.entry(r.indices[1]!))!)).toMatchObject({
      src: 'opa-1',
      id: 'd-1',
      ts: '2025-01-15T10:30:00Z',
    });
    expect(decodeEntry((await log.entry(r.indices[1]!))!).flags).toBeUndefined();
    // Dedup uses the real values: an identical resend adds nothing.
    const again = (await (await post(app, '/logs', [odd])).json()) as {
      duplicates: number;
      indices: number[];
    };
    expect(again).toMatchObject({ duplicates: 1, indices: [r.indices[0]] });
    // Lookups by the real id (and source) still find it through the private index.
    const byId = await app.request(`/v1/decisions/${encodeURIComponent('alice@example.com')}`);
    expect(byId.status).toBe(200);
    const body = (await byId.json()) as { index: number; entry: string; event: { decision_id: string } };
    expect(body.index).toBe(r.indices[0]);
    expect(body.event.decision_id).toBe('alice@example.com');
    expect(decodeEntry(fromBase64(body.entry)!).id).toBe('');
    const bySource = await app.request(
      `/v1/decisions/${encodeURIComponent('alice@example.com')}?source=${encodeURIComponent("Alice's laptop")}`,
    );
    expect(bySource.status).toBe(200);
    // The empty public id finds nothing.
    expect((await app.request('/v1/decisions/%20')).status).toBe(404);
  });

  test('an erased withheld id is no longer found by it', async () => {
    const { app } = await setup();
    const ev = { labels: { id: 'opa-1' }, decision_id: 'bob@example.com', timestamp: '2025-01-15T10:30:00Z' };
    const r = (await (await post(app, '/logs', [ev])).json()) as { indices: number[] };
    expect((await post(app, `/v1/entries/${r.indices[0]}/erase`, { reason: 'gdpr-art17' })).status).toBe(200);
    expect((await app.request(`/v1/decisions/${encodeURIComponent('bob@example.com')}`)).status).toBe(404);
  });
});
