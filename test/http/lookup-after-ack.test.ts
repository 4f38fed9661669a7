/**
 * Issue 11: lookups never miss, although the lookup index is built behind the commit. Against
 * the real server (dist/, commits and indexing in the writer thread): every decision of an
 * upload is found by id right after the upload's acknowledgement (the unindexed tail is
 * answered from the recent ids the main thread keeps), and still once the indexer has caught up.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { tempDir } from '../helpers/log.js';
import { type RunningServer, startServer } from '../helpers/server.js';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const decision = (id: string) => ({
  labels: { id: 'opa-1' },
  decision_id: id,
  timestamp: '2025-01-15T10:30:00Z',
  path: 'authz/allow',
  result: true,
});

/** Looks up every id (a few at a time) and returns the index each answered with. */
async function lookupAll(url: string, ids: string[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i += 25) {
    const rs = await Promise.all(ids.slice(i, i + 25).map((id) => fetch(`${url}/v1/decisions/${id}`)));
    for (const r of rs) {
      expect(r.status).toBe(200);
      out.push(((await r.json()) as { index: number }).index);
    }
  }
  return out;
}

describe('lookups right after the acknowledgement (real server)', () => {
  test('every decision of each upload is found at once, and after the indexer caught up', async () => {
    server = await startServer(join(tempDir(), 'data'), ['--sign-interval-ms', '20']);
    const url = server.url;
    const all: { ids: string[]; indices: number[] }[] = [];
    for (let round = 0; round < 4; round++) {
      const ids = Array.from({ length: 200 }, (_, i) => `r${round}-${i}`);
      const res = await fetch(`${url}/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ids.map(decision)),
      });
      expect(res.status).toBe(200);
      const { indices } = (await res.json()) as { indices: number[] };
      expect(await lookupAll(url, ids)).toEqual(indices);
      all.push({ ids, indices });
    }
    // The indexer runs 500 ms behind at most (plus an idle tick): then the runs answer.
    await new Promise((r) => setTimeout(r, 1200));
    for (const { ids, indices } of all) expect(await lookupAll(url, ids)).toEqual(indices);
  }, 60_000);
});
