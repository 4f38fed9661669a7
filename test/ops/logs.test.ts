/**
 * Structured logs under a real workload: ingestion with tokens, lookups with a read token,
 * an erasure, bad tokens, bad bodies, an aborted upload and caller-chosen request ids. Every
 * line the server printed is JSON, carries no token, Authorization header, salt, payload or
 * decision content, and every request line carries its request id (the caller's when sane).
 */
import { connect } from 'node:net';
import { afterAll, describe, expect, test } from 'vitest';
import type { RunningServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { opaSample, startWithTokens, TOKENS, uploadSample } from './fixture.js';

let srv: RunningServer | undefined;
afterAll(async () => {
  await srv?.stop();
});

const auth = (t: string) => ({ authorization: `Bearer ${t}` });

/** Sends a POST that promises 100 kB and closes the connection after a few bytes. */
function abortedUpload(url: string): Promise<void> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(
        `POST /logs HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${TOKENS.ingest}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100000\r\nX-Request-Id: req-aborted\r\n\r\n[{"a":',
      );
      setTimeout(() => {
        s.destroy();
        resolve();
      }, 200);
    });
    s.on('error', reject);
  });
}

/** The workload; returns the secret values a log line must never contain. */
async function workload(url: string): Promise<string[]> {
  const secrets: string[] = [...Object.values(TOKENS), 'wrong-token-abcdefghijklmnop'];
  const up = await uploadSample(url, TOKENS.ingest, { 'x-request-id': 'req-ingest-1' });
  expect(up.status).toBe(200);
  expect(up.headers.get('x-request-id')).toBe('req-ingest-1');
  const { events } = opaSample();
  for (const ev of events.slice(0, 5)) {
    const id = ev.decision_id as string;
    const res = await fetch(`${url}/v1/decisions/${id}`, { headers: auth(TOKENS.read) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { salt: string; payload: string };
    secrets.push(id, body.salt, body.payload);
    secrets.push(JSON.stringify(ev.input));
  }
  const search = await fetch(`${url}/v1/decisions?path=http/authz/allow`, { headers: auth(TOKENS.read) });
  expect(search.status).toBe(200);
  const erase = await fetch(`${url}/v1/entries/3/erase`, {
    method: 'POST',
    headers: { ...auth(TOKENS.admin), 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'gdpr request 42' }),
  });
  expect(erase.status).toBe(200);
  expect((await uploadSample(url, 'wrong-token-abcdefghijklmnop')).status).toBe(401);
  expect((await uploadSample(url, TOKENS.read)).status).toBe(403);
  expect((await uploadSample(url, undefined)).status).toBe(401);
  const badJson = await fetch(`${url}/logs`, {
    method: 'POST',
    headers: { ...auth(TOKENS.ingest), 'content-type': 'application/json', 'x-request-id': 'req-bad-json' },
    body: '[{"secret-bad-body-value": tru',
  });
  expect(badJson.status).toBe(400);
  secrets.push('secret-bad-body-value');
  const insane = await uploadSample(url, TOKENS.ingest, { 'x-request-id': 'has spaces and "quotes"' });
  expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  await abortedUpload(url);
  return secrets;
}

describe('structured logs', () => {
  test('no secret in any line; request lines carry their request id', async () => {
    srv = await startWithTokens(tempDir());
    const secrets = await workload(srv.url);
    await new Promise((r) => setTimeout(r, 300));
    expect(await srv.stop()).toBe(0);
    const out = srv.output();
    if (process.env.OPS_DUMP) console.log(out);
    const lines = out.split('\n').filter((l) => l.trim() !== '');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const s of secrets) expect(out.includes(s), `a log line contains ${s.slice(0, 40)}`).toBe(false);
    expect(out.toLowerCase()).not.toContain('bearer');
    expect(out.toLowerCase()).not.toContain('authorization');
    const requests = parsed.filter((p) => p.msg === 'request');
    expect(requests.length).toBeGreaterThanOrEqual(12);
    for (const r of requests) {
      expect(typeof r.requestId).toBe('string');
      expect(typeof r.route).toBe('string');
      expect(typeof r.durationMs).toBe('number');
      expect(r.route).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}/); // a pattern, not the raw path
    }
    expect(requests.find((r) => r.requestId === 'req-ingest-1')).toMatchObject({
      method: 'POST',
      route: '/logs',
      status: 200,
    });
    expect(requests.find((r) => r.requestId === 'req-bad-json')).toMatchObject({
      status: 400,
      error: 'invalid_json',
    });
    expect(requests.some((r) => r.status === 401 && r.error === 'unauthorized')).toBe(true);
    // The aborted upload is one info line with its request id, not an internal error.
    const aborted = parsed.filter((p) => p.requestId === 'req-aborted');
    expect(aborted.some((p) => p.level === 'info' && /disconnected/.test(String(p.msg)))).toBe(true);
    expect(parsed.some((p) => p.level === 'error')).toBe(false);
    expect(out).not.toContain('internal error');
  });
});
