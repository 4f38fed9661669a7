/**
 * Choosing a storage engine: the one place that maps a configuration to a {@link LogStorage}.
 * Today that is SQLite; a new engine (PostgreSQL) adds its own options and a branch here, so
 * the log never imports an engine's module.
 */
import type { Sha256 } from '../core/hash.js';
import type { SyncMode } from './db.js';
import type { LogStorage } from './log-storage.js';
import { openSqliteStorage } from './sqlite-storage.js';

export { DamagedTilesError } from './sqlite-storage.js';

/** How to open the log's storage. */
export interface StorageOptions {
  /** SQLite file path (or ':memory:' for tests). */
  readonly dbPath: string;
  readonly synchronous?: SyncMode;
  readonly cacheMiB?: number;
  /** Commit in a worker thread (needs the compiled build, dist/). */
  readonly writerThread?: boolean;
  readonly sha: Sha256;
}

/**
 * Opens the storage described by `opts`, ready for the log's start-up checks. Rejects with
 * DamagedTilesError when the stored tiles cannot give the tree's right edge, and with
 * the engine's own error when the storage cannot be opened at all.
 */
export async function openLogStorage(opts: StorageOptions): Promise<LogStorage> {
  return openSqliteStorage(opts);
}

export type { SyncMode } from './db.js';
