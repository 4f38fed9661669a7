/**
 * Readiness reasons in process (no root needed): a log not started yet, a stale signer, a
 * witness quorum not met, and the happy path; plus the metrics role and the log metrics sink
 * on an in-process app.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import { TokenStore } from '../../src/http/auth.js';
import { Metrics } from '../../src/http/metrics.js';
import { TransparencyLog } from '../../src/log/log.js';
import { openTestLog, testConfig } from '../helpers/log.js';
import { captureLogger } from '../helpers/logger.js';
import { tempDir } from '../helpers/tmp.js';

const open: TransparencyLog[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});

const readyz = async (app: ReturnType<typeof createApp>) => {
  const res = await app.request('/readyz');
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('/readyz reasons', () => {
  test('signer_stopped before start, ready after, quorum_not_met with a failing quorum', async () => {
    const dbPath = join(tempDir(), 'log.db');
    const log = await TransparencyLog.open(testConfig(dbPath, { signIntervalMs: 50 }));
    open.push(log);
    expect(await readyz(createApp(log))).toMatchObject({ status: 503, body: { reason: 'signer_stopped' } });
    await log.start();
    expect(await readyz(createApp(log))).toEqual({ status: 200, body: { status: 'ready' } });
    let met = false;
    const witnessed = createApp(log, { ...DEFAULT_APP_OPTIONS, readiness: { quorumMet: () => met } });
    expect(await readyz(witnessed)).toMatchObject({ status: 503, body: { reason: 'quorum_not_met' } });
    met = true;
    expect((await readyz(witnessed)).status).toBe(200);
  });

  test('checkpoint_stale when no signing attempt succeeded for 3 periods', async () => {
    let now = Date.now();
    const log = await openTestLog(join(tempDir(), 'log.db'), { signIntervalMs: 1000 });
    open.push(log);
    const app = createApp(log, { ...DEFAULT_APP_OPTIONS, readiness: { now: () => now } });
    expect((await readyz(app)).status).toBe(200);
    now += 3_500;
    expect(await readyz(app)).toMatchObject({ status: 503, body: { reason: 'checkpoint_stale' } });
  });
});

describe('/metrics in process', () => {
  test('needs the metrics (or admin) role; counts appended and deduplicated events', async () => {
    const metrics = new Metrics();
    const log = await openTestLog(join(tempDir(), 'log.db'), { metrics: metrics.log });
    open.push(log);
    metrics.bind(log);
    const { logger, lines } = captureLogger();
    const tokens = new TokenStore('metrics:metrics-token-0123456789\nread:read-token-0123456789ab', []);
    const app = createApp(log, { ...DEFAULT_APP_OPTIONS, tokens, metrics, logger });
    const get = (t?: string) =>
      app.request('/metrics', t ? { headers: { authorization: `Bearer ${t}` } } : {});
    expect((await get()).status).toBe(401);
    expect((await get('read-token-0123456789ab')).status).toBe(403);
    const ev = { kind: 'event', source: 's', id: 'a', event: { x: 1 } };
    await log.appendEvents([ev]);
    await log.appendEvents([ev]);
    const text = await (await get('metrics-token-0123456789')).text();
    expect(text).toContain('opa_tlog_decisions_accepted_total 1');
    expect(text).toContain('opa_tlog_decisions_deduplicated_total 1');
    expect(text).toContain('opa_tlog_commit_batch_size_count 2');
    expect(text).toContain('opa_tlog_http_requests_total{method="GET",route="/metrics",status="401"} 1');
    expect(
      lines.filter((l) => l.msg === 'request').every((l) => typeof l.fields.requestId === 'string'),
    ).toBe(true);
  });
});
