/** `--store`: flag, OPA_TLOG_STORE and the config file's `store`, in that order; only postgres:// URLs. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConfigError, loadServeConfig } from '../../src/cli/config.js';
import { tempDir } from '../helpers/tmp.js';

describe('serve --store', () => {
  test('SQLite by default; a postgres:// URL from the flag, the environment or the file', () => {
    expect(loadServeConfig([], {}).store).toBeUndefined();
    const file = join(tempDir(), 'c.json');
    writeFileSync(file, JSON.stringify({ store: 'postgres://file/db' }));
    expect(loadServeConfig(['--config', file], {}).store).toBe('postgres://file/db');
    expect(loadServeConfig(['--config', file], { OPA_TLOG_STORE: 'postgresql://env/db' }).store).toBe(
      'postgresql://env/db',
    );
    expect(
      loadServeConfig(['--config', file, '--store', 'postgres://flag/db'], {
        OPA_TLOG_STORE: 'postgres://env/db',
      }).store,
    ).toBe('postgres://flag/db');
  });

  test('anything but a postgres:// URL is refused', () => {
    expect(() => loadServeConfig(['--store', '/var/lib/log.db'], {})).toThrow(ConfigError);
    expect(() => loadServeConfig(['--store', 'mysql://x/y'], {})).toThrow(/postgres:\/\//);
  });
});
