/**
 * /metrics with the real Prometheus tools from Debian: `promtool check metrics` accepts the
 * server's output, and a `prometheus` server scraping it (bearer token with the `metrics`
 * role) sees the decisions-accepted counter reach the count of the OPA sample upload. Skipped
 * with a warning when the binaries are missing, unless OPA_TLOG_REQUIRE_PROMETHEUS=1.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { RunningServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { opaSample, startWithTokens, TOKENS, uploadSample } from './fixture.js';

const have = (bin: string) => spawnSync(bin, ['--version'], { encoding: 'utf8' }).status === 0;
const haveTools = have('promtool') && have('prometheus');
if (!haveTools) {
  if (process.env.OPA_TLOG_REQUIRE_PROMETHEUS === '1')
    throw new Error(
      'promtool/prometheus are required (OPA_TLOG_REQUIRE_PROMETHEUS=1): apt-get install prometheus',
    );
  console.warn('prometheus tests skipped: install Debian package prometheus (promtool, prometheus)');
}

let srv: RunningServer | undefined;
let prom: ChildProcess | undefined;
afterAll(async () => {
  prom?.kill('SIGTERM');
  await srv?.stop();
});

const metricsText = async (url: string, token?: string) =>
  fetch(`${url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The scalar value of an instant query, or undefined when it has no sample yet. */
async function query(promUrl: string, q: string): Promise<number | undefined> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => undefined);
  if (res?.status !== 200) return undefined;
  const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
  const v = body.data.result[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

describe.skipIf(!haveTools)('Prometheus', () => {
  test('promtool accepts /metrics; it needs the metrics role; Prometheus scrapes the accepted count', async () => {
    srv = await startWithTokens(tempDir());
    expect((await metricsText(srv.url)).status).toBe(401);
    expect((await metricsText(srv.url, TOKENS.read)).status).toBe(403);
    expect((await uploadSample(srv.url, TOKENS.ingest)).status).toBe(200);
    const res = await metricsText(srv.url, TOKENS.metrics);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.stdout + check.stderr, 'promtool check metrics').toBe('');
    expect(check.status).toBe(0);
    const n = opaSample().events.length;
    expect(text).toContain(`opa_tlog_decisions_accepted_total ${n}`);
    for (const name of [
      'opa_tlog_http_requests_total{method="POST",route="/logs",status="200"} 1',
      'opa_tlog_upload_bytes_total',
      'opa_tlog_sequencer_queue_depth',
      'opa_tlog_commit_batch_size_bucket',
      'opa_tlog_commit_duration_seconds_bucket',
      'opa_tlog_tree_size',
      'opa_tlog_last_checkpoint_age_seconds',
      'opa_tlog_checkpoint_signing_failures_total 0',
      'opa_tlog_database_bytes',
      'opa_tlog_database_wal_bytes',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ])
      expect(text).toContain(name);

    const dir = tempDir();
    const port = await freePort();
    const target = new URL(srv.url).host;
    writeFileSync(join(dir, 'token'), TOKENS.metrics);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: opa-tlog',
        '    authorization:',
        `      credentials_file: ${join(dir, 'token')}`,
        '    static_configs:',
        `      - targets: ['${target}']`,
        '',
      ].join('\n'),
    );
    prom = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    const promUrl = `http://127.0.0.1:${port}`;
    let seen: number | undefined;
    for (let i = 0; i < 120 && seen !== n; i++) {
      await new Promise((r) => setTimeout(r, 500));
      seen = await query(promUrl, 'opa_tlog_decisions_accepted_total{job="opa-tlog"}');
    }
    expect(seen).toBe(n);
    expect(await query(promUrl, 'up{job="opa-tlog"}')).toBe(1);
  }, 90_000);
});
