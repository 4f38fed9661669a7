/**
 * The per-request ingest limits (--max-inflated-bytes, --max-events): defaults, flag and env,
 * checked, and applied by the real server. A request is committed whole, so its memory grows
 * with it: these bound it (spec/storage.md "Memory").
 */
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, test } from 'vitest';
import { ConfigError, loadServeConfig } from '../../src/cli/config.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

describe('--max-inflated-bytes, --max-events', () => {
  test('defaults: 8 MiB inflated and 12,000 events; flag and env set them', () => {
    const cfg = loadServeConfig([], {});
    expect(cfg.maxInflatedBytes).toBe(8 * 1024 * 1024);
    expect(cfg.maxEvents).toBe(12_000);
    expect(loadServeConfig(['--max-events', '50000'], {}).maxEvents).toBe(50_000);
    expect(loadServeConfig([], { OPA_TLOG_MAX_INFLATED_BYTES: '1048576' }).maxInflatedBytes).toBe(1_048_576);
    expect(() => loadServeConfig(['--max-events', '0'], {})).toThrow(ConfigError);
    expect(() => loadServeConfig(['--max-inflated-bytes', '0'], {})).toThrow(ConfigError);
  });

  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  test('the server refuses an upload over either limit (413, nothing appended) and takes one at it', async () => {
    server = await startServer(tempDir('limits-'), ['--max-events', '3', '--max-inflated-bytes', '2000']);
    const post = (events: unknown[]) =>
      fetch(`${server!.url}/logs`, {
        method: 'POST',
        body: gzipSync(JSON.stringify(events)),
        headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      });
    const ev = (i: number, pad = 0) => ({
      decision_id: `lim-${i}`,
      labels: { id: 'o' },
      input: 'x'.repeat(pad),
    });
    const many = await post([ev(1), ev(2), ev(3), ev(4)]);
    expect(many.status).toBe(413);
    expect(((await many.json()) as { error: string }).error).toBe('too_many_events');
    const big = await post([ev(5, 2500)]);
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: string }).error).toBe('decompressed_too_large');
    const ok = await post([ev(1), ev(2), ev(3)]);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { appended: number }).appended).toBe(3);
  });
});
