/**
 * The SQLite engine behind {@link LogStorage}: LogStore's synchronous queries answered as
 * settled promises, and appends either inline (the tree's right edge held here) or in the
 * writer thread (which holds its own edge and reports the committed tree back). The main
 * thread keeps one connection for reads and the rare checkpoint rows; WAL lets it read while
 * the writer thread writes.
 */
import type { Sha256 } from '../core/hash.js';
import { type StoredTile, TileBuilder } from '../core/tiles.js';
import { type Db, openDatabase, type SyncMode } from './db.js';
import type {
  AppendCommit,
  AppendItem,
  CommittedTree,
  ErasureRecord,
  LogIdentity,
  LogStorage,
  SearchFilter,
  StoredCheckpoint,
  StoredPayload,
} from './log-storage.js';
import { LogStore } from './log-store.js';
import { WriterThread } from './sqlite-writer.js';

export interface SqliteStorageOptions {
  /** SQLite file path (or ':memory:' for tests, inline writes only). */
  readonly dbPath: string;
  /** fsync policy; FULL by default. */
  readonly synchronous?: SyncMode;
  /** Page cache in MiB (default 256). */
  readonly cacheMiB?: number;
  /** Commit in a worker thread (needs the compiled build, dist/). */
  readonly writerThread?: boolean;
  readonly sha: Sha256;
}

/** Why the stored tiles cannot give the tree's right edge (a damaged database). */
export class DamagedTilesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DamagedTilesError';
  }
}

/**
 * Opens (creating and migrating if needed) a SQLite log database and loads the tree's right
 * edge from its tiles. Throws the driver's error if the file cannot be opened, and
 * {@link DamagedTilesError} if the tiles disagree with the number of entries.
 */
export function openSqliteStorage(opts: SqliteStorageOptions): SqliteLogStorage {
  const synchronous = opts.synchronous ?? 'FULL';
  const cacheMiB = opts.cacheMiB ?? 256;
  const db = openDatabase(opts.dbPath, { synchronous, cacheMiB });
  try {
    const store = new LogStore(db, opts.sha);
    const size = store.treeSize();
    let builder: TileBuilder;
    try {
      builder = new TileBuilder(size, store.loadEdge(size), opts.sha);
    } catch (err) {
      throw new DamagedTilesError((err as Error).message);
    }
    const writer = opts.writerThread
      ? new WriterThread({ dbPath: opts.dbPath, synchronous, cacheMiB })
      : undefined;
    return new SqliteLogStorage(db, store, builder, writer);
  } catch (err) {
    db.close();
    throw err;
  }
}

export class SqliteLogStorage implements LogStorage {
  /** The main thread's connection (SQLite-specific; the witness pusher's rows use it for now). */
  readonly db: Db;
  readonly #store: LogStore;
  /** Inline writes: the right edge, advanced by each commit. Unused with a writer thread. */
  readonly #builder: TileBuilder;
  readonly #writer: WriterThread | undefined;
  /** With a writer thread: the tree it last reported. */
  #tree: CommittedTree | undefined;

  constructor(db: Db, store: LogStore, builder: TileBuilder, writer: WriterThread | undefined) {
    this.db = db;
    this.#store = store;
    this.#builder = builder;
    this.#writer = writer;
    this.#tree = writer ? { size: builder.size, root: builder.root() } : undefined;
  }

  append(items: AppendItem[]): AppendCommit | Promise<AppendCommit> {
    if (!this.#writer)
      return { results: this.#store.appendBatch(items, this.#builder), size: this.#builder.size };
    return this.#writer.commit(items).then((c) => {
      this.#tree = { size: c.size, root: c.root };
      return c;
    });
  }

  committedTree(): CommittedTree {
    // Inline, the root is hashed only when asked for (at signing), not at every commit.
    return this.#tree ?? { size: this.#builder.size, root: this.#builder.root() };
  }

  entry(index: number): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#store.entry(index));
  }
  entries(lo: number, hi: number): Promise<Uint8Array[]> {
    return Promise.resolve(this.#store.entries(lo, hi));
  }
  fullBundle(index: number): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#store.fullBundle(index));
  }
  payload(index: number): Promise<StoredPayload | undefined> {
    return Promise.resolve(this.#store.payload(index));
  }
  erasure(index: number): Promise<ErasureRecord | undefined> {
    return Promise.resolve(this.#store.erasure(index));
  }
  tile(level: number, index: number): Promise<StoredTile | undefined> {
    return Promise.resolve(this.#store.tileWithInterior(level, index));
  }
  findById(source: string, id: string): Promise<number | undefined> {
    return Promise.resolve(this.#store.findById(source, id));
  }
  findAllById(source: string, id: string): Promise<number[]> {
    return Promise.resolve(this.#store.findAllById(source, id));
  }
  findByIdAnySource(id: string): Promise<number[]> {
    return Promise.resolve(this.#store.findByIdAnySource(id));
  }
  findLeaf(leaf: Uint8Array, size: number): Promise<number | undefined> {
    return Promise.resolve(this.#store.findLeaf(leaf, size));
  }
  search(filter: SearchFilter, cursor: number, limit: number): Promise<number[]> {
    return Promise.resolve(this.#store.search(filter, cursor, limit));
  }
  expiredPayloads(recvMs: number, limit: number): Promise<number[]> {
    return Promise.resolve(this.#store.expiredPayloads(recvMs, limit));
  }

  insertCheckpoint(cp: StoredCheckpoint): Promise<void> {
    // Inserted now, not in a later tick: the caller's next read sees it.
    try {
      this.#store.insertCheckpoint(cp);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }
  latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return Promise.resolve(this.#store.latestCheckpoint());
  }
  checkpointAt(size: number): Promise<StoredCheckpoint | undefined> {
    return Promise.resolve(this.#store.checkpointAt(size));
  }

  identity(): Promise<LogIdentity> {
    return Promise.resolve(this.#store.identity());
  }
  setIdentity(origin: string, vkeys: readonly string[], retiredVkeys: readonly string[]): Promise<void> {
    try {
      this.#store.setIdentity(origin, vkeys, retiredVkeys);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }
  addCheckpointSignatures(size: number, root: Uint8Array, note: string): Promise<void> {
    try {
      if (!this.#store.resignCheckpoint(size, root, note)) {
        throw new Error(`no checkpoint of size ${size} with that root is stored`);
      }
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  probeWritable(): Promise<void> {
    try {
      this.db
        .prepare(
          "INSERT INTO meta (key, value) VALUES ('write_probe', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .run(String(Date.now()));
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async close(): Promise<void> {
    try {
      if (this.#writer) await this.#writer.close();
    } finally {
      this.db.close();
    }
  }
}
