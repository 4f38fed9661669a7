/** The dedup window's settings: durations with units, from flag, env or file, checked. */
import { describe, expect, test } from 'vitest';
import { ConfigError, loadServeConfig } from '../../src/cli/config.js';

describe('--dedup-window, --dedup-window-entries', () => {
  test('defaults: 24 hours and 2,000,000 leaves', () => {
    const cfg = loadServeConfig([], {});
    expect(cfg.dedupWindowMs).toBe(24 * 3600_000);
    expect(cfg.dedupWindowEntries).toBe(2_000_000);
  });

  test('durations take a unit; a bare number is milliseconds', () => {
    expect(loadServeConfig(['--dedup-window', '30m'], {}).dedupWindowMs).toBe(1_800_000);
    expect(loadServeConfig(['--dedup-window', '7d'], {}).dedupWindowMs).toBe(7 * 86_400_000);
    expect(loadServeConfig([], { OPA_TLOG_DEDUP_WINDOW: '90s' }).dedupWindowMs).toBe(90_000);
    expect(loadServeConfig(['--dedup-window', '1500'], {}).dedupWindowMs).toBe(1500);
    expect(loadServeConfig([], { OPA_TLOG_DEDUP_WINDOW_ENTRIES: '1000' }).dedupWindowEntries).toBe(1000);
  });

  test('refuses what is not a duration or not positive', () => {
    expect(() => loadServeConfig(['--dedup-window', '1 week'], {})).toThrow(ConfigError);
    expect(() => loadServeConfig(['--dedup-window', '-1h'], {})).toThrow(ConfigError);
    expect(() => loadServeConfig(['--dedup-window-entries', '0'], {})).toThrow(ConfigError);
  });
});
