/**
 * Choosing a storage engine: the one place that maps a configuration to a {@link LogStorage}.
 * SQLite by default (a file path); PostgreSQL when the location is a `postgres://` or
 * `postgresql://` URL. The log never imports an engine's module, and the PostgreSQL engine
 * (with its client library) is loaded only when a URL names it.
 */
import type { Sha256 } from '../core/hash.js';
import type { Logger } from '../core/logger.js';
import type { SyncMode } from './db.js';
import { isPostgresUrl } from './db-url.js';
import type { DedupWindowOptions } from './dedup-window.js';
import type { LogStorage } from './log-storage.js';
import { openSqliteStorage } from './sqlite-storage.js';

export { isPostgresUrl, redactUrl } from './db-url.js';
export { DamagedTilesError } from './sqlite-storage.js';

/** How to open the log's storage. */
export interface StorageOptions {
  /** SQLite file path (or ':memory:' for tests), or a postgres:// URL. */
  readonly dbPath: string;
  /** SQLite only. */
  readonly synchronous?: SyncMode;
  /** SQLite only. */
  readonly cacheMiB?: number;
  /** Commit in a worker thread (SQLite only; needs the compiled build, dist/). */
  readonly writerThread?: boolean;
  /** SQLite only: bounds of the in-memory dedup window (spec/storage.md). */
  readonly dedupWindow?: DedupWindowOptions;
  /** SQLite only: the clock of the dedup window's receive times (default Date.now). */
  readonly now?: () => number;
  readonly sha: Sha256;
  /** PostgreSQL only: where connection errors are reported. */
  readonly logger?: Logger;
}

/**
 * Opens the storage described by `opts`, ready for the log's start-up checks. Rejects with
 * DamagedTilesError when the stored tiles cannot give the tree's right edge, and with
 * the engine's own error when the storage cannot be opened at all.
 */
export async function openLogStorage(opts: StorageOptions): Promise<LogStorage> {
  if (isPostgresUrl(opts.dbPath)) {
    // Loaded only here: a server on SQLite never loads the PostgreSQL client.
    const { openPostgresStorage } = await import('./postgres-storage.js');
    return openPostgresStorage({
      url: opts.dbPath,
      sha: opts.sha,
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  }
  return openSqliteStorage(opts);
}

export type { SyncMode } from './db.js';
export { DEFAULT_DEDUP_WINDOW } from './dedup-window.js';
