/**
 * The SQLite engine behind {@link LogStorage}: LogStore's synchronous queries answered as
 * settled promises, and appends either inline (the tree's right edge held here) or in the
 * writer thread (which holds its own edge and reports the committed tree back). The main
 * thread keeps one connection for reads and the rare checkpoint rows; WAL lets it read while
 * the writer thread writes. Lookups by id of leaves the follower indexer has not reached yet
 * are answered from a small map of recent commits kept here (issue 11).
 */
import type { Sha256 } from '../core/hash.js';
import { type StoredTile, TileBuilder } from '../core/tiles.js';
import { type Db, DEFAULT_CACHE_MIB, openDatabase, type SyncMode } from './db.js';
import { DEFAULT_DEDUP_WINDOW, type DedupWindowOptions } from './dedup-window.js';
import type {
  AppendCommit,
  AppendItem,
  AppendResult,
  CommittedTree,
  ErasureRecord,
  HeldItems,
  LogIdentity,
  LogStorage,
  SearchFilter,
  StoredBundle,
  StoredCheckpoint,
  StoredPayload,
} from './log-storage.js';
import { LogStore } from './log-store.js';
import { IDLE_TICK_MS, idKey } from './lookup-index.js';
import { nodeSha256 } from './node-hash.js';
import { WriterThread } from './sqlite-writer.js';
import { type PackedBatch, packBatch } from './writer-pack.js';

/** A request held packed for the writer thread (SqliteLogStorage.hold). */
interface SqliteHeld extends HeldItems {
  readonly batch: PackedBatch;
}

/** `items` packed for the writer thread, their id keys computed here (writer-pack.ts). */
function packed(items: readonly AppendItem[]): SqliteHeld {
  return { count: items.length, batch: packBatch(items, nodeSha256).batch };
}

export interface SqliteStorageOptions {
  /** SQLite file path (or ':memory:' for tests, inline writes only). */
  readonly dbPath: string;
  /** fsync policy; FULL by default. */
  readonly synchronous?: SyncMode;
  /** Page cache in MiB (default DEFAULT_CACHE_MIB). */
  readonly cacheMiB?: number;
  /** Commit in a worker thread (needs the compiled build, dist/). */
  readonly writerThread?: boolean;
  readonly sha: Sha256;
  /** Bounds of the in-memory dedup window (default 4,000,000 leaves, 24 h). */
  readonly dedupWindow?: DedupWindowOptions;
  /** The clock of receive times the dedup window keeps (default Date.now; tests inject one). */
  readonly now?: () => number;
}

/**
 * The id keys (lookup-index.ts idKey) of the leaves committed beyond the indexer's cursor,
 * with their indices: the unindexed tail's answer to a lookup by id (the writer thread's
 * dedup window is not visible here). Fed from each commit's results, pruned as the cursor
 * advances, so it holds about one indexer lag of leaves (~10-30k under full ingest). Keys in
 * two typed arrays, searched by a scan on lookup: a map of the ids themselves kept every id
 * string and a map entry alive for that second, long enough to be promoted to V8's old
 * generation (~10 % of what the ingest thread promoted, session 10); a lookup is rare next to
 * a commit, and a scan of 30k numbers takes ~20 us. Candidates: the caller confirms each
 * against the entry, as it does the lookup runs'.
 */
class RecentIds {
  #keys = new Float64Array(1024);
  #indices = new Float64Array(1024);
  #head = 0;
  #tail = 0;

  add(key: number, index: number): void {
    if (this.#tail === this.#keys.length) this.#makeRoom();
    this.#keys[this.#tail] = key;
    this.#indices[this.#tail++] = index;
  }

  /** Indices held under `key`, in commit order. */
  get(key: number): number[] {
    const out: number[] = [];
    for (let i = this.#head; i < this.#tail; i++) if (this.#keys[i] === key) out.push(this.#indices[i]!);
    return out;
  }

  /** Forgets the leaves below `indexedTo` (they are in the lookup runs now). */
  prune(indexedTo: number): void {
    while (this.#head < this.#tail && this.#indices[this.#head]! < indexedTo) this.#head++;
  }

  /** Moves the held leaves to the front, into arrays twice as long if they are more than half full. */
  #makeRoom(): void {
    const n = this.#tail - this.#head;
    if (n * 2 > this.#keys.length) {
      const keys = new Float64Array(this.#keys.length * 2);
      const indices = new Float64Array(this.#keys.length * 2);
      keys.set(this.#keys.subarray(this.#head, this.#tail));
      indices.set(this.#indices.subarray(this.#head, this.#tail));
      this.#keys = keys;
      this.#indices = indices;
    } else {
      this.#keys.copyWithin(0, this.#head, this.#tail);
      this.#indices.copyWithin(0, this.#head, this.#tail);
    }
    this.#head = 0;
    this.#tail = n;
  }
}

/** Why the stored tiles cannot give the tree's right edge (a damaged database). */
export class DamagedTilesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DamagedTilesError';
  }
}

/**
 * Page cache of the readers' connection when a writer thread commits (`--cache-mib` is the
 * writer's): random proofs, tiles and bundles at 10M leaves miss any cache this size would
 * give (the OS page cache serves them), and what a read reuses is B-tree interior pages.
 * After an ingest the readers' cache filled up during the reads that followed it: 16 MiB was
 * +17 MiB of resident memory, the most of the 40 MiB the reads added at 10M (the 300 MiB
 * budget, spec/storage.md "Memory").
 */
export const READER_CACHE_MIB = 4;

/**
 * Opens (creating and migrating if needed) a SQLite log database and loads the tree's right
 * edge from its tiles. Throws the driver's error if the file cannot be opened, and
 * {@link DamagedTilesError} if the tiles disagree with the number of entries.
 */
export function openSqliteStorage(opts: SqliteStorageOptions): SqliteLogStorage {
  const synchronous = opts.synchronous ?? 'FULL';
  const cacheMiB = opts.cacheMiB ?? DEFAULT_CACHE_MIB;
  // With a writer thread this connection only reads: see READER_CACHE_MIB.
  const readerCacheMiB = opts.writerThread ? Math.min(cacheMiB, READER_CACHE_MIB) : cacheMiB;
  const db = openDatabase(opts.dbPath, { synchronous, cacheMiB: readerCacheMiB });
  let store: LogStore | undefined;
  try {
    store = new LogStore(db, opts.sha);
    store.checkFiles();
    const size = store.treeSize();
    let builder: TileBuilder;
    try {
      builder = new TileBuilder(size, store.loadEdge(size), opts.sha);
    } catch (err) {
      throw new DamagedTilesError((err as Error).message);
    }
    // The tail the last run left unindexed (its recent-ids map died with it), bounded by the
    // indexer's lag, must be findable before any lookup is served. Inline, it is indexed now.
    // With a writer thread, the committing connection indexes it (the run, its Bloom filter
    // and the filters of the older runs belong there, not in a second copy here) and this
    // thread keeps the tail's ids in memory until the cursor report passes them; so does a
    // read-only database, which cannot be written.
    let tail: { index: number; id: string }[] = [];
    if (opts.writerThread) tail = store.unindexedIds(size);
    else {
      try {
        store.indexAll(size);
      } catch {
        tail = store.unindexedIds(size);
      }
    }
    const dedupWindow = opts.dedupWindow ?? DEFAULT_DEDUP_WINDOW;
    const now = opts.now ?? Date.now;
    const writer = opts.writerThread
      ? new WriterThread({ dbPath: opts.dbPath, synchronous, cacheMiB, dedupWindow, nowMs: now() })
      : undefined;
    if (!writer) store.openWriter(dedupWindow, now());
    const storage = new SqliteLogStorage(db, store, builder, writer, now);
    for (const t of tail) storage.rememberTail(t.id, t.index);
    return storage;
  } catch (err) {
    store?.close();
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
  readonly #now: () => number;
  readonly #recent = new RecentIds();
  /** Inline: the idle tick that drives the indexer between commits. */
  readonly #idle: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(
    db: Db,
    store: LogStore,
    builder: TileBuilder,
    writer: WriterThread | undefined,
    now: () => number = Date.now,
  ) {
    this.db = db;
    this.#store = store;
    this.#builder = builder;
    this.#writer = writer;
    this.#now = now;
    this.#tree = writer ? { size: builder.size, root: builder.root() } : undefined;
    writer?.onIndexed((to) => this.#recent.prune(to));
    if (writer) {
      this.hold = packed;
      this.appendHeld = (held, final) => this.#appendPacked(writer, held as SqliteHeld[], final === true);
    }
    if (!writer) {
      this.#idle = setInterval(() => this.#background(true), IDLE_TICK_MS);
      this.#idle.unref();
    }
  }

  /** Inline: the indexer's turn (after a commit, or idle); prunes what it indexed. */
  #background(idle: boolean): void {
    if (this.#closed) return;
    try {
      this.#recent.prune(this.#store.background(this.#builder.size, idle));
    } catch {
      // Retried at the next commit or tick; lookups read the tail meanwhile.
    }
  }

  /** Leaves of the unindexed tail that may have `id` (candidates; the store confirms each). */
  #recentOf(id: string): number[] {
    return this.#recent.get(idKey(id, nodeSha256));
  }

  /** At open: a leaf of the unindexed tail that could not be indexed (read-only database). */
  rememberTail(id: string, index: number): void {
    this.#recent.add(idKey(id, nodeSha256), index);
  }

  /** Inline: records the new leaves of a commit by id, for lookups before the indexer reaches them. */
  #remember(items: readonly AppendItem[], results: readonly AppendResult[]): void {
    items.forEach((it, i) => {
      const r = results[i]!;
      if (it.source !== undefined && it.id !== undefined && !r.duplicate)
        this.#recent.add(it.idKey ?? idKey(it.id, nodeSha256), r.index);
    });
  }

  /**
   * With a writer thread: a request's items packed for it as soon as they are queued (one
   * buffer and a few flat arrays per request; writer-pack.ts), so a queued upload's thousands
   * of small objects die young instead of surviving the collections that run while it waits.
   * Inline (no writer thread) there is nothing to pack: absent.
   */
  readonly hold?: (items: readonly AppendItem[]) => HeldItems;
  readonly appendHeld?: (held: HeldItems[], final?: boolean) => Promise<AppendCommit>;

  #appendPacked(writer: WriterThread, held: SqliteHeld[], final: boolean): Promise<AppendCommit> {
    return writer
      .commitPacked(
        held.map((h) => h.batch),
        this.#now(),
        final,
      )
      .then((c) => {
        this.#tree = { size: c.size, root: c.root };
        let o = 0;
        for (const h of held) {
          // packBatch computed each deduplicated item's id key (-1: no ids).
          const keys = h.batch.idKeys;
          for (let i = 0; i < h.count; i++) {
            const r = c.results[o + i]!;
            if (keys[i]! >= 0 && !r.duplicate) this.#recent.add(keys[i]!, r.index);
          }
          o += h.count;
        }
        return c;
      });
  }

  append(items: AppendItem[]): AppendCommit | Promise<AppendCommit> {
    if (!this.#writer) {
      const results = this.#store.appendBatch(items, this.#builder, this.#now());
      this.#remember(items, results);
      // After the caller's answer, as the writer thread does it.
      setImmediate(() => this.#background(false));
      return { results, size: this.#builder.size };
    }
    return this.#appendPacked(this.#writer, [packed(items)], true); // a pack of its own: movable
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
  fullBundleStored(index: number): Promise<StoredBundle | undefined> {
    return Promise.resolve(this.#store.fullBundleStored(index));
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
  tileData(level: number, index: number): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#store.tile(level, index));
  }
  findById(source: string, id: string): Promise<number | undefined> {
    return Promise.resolve(this.#store.findById(source, id, this.#recentOf(id)));
  }
  findAllById(source: string, id: string): Promise<number[]> {
    return Promise.resolve(this.#store.findAllById(source, id, this.#recentOf(id)));
  }
  findByIdAnySource(id: string): Promise<number[]> {
    return Promise.resolve(this.#store.findByIdAnySource(id, this.#recentOf(id)));
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
    // Through the writer thread when there is one (its fsync off the main thread); else
    // inserted now, not in a later tick: the caller's next read sees it.
    if (this.#writer) return this.#writer.insertCheckpoint(cp);
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
    if (this.#idle) clearInterval(this.#idle);
    this.#closed = true;
    try {
      if (this.#writer) await this.#writer.close();
    } finally {
      this.#store.close();
      this.db.close();
    }
  }
}
