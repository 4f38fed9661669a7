/**
 * Erasure that erases (issue 15 part 1): after `POST /v1/entries/{i}/erase` returns and the
 * server stops, no byte of the erased event is left in any file of the data folder (database,
 * WAL, shared memory, keys), in any of the encodings it could be stored in; the folder is 0700
 * and every file in it 0600. Runs the real server (dist/).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../helpers/log.js';
import { startServer } from '../helpers/server.js';

/** Every spelling of `marker` that would reveal it: UTF-8 (also inside CBOR text), UTF-16, hex, base64. */
function spellings(marker: string): Buffer[] {
  const utf8 = Buffer.from(marker, 'utf8');
  return [
    utf8,
    Buffer.from(marker, 'utf16le'),
    Buffer.from(utf8.toString('hex'), 'utf8'),
    Buffer.from(utf8.toString('base64').slice(0, -4), 'utf8'),
  ];
}

/** Names of the files in `dir` that hold any spelling of `marker`. */
function filesHolding(dir: string, marker: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const bytes = readFileSync(join(dir, name));
    if (spellings(marker).some((s) => bytes.includes(s))) found.push(name);
  }
  return found;
}

const decision = (id: string, marker: string, big: boolean) => ({
  decision_id: id,
  labels: { id: 'opa-erasure-test', version: '1.0.0' },
  path: `authz/${marker}/allow`,
  input: { user: marker, note: big ? `${marker} `.repeat(2000) : marker },
  result: { allowed: true, who: marker },
  bundles: { authz: { revision: `rev-${marker}` } },
  timestamp: '2025-01-15T10:30:00.123456789Z',
});

describe('erasure erases', () => {
  test('an erased event leaves no trace in the data folder; folder 0700, files 0600', async () => {
    const data = join(tempDir(), 'data');
    const srv = await startServer(data, ['--sign-interval-ms', '50']);
    const small = `mk${randomBytes(12).toString('hex')}`;
    const big = `mk${randomBytes(12).toString('hex')}`;
    const keep = `mk${randomBytes(12).toString('hex')}`;
    const events = [
      decision('d-small', small, false),
      decision('d-big', big, true),
      decision('d-keep', keep, false),
    ];
    const up = await fetch(`${srv.url}/logs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(events),
    });
    expect(up.status).toBe(200);
    const { indices } = (await up.json()) as { indices: number[] };
    // More traffic after the events, so their pages are not simply the last ones written.
    const more = Array.from({ length: 200 }, (_, i) => decision(`d-more-${i}`, `filler${i}`, i % 7 === 0));
    expect((await fetch(`${srv.url}/logs`, { method: 'POST', body: JSON.stringify(more) })).status).toBe(200);
    for (const i of [indices[0]!, indices[1]!]) {
      const r = await fetch(`${srv.url}/v1/entries/${i}/erase`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ reason: 'test-erasure' }),
      });
      expect(r.status).toBe(200);
    }
    // Erased means erased as soon as the call returned: the files hold no marker while the
    // server still runs (WAL included) ...
    expect(filesHolding(data, small)).toEqual([]);
    expect(filesHolding(data, big)).toEqual([]);
    // ... the search metadata is gone: a search by the erased path finds nothing.
    const s = await fetch(`${srv.url}/v1/decisions?path=${encodeURIComponent(`authz/${small}/allow`)}`);
    expect(((await s.json()) as { decisions: unknown[] }).decisions).toEqual([]);
    expect(await srv.stop()).toBe(0);
    // ... and after a clean stop. The kept event is still there (the grep does find markers).
    expect(filesHolding(data, small)).toEqual([]);
    expect(filesHolding(data, big)).toEqual([]);
    expect(filesHolding(data, keep)).toContain('log.db');
    expect(statSync(data).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(data).filter((n) => n.startsWith('log.db'))) {
      expect([name, statSync(join(data, name)).mode & 0o777]).toEqual([name, 0o600]);
    }
    expect(statSync(join(data, 'log.key')).mode & 0o777).toBe(0o600);
  }, 30_000);
});
