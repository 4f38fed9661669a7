/**
 * The storage engines the log's tests run against: SQLite always, PostgreSQL when installed
 * (a throwaway cluster per test file, a fresh database per location). Use as
 * `describe.each(engines)('$name', (engine) => …)`; `engine.location()` is what the log takes
 * as `dbPath` (a file path or a postgres:// URL).
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach } from 'vitest';
import { nodeSha256 } from '../../src/log/log.js';
import type { LogStorage } from '../../src/store/log-storage.js';
import { openLogStorage } from '../../src/store/open-storage.js';
import { postgresAvailable, postgresCluster } from './postgres.js';
import { tempDir } from './tmp.js';

export interface Engine {
  readonly name: 'sqlite' | 'postgres';
  /** A fresh, empty store: a SQLite file path or a postgres:// URL. */
  location(): Promise<string>;
  /**
   * Runs one SQL statement straight against the store, bypassing the log (tests that damage
   * it on purpose); `?` placeholders, rows returned. Both engines name tables and keys alike.
   */
  sql(location: string, statement: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /**
   * Damages hash tile (level, index) on purpose: flips the low bit of its byte `at`, wherever
   * the engine keeps it (a row, or SQLite's blob file for a full tile).
   */
  flipTileBit(location: string, level: number, index: number, at: number): Promise<void>;
}

/** flipTileBit over the tiles table, for a tile kept as a row. */
async function flipTileRowBit(engine: Pick<Engine, 'sql'>, location: string, key: number, at: number) {
  const [row] = (await engine.sql(location, 'SELECT data FROM tiles WHERE tile_key = ?', [key])) as {
    data: Buffer;
  }[];
  if (!row) throw new Error(`tile ${key} is not stored as a row`);
  row.data[at] = (row.data[at]! ^ 1) & 0xff;
  await engine.sql(location, 'UPDATE tiles SET data = ? WHERE tile_key = ?', [row.data, key]);
}

const sqlite: Engine = {
  name: 'sqlite',
  location: async () => join(tempDir(), 'log.db'),
  sql: async (location, statement, params = []) => {
    const db = new Database(location);
    try {
      const st = db.prepare(statement);
      if (st.reader) return st.all(...params) as Record<string, unknown>[];
      st.run(...params);
      return [];
    } finally {
      db.close();
    }
  },
  flipTileBit: async (location, level, index, at) => {
    const key = index * 64 + level;
    const [place] = (await sqlite.sql(location, 'SELECT off FROM tile_places WHERE tile_key = ?', [key])) as {
      off: number;
    }[];
    if (!place) return flipTileRowBit(sqlite, location, key, at);
    const fd = openSync(`${location}-blobs`, 'r+');
    try {
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, place.off + at);
      b[0] = (b[0]! ^ 1) & 0xff;
      writeSync(fd, b, 0, 1, place.off + at);
    } finally {
      closeSync(fd);
    }
  },
};

const postgres: Engine = {
  name: 'postgres',
  location: async () => (await postgresCluster()).createDatabase(),
  sql: async (location, statement, params = []) => {
    let n = 0;
    const c = new pg.Client({ connectionString: location });
    await c.connect();
    try {
      return (
        await c.query(
          statement.replace(/\?/g, () => `$${++n}`),
          params,
        )
      ).rows;
    } finally {
      await c.end();
    }
  },
  flipTileBit: (location, level, index, at) => flipTileRowBit(postgres, location, index * 64 + level, at),
};

/** Every engine available here (PostgreSQL skipped with a warning when not installed). */
export const engines: Engine[] = postgresAvailable() ? [sqlite, postgres] : [sqlite];

/** Opens the storage at `location` for a test that uses the storage interface directly. */
export function openStorage(location: string): Promise<LogStorage> {
  return openLogStorage({ dbPath: location, sha: nodeSha256 });
}

/**
 * For a test file: `open` opens a storage as {@link openStorage} does and every storage it
 * opened is closed after each test; `close` closes one before that (a test that reopens).
 */
export function storagesClosedAfterEach(): {
  open(location: string): Promise<LogStorage>;
  close(storage: LogStorage): Promise<void>;
} {
  const opened = new Set<LogStorage>();
  afterEach(async () => {
    for (const s of opened) await s.close().catch(() => undefined);
    opened.clear();
  });
  return {
    open: async (location) => {
      const s = await openStorage(location);
      opened.add(s);
      return s;
    },
    close: async (storage) => {
      opened.delete(storage);
      await storage.close();
    },
  };
}

/**
 * Makes what was appended part of committedTree(): a no-op on SQLite (its appends build the
 * tiles), the sequencer's integration on a shared engine (taking the lease first).
 */
export async function integrate(storage: LogStorage): Promise<void> {
  if (!storage.shared) return;
  await storage.shared.lead(60_000);
  await storage.shared.integrate();
}
