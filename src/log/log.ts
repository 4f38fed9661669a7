/**
 * The log: opens its storage, refuses to run on storage that disagrees with what was signed
 * (the fork guard), and ties together the sequencer (group commit) and the signer. Reads
 * (tiles, bundles, proofs, lookups) are bounded by the latest *signed* checkpoint, so nothing
 * is published before a signature commits to it. Everything above the log (HTTP, CLI) reads
 * storage through the methods here, never through the storage engine itself.
 */
import { encodeEntryBundle } from '../core/bundle.js';
import { isSafeUint } from '../core/check.js';
import { encodeEntry } from '../core/entry.js';
import type { Sha256 } from '../core/hash.js';
import { errorFields, type Logger, silentLogger } from '../core/logger.js';
import {
  type AsyncSubtreeReader,
  consistencyProofRanges,
  hashRangesAsync,
  inclusionProofRanges,
  leafHash,
  MerkleError,
} from '../core/merkle.js';
import type { Ed25519NoteSigner, NoteVerifier } from '../core/note.js';
import { TILE_WIDTH, tileAtSize } from '../core/tiles.js';
import {
  type AppendCommit,
  type AppendItem,
  type AppendResult,
  type CommittedTree,
  type ErasureRecord,
  type HeldItems,
  type LogStorage,
  rawBundleBytes,
  type SearchFilter,
  StorageError,
  type StoredBundle,
  type StoredCheckpoint,
  type StoredPayload,
} from '../store/log-storage.js';
import { nodeSha256 } from '../store/node-hash.js';
import {
  DamagedTilesError,
  DEFAULT_DEDUP_WINDOW,
  openLogStorage,
  redactUrl,
  type SyncMode,
} from '../store/open-storage.js';
import { checkStorage, StartupError } from './fork-guard.js';
import { Leadership } from './leader.js';
import { type EventInput, unsealedEventLeaf } from './leaf.js';
import { type LogMetrics, noLogMetrics } from './metrics.js';
import { DEFAULT_SEQUENCER_OPTIONS, Sequencer, type SequencerOptions } from './sequencer.js';
import { CheckpointSigner, ForkError } from './signer.js';
import {
  DEFAULT_HASHED_SUBTREES,
  storedSubtreeReader,
  TileCache,
  type TileCacheOptions,
  treeHashAsync,
} from './subtree-reader.js';

/** Storage types the layers above the log speak (they never import the storage engine). */
export type {
  AppendItem,
  AppendResult,
  ErasureRecord,
  LeafMeta,
  LogStorage,
  SearchFilter,
  StoredCheckpoint,
  StoredPayload,
} from '../store/log-storage.js';
export { ConflictError, EraseError, StorageError } from '../store/log-storage.js';
export { nodeSha256 } from '../store/node-hash.js';
export { StartupError } from './fork-guard.js';
export type { EventInput } from './leaf.js';
export type { LogMetrics } from './metrics.js';

export interface LogConfig {
  /** SQLite file path (or ':memory:' for tests); unused when `storage` is given. */
  dbPath?: string;
  /**
   * An already opened storage engine; the log takes it over (closes it on a refusal and on
   * close()). Default: SQLite at `dbPath`.
   */
  storage?: LogStorage;
  /** Checkpoint origin; fixed at creation and checked on every open. */
  origin: string;
  /**
   * The log's checkpoint signing key, or its keys during a key rotation's overlap: every
   * checkpoint carries a signature by each. Every key's name must be the origin; the set must
   * share a key with the one recorded in the database (see spec/key-rotation.md).
   */
  signer: Ed25519NoteSigner | readonly Ed25519NoteSigner[];
  /**
   * Ignored: stored checkpoints are checked with the signers' keys and the retired keys the
   * database records. Kept so that existing callers still compile.
   */
  verifier?: NoteVerifier;
  /**
   * Start even though no key of `signer` is among the database's current keys (the old key is
   * lost); refused otherwise as another log's key. Use once, then drop it.
   */
  forceKeyChange?: boolean;
  /** Signing period in ms (default 1000). */
  signIntervalMs?: number;
  sequencer?: Partial<SequencerOptions>;
  synchronous?: SyncMode;
  cacheMiB?: number;
  /** Bounds of the in-memory hash tile cache (subtree-reader.ts; default 2048 upper + 64 recent tiles). */
  tileCache?: TileCacheOptions;
  /**
   * SQLite: how long a retry is recognised as a duplicate by the in-memory dedup window (ms,
   * default 24 h), and the most leaves it holds (default 4,000,000; ~20 bytes each).
   */
  dedupWindowMs?: number;
  dedupWindowEntries?: number;
  sha?: Sha256;
  /** The clock of receive times, signing and the dedup window (default Date.now). */
  now?: () => number;
  /**
   * Run the write path (SQLite transactions, the tree's right edge) in a worker thread, so it
   * uses the second core. The server does; in-process users may keep it inline (default).
   * Needs the compiled build (dist/), since the worker loads sqlite-writer-worker.js.
   */
  writerThread?: boolean;
  /** Where the log reports (signing failures and recoveries); default silent. */
  logger?: Logger;
  /** Where commit, append and signing counts go (see metrics.ts); default none. */
  metrics?: LogMetrics;
}

/** What a readiness probe needs to know of the signer. */
export interface SignerHealth {
  /** Started and not stopped for good (a fork stops it). */
  readonly running: boolean;
  /** The last signing attempt failed (storage trouble); retried every tick. */
  readonly failing: boolean;
  /** When a signing attempt last succeeded (a new checkpoint, or the latest still covering the tree), ms. */
  readonly lastOkAt: number | undefined;
  /** The signing period, ms. */
  readonly intervalMs: number;
}

/**
 * The log's append queue: the engine's held form when it has one (LogStorage.hold), else the
 * items as they are; every commit timed into the metrics.
 */
function appendQueue(
  storage: LogStorage,
  metrics: LogMetrics,
  opts: SequencerOptions,
  onCommit: (c: AppendCommit) => void,
): AppendQueue {
  const { hold, appendHeld } = storage;
  if (hold && appendHeld) {
    const commit = (held: HeldItems[], final: boolean) =>
      timed(
        metrics,
        held.reduce((n, h) => n + h.count, 0),
        () => appendHeld.call(storage, held, final),
      );
    return new Sequencer<HeldItems>(commit, opts, onCommit, (items) => hold.call(storage, items));
  }
  return Sequencer.forItems(
    (items) => timed(metrics, items.length, () => storage.append(items)),
    opts,
    onCommit,
  );
}

/** One request's events, added in pieces and appended at once (TransparencyLog.eventAppender). */
export interface EventAppender {
  /**
   * Encodes `events` into leaves and holds them; returns the bytes they hold (the queue's
   * estimate, sequencer.ts queuedBytes). Throws (nothing held) for an event that cannot be
   * encoded.
   */
  add(events: readonly EventInput[]): number;
  /** Appends every event added so far as one atomic request; resolves once durable. */
  append(): Promise<AppendResult[]>;
}

/** What the log uses of its Sequencer, whatever form it holds requests in. */
type AppendQueue = Pick<Sequencer<unknown>, 'append' | 'hold' | 'appendParts' | 'queued' | 'close' | 'drain'>;

/** `commit()`, timed and counted into `metrics` as a batch of `count` leaves (success or failure). */
function timed(
  metrics: LogMetrics,
  count: number,
  commit: () => ReturnType<LogStorage['append']>,
): ReturnType<LogStorage['append']> {
  const t0 = performance.now();
  const done = (ok: boolean) => metrics.committed(count, (performance.now() - t0) / 1000, ok);
  let r: ReturnType<LogStorage['append']>;
  try {
    r = commit();
  } catch (err) {
    done(false);
    throw err;
  }
  if (!(r instanceof Promise)) {
    done(true);
    return r;
  }
  return r.then(
    (c) => {
      done(true);
      return c;
    },
    (err: unknown) => {
      done(false);
      throw err;
    },
  );
}

/** The configured signer keys, checked: at least one, each named the origin, none twice. */
function signersOf(cfg: LogConfig): readonly Ed25519NoteSigner[] {
  const signers: readonly Ed25519NoteSigner[] = Array.isArray(cfg.signer) ? cfg.signer : [cfg.signer];
  if (signers.length === 0) throw new StartupError('no signer key configured');
  for (const s of signers) {
    if (s.name !== cfg.origin)
      throw new StartupError(`signer key name ${s.name} must equal the origin ${cfg.origin}`);
  }
  if (new Set(signers.map((s) => s.vkey)).size !== signers.length) {
    throw new StartupError('the same signer key is configured twice');
  }
  return signers;
}

/** Opens the configured storage, turning every failure into a StartupError. */
async function openConfiguredStorage(cfg: LogConfig, sha: Sha256): Promise<LogStorage> {
  if (cfg.storage) return cfg.storage;
  if (cfg.dbPath === undefined) throw new StartupError('no storage configured (dbPath or storage)');
  try {
    return await openLogStorage({
      dbPath: cfg.dbPath,
      synchronous: cfg.synchronous ?? 'FULL',
      ...(cfg.cacheMiB !== undefined ? { cacheMiB: cfg.cacheMiB } : {}),
      writerThread: cfg.writerThread ?? false,
      dedupWindow: {
        maxEntries: cfg.dedupWindowEntries ?? DEFAULT_DEDUP_WINDOW.maxEntries,
        windowMs: cfg.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW.windowMs,
      },
      ...(cfg.now ? { now: cfg.now } : {}),
      sha,
      ...(cfg.logger ? { logger: cfg.logger } : {}),
    });
  } catch (err) {
    if (err instanceof DamagedTilesError) throw new StartupError(`stored tiles are damaged: ${err.message}`);
    throw new StartupError(`cannot open the database ${redactUrl(cfg.dbPath)}: ${(err as Error).message}`);
  }
}

export class TransparencyLog {
  readonly origin: string;
  /** The storage engine; for the log's own floor (retention, tests), not for the layers above. */
  readonly storage: LogStorage;
  readonly sha: Sha256;
  readonly #sequencer: AppendQueue;
  readonly #signer: CheckpointSigner;
  /** On a storage several servers share: the sequencer lease (only its holder signs). */
  readonly #leader: Leadership | undefined;
  readonly #signIntervalMs: number;
  readonly #now: () => number;
  #committedSize: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #fatal: Error | undefined;
  #signFailing = false;
  #lastSignAt = 0;
  #lastSignOkAt: number | undefined;
  readonly #logger: Logger;
  readonly #metrics: LogMetrics;
  #cosigned: ((cp: StoredCheckpoint) => string | undefined) | undefined;
  /** Complete-subtree hashes from the tile cache (hashed-up right-edge ones kept: subtree-reader.ts). */
  readonly #reader: AsyncSubtreeReader;
  /** Hot hash tiles (upper levels, recent reads) for proofs, leaf hashes and tile GETs. */
  readonly #tileCache: TileCache;

  private constructor(cfg: LogConfig, storage: LogStorage, latest: StoredCheckpoint | undefined) {
    this.origin = cfg.origin;
    this.storage = storage;
    this.sha = cfg.sha ?? nodeSha256;
    this.#now = cfg.now ?? Date.now;
    this.#signIntervalMs = cfg.signIntervalMs ?? 1000;
    this.#committedSize = storage.committedTree().size;
    this.#tileCache = new TileCache(storage, cfg.tileCache);
    this.#reader = storedSubtreeReader(this.#tileCache, this.sha, true, DEFAULT_HASHED_SUBTREES);
    this.#logger = cfg.logger ?? silentLogger;
    this.#metrics = cfg.metrics ?? noLogMetrics;
    const opts = { ...DEFAULT_SEQUENCER_OPTIONS, ...cfg.sequencer };
    this.#sequencer = appendQueue(storage, this.#metrics, opts, (c) => {
      this.#committedSize = c.size;
      this.#signIfDue();
    });
    const tree = (): CommittedTree => storage.committedTree();
    this.#signer = new CheckpointSigner(storage, tree, signersOf(cfg), cfg.origin, latest, this.#now);
    this.#leader = storage.shared
      ? new Leadership(storage, storage.shared, this.#signer, this.#signIntervalMs, this.#logger, () => {
          void this.signNow().catch(() => {});
        })
      : undefined;
  }

  /**
   * Opens the log. Refuses (StartupError) when the storage cannot be opened, a signer's name
   * is not the origin, a key is given twice, or a fork-guard check fails (see checkStorage in
   * fork-guard.ts: origin and key set, signed leaves present, stored tree hashing to the
   * signed root, newest leaves and full tiles matching their hashes).
   */
  static async open(cfg: LogConfig): Promise<TransparencyLog> {
    const sha = cfg.sha ?? nodeSha256;
    const vkeys = signersOf(cfg).map((s) => s.vkey);
    const storage = await openConfiguredStorage(cfg, sha);
    try {
      await checkStorage(storage, { origin: cfg.origin, vkeys, forceKeyChange: cfg.forceKeyChange }, sha);
      return new TransparencyLog(cfg, storage, await storage.latestCheckpoint());
    } catch (err) {
      await storage.close();
      throw err;
    }
  }

  /**
   * Signs the first checkpoint if needed and starts signing: a checkpoint is due one signing
   * period after the last attempt, and is signed right after the next commit or at the next
   * check (every 50 ms at most), whichever comes first, so a committed leaf is covered within
   * the period plus a few tens of milliseconds even when the main thread is busy. Resolves
   * once the first checkpoint is stored.
   */
  async start(): Promise<void> {
    await this.signNow();
    this.#leader?.start();
    this.#timer = setInterval(() => this.#signIfDue(), Math.min(this.#signIntervalMs, 50));
    this.#timer.unref?.();
  }

  /**
   * Signs a checkpoint for the committed tree if it grew; returns the latest checkpoint. A
   * fork stops the signer for good (signing on would publish two trees). A storage failure
   * (e.g. a full disk) is reported and retried at the next tick: the failed checkpoint was
   * never stored, so it was never published.
   */
  signNow(): Promise<StoredCheckpoint> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    // Taken now, not when the signature is stored: the next tick must not sign again.
    this.#lastSignAt = this.#now();
    return (this.#leader ? this.#leader.sign() : this.#signer.signIfGrown()).then(
      (cp) => {
        this.#lastSignOkAt = this.#now();
        if (this.#signFailing) {
          this.#logger.info({ size: cp.size }, 'signing works again');
          this.#signFailing = false;
        }
        return cp;
      },
      (err: unknown) => this.#signFailed(err),
    );
  }

  /** Reports a failed signature once per failing streak; a fork stops the signer for good. */
  #signFailed(err: unknown): never {
    this.#metrics.signFailed();
    if (err instanceof ForkError) {
      this.#fatal = err;
      if (this.#timer) clearInterval(this.#timer);
      this.#logger.error(errorFields(err), 'signer stopped');
    } else if (!this.#signFailing) {
      this.#signFailing = true;
      this.#logger.error(errorFields(err), 'signing failed, retrying every tick');
    }
    throw err;
  }

  /**
   * Resolves with the first checkpoint covering `size` leaves (at once if the latest does);
   * rejects after `timeoutMs`.
   */
  waitForCheckpoint(size: number, timeoutMs: number): Promise<StoredCheckpoint> {
    const cp = this.#signer.latest;
    if (cp && cp.size >= size) return Promise.resolve(cp);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no checkpoint covered size ${size} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.#signer.onCheckpoint((c) => {
        if (c.size >= size) {
          clearTimeout(timer);
          off();
          resolve(c);
        }
      });
    });
  }

  /**
   * The note to publish for checkpoint `cp`: the signed note plus any witness cosignatures
   * gathered for it (see {@link setCosignatureSource}).
   */
  publishedNote(cp: StoredCheckpoint): string {
    return this.#cosigned?.(cp) ?? cp.note;
  }

  /** Installs the source of cosigned notes (the witness pusher). */
  setCosignatureSource(fn: (cp: StoredCheckpoint) => string | undefined): void {
    this.#cosigned = fn;
  }

  /**
   * Signs if a signing period has passed since the last attempt (after commits and on the
   * timer). Right after a commit the writer is idle, so the checkpoint insert does not wait
   * for its lock. Never throws: a timer callback that throws would kill the process.
   */
  #signIfDue(): void {
    if (!this.#timer || this.#now() - this.#lastSignAt < this.#signIntervalMs) return;
    this.signNow().catch(() => {
      // Reported by signNow; retried when next due.
    });
  }

  /** Subscribe to newly signed checkpoints. */
  onCheckpoint(fn: (cp: StoredCheckpoint) => void): () => void {
    return this.#signer.onCheckpoint(fn);
  }

  /** Leaves committed so far (may be ahead of the latest checkpoint). */
  get committedSize(): number {
    return this.#committedSize;
  }

  /** Leaves waiting in the group-commit queue. */
  get queued(): number {
    return this.#sequencer.queued;
  }

  /** The latest signed checkpoint. */
  latest(): StoredCheckpoint {
    const cp = this.#signer.latest;
    if (!cp) throw new Error('no checkpoint signed yet (call start())');
    return cp;
  }

  /** Appends raw leaves (entries already encoded). Resolves once durable. */
  appendItems(items: readonly AppendItem[]): Promise<AppendResult[]> {
    return this.#sequencer.append(items);
  }

  /**
   * Encodes each event as an entry with a fresh 32-byte salt and a commitment to its payload,
   * and appends them all atomically. Resolves with one result per event once durable.
   */
  appendEvents(events: readonly EventInput[]): Promise<AppendResult[]> {
    const appender = this.eventAppender();
    try {
      appender.add(events);
    } catch (err) {
      return Promise.reject(err);
    }
    return appender.append();
  }

  /**
   * {@link appendEvents} for events that arrive in pieces (an upload parsed piece by piece):
   * each `add` encodes its events into leaves at once and holds them in the form they wait in
   * (the writer thread's packed buffer), so a piece's parsed objects and leaves die young
   * instead of living, and being promoted by the collector, until the last piece is parsed;
   * `append` then appends every event added, atomically (one request: all committed in one
   * transaction, or none). Nothing is queued before `append`; an appender dropped without it
   * appends nothing. All leaves share one receive time (the appender's creation).
   */
  eventAppender(): EventAppender {
    const recv = this.#now();
    const parts: ReturnType<AppendQueue['hold']>[] = [];
    return {
      add: (events) => {
        if (events.length === 0) return 0;
        // Unsealed: the engine draws each salt and hashes in the thread that commits.
        const part = this.#sequencer.hold(events.map((e) => unsealedEventLeaf(e, recv)));
        parts.push(part);
        return part.bytes;
      },
      append: () =>
        this.#sequencer.appendParts(parts.splice(0)).then((results) => {
          const duplicates = results.filter((r) => r.duplicate).length;
          this.#metrics.decisions(results.length - duplicates, duplicates);
          return results;
        }),
    };
  }

  /** The signer's state, for readiness probes. */
  signerHealth(): SignerHealth {
    return {
      running: this.#timer !== undefined && this.#fatal === undefined,
      failing: this.#signFailing,
      lastOkAt: this.#lastSignOkAt,
      intervalMs: this.#signIntervalMs,
    };
  }

  /** Resolves if the storage accepts a write now; rejects with why not (readiness probes). */
  probeWritable(): Promise<void> {
    return this.storage.probeWritable();
  }

  /**
   * Erases the salt and payload of entry `index` and appends an erasure entry naming it, in
   * one transaction; every leaf and proof stays valid. `requestId` makes a retry idempotent
   * (default: one erasure per index). Resolves with the erasure entry's index.
   */
  erase(index: number, reason: string, requestId = `erase/${index}`): Promise<AppendResult> {
    let item: AppendItem;
    try {
      const entry = encodeEntry({
        v: 1,
        kind: 'erasure',
        src: 'opa-tlog',
        id: requestId,
        recv: this.#now(),
        erases: index,
        reason,
      });
      item = {
        entry,
        leafHash: leafHash(entry, this.sha),
        source: 'opa-tlog',
        id: requestId,
        erase: { index, reason },
      };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#sequencer.append([item]).then((r) => r[0]!);
  }

  /** Inclusion proof for `index` in the tree of `size` (at most the latest checkpoint size). */
  async inclusionProof(index: number, size: number): Promise<Uint8Array[]> {
    return (await this.inclusion(index, size)).proof;
  }

  /**
   * The leaf hash of `index` and its inclusion proof in the tree of `size` (at most the latest
   * checkpoint size), read together: one read of the leaf's tile serves both. A caller that
   * needs both should not read them one after the other, which reads that tile twice, or
   * keeps it cached between the two reads long enough for it to outlive a young-generation
   * collection (see DEFAULT_TILE_CACHE).
   */
  async inclusion(index: number, size: number): Promise<{ leafHash: Uint8Array; proof: Uint8Array[] }> {
    this.#checkPublished(size);
    const ranges = inclusionProofRanges(index, size);
    const hashes = await hashRangesAsync([...ranges, [index, index + 1]], this.#reader, this.sha);
    return { leafHash: hashes[ranges.length]!, proof: hashes.slice(0, ranges.length) };
  }

  /** Consistency proof between two sizes, both at most the latest checkpoint size. */
  async consistencyProof(m: number, n: number): Promise<Uint8Array[]> {
    this.#checkPublished(n);
    return hashRangesAsync(consistencyProofRanges(m, n), this.#reader, this.sha);
  }

  /** Leaf hash of `index` (below the latest checkpoint size), from the level-0 tile. */
  async leafHashAt(index: number): Promise<Uint8Array> {
    this.#checkPublished(index + 1);
    const o = (index % TILE_WIDTH) * 32;
    const t = await this.#tileCache.tile(0, Math.floor(index / TILE_WIDTH), o + 32);
    if (!t || t.data.length < o + 32) {
      throw new StorageError('tile_missing', `leaf tile for index ${index} is missing or short`);
    }
    return t.data.subarray(o, o + 32);
  }

  /** Root of the tree at `size` (at most the latest checkpoint size), from stored tiles. */
  async rootAt(size: number): Promise<Uint8Array> {
    this.#checkPublished(size);
    const signed = size === this.latest().size ? this.latest() : await this.storage.checkpointAt(size);
    if (signed) return signed.root;
    return treeHashAsync(size, this.#reader, this.sha);
  }

  #checkPublished(size: number): void {
    const published = this.latest().size;
    if (!isSafeUint(size) || size > published) {
      throw new MerkleError(
        'index_out_of_range',
        `tree size ${size} is beyond the latest checkpoint (${published})`,
      );
    }
  }

  /**
   * True if tile (level, index) exists at `width` as of the latest checkpoint: a narrower
   * width of a grown tile is servable (a prefix), a full path only once the tile is full.
   */
  #tileServable(level: number, index: number, width: number): boolean {
    const t = tileAtSize(this.latest().size, level, index);
    return t !== undefined && width <= t.width && (width < TILE_WIDTH || t.width === TILE_WIDTH);
  }

  /**
   * Bytes of hash tile (level, index) at `width` (256 = full) as of the latest checkpoint, or
   * undefined if that tile does not exist at that width. Narrower widths of a tile that has
   * since grown are served as prefixes: the bytes at a path never change. A servable tile the
   * storage lacks is a StorageError (the server's fault), not a missing tile.
   */
  async hashTile(level: number, index: number, width: number): Promise<Uint8Array | undefined> {
    if (!this.#tileServable(level, index, width)) return undefined;
    // Upper tiles come from the cache (every proof reads them); a level-0 tile is read alone,
    // without its interior nodes (half of its stored bytes), and not cached: at 10M leaves
    // there are 39k of them, and a copy without interior would only slow the proofs using it.
    const data =
      level === 0 && this.storage.tileData
        ? await this.storage.tileData(0, index)
        : (await this.#tileCache.tile(level, index, width * 32))?.data;
    if (!data || data.length < width * 32) {
      throw new StorageError('tile_missing', `tile ${level}/${index} is not stored at width ${width}`);
    }
    return data.subarray(0, width * 32);
  }

  /**
   * Entry bundle `index` at `width` (256 = full) as of the latest checkpoint, or undefined: its
   * tlog-tiles bytes, inflated if the storage keeps them gzipped.
   */
  async entryBundle(index: number, width: number): Promise<Uint8Array | undefined> {
    const stored = await this.entryBundleStored(index, width);
    return stored && rawBundleBytes(stored);
  }

  /**
   * Entry bundle `index` at `width` as of the latest checkpoint in the form that costs no CPU
   * to produce, or undefined: a full bundle the storage keeps as one blob is that blob as
   * stored (a gzip member of the bundle bytes, or the bytes); others are assembled from
   * entries (`gzip` false). For HTTP, which sends a gzip member verbatim.
   */
  async entryBundleStored(index: number, width: number): Promise<StoredBundle | undefined> {
    if (!this.#tileServable(0, index, width)) return undefined;
    const blob = width === TILE_WIDTH ? await this.storage.fullBundleStored?.(index) : undefined;
    if (blob) return blob;
    const entries = await this.storage.entries(index * TILE_WIDTH, index * TILE_WIDTH + width);
    if (entries.length !== width) {
      throw new StorageError('entry_missing', `entries of bundle ${index} are missing below width ${width}`);
    }
    return { bytes: encodeEntryBundle(entries), gzip: false };
  }

  /** The entry bytes at `index` (committed, maybe not yet signed), or undefined. */
  entry(index: number): Promise<Uint8Array | undefined> {
    return this.storage.entry(index);
  }

  /** Salt and payload behind entry `index`, or undefined (none, or erased). */
  payload(index: number): Promise<StoredPayload | undefined> {
    return this.storage.payload(index);
  }

  /** Why and by which entry the payload of `index` was erased, or undefined. */
  erasure(index: number): Promise<ErasureRecord | undefined> {
    return this.storage.erasure(index);
  }

  /** The signed checkpoint of exactly `size`, or undefined if the log never signed that size. */
  checkpointAt(size: number): Promise<StoredCheckpoint | undefined> {
    return this.storage.checkpointAt(size);
  }

  /** Index of the entry logged with (source, id), or undefined. */
  findById(source: string, id: string): Promise<number | undefined> {
    return this.storage.findById(source, id);
  }

  /** Indices of every entry with (source, id): several when the same ids came with other content. */
  findAllById(source: string, id: string): Promise<number[]> {
    return this.storage.findAllById(source, id);
  }

  /** Indices of every entry logged with this id, from any source, in index order. */
  findByIdAnySource(id: string): Promise<number[]> {
    return this.storage.findByIdAnySource(id);
  }

  /** The smallest index below `size` whose leaf hash is `leaf`, or undefined. */
  findLeaf(leaf: Uint8Array, size: number): Promise<number | undefined> {
    return this.storage.findLeaf(leaf, size);
  }

  /** Leaves matching `filter` after `cursor` (exclusive), in index order, at most `limit`. */
  search(filter: SearchFilter, cursor: number, limit: number): Promise<number[]> {
    return this.storage.search(filter, cursor, limit);
  }

  /**
   * The first step of a graceful stop: refuses every further append (SequencerClosedError,
   * answered 503 shutting_down with Retry-After) while reads keep working. Appends already
   * queued are still committed and acknowledged by {@link drain}. Idempotent.
   */
  stopAccepting(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#sequencer.close();
  }

  /**
   * Stops accepting appends, commits what is queued and signs a final checkpoint covering it
   * (unless the signer stopped on a fork); the storage stays open, so reads keep working until
   * {@link close}. A failed final signature is reported, not thrown: the leaves are durable and
   * the next start signs them.
   */
  async drain(): Promise<void> {
    this.stopAccepting();
    await this.#sequencer.drain();
    const report = (err: unknown) => this.#logger.error(errorFields(err), 'final checkpoint not signed');
    // On a shared engine the sequencer signs what it integrated and hands the lease over.
    if (this.#leader) await this.#leader.stop(!this.#fatal).catch(report);
    else if (!this.#fatal) await this.#signer.signIfGrown().catch(report);
  }

  /**
   * Commits what is queued, signs a final checkpoint, stops timers and closes the storage;
   * resolves when all of it is done.
   */
  async close(): Promise<void> {
    try {
      await this.drain();
    } finally {
      await this.storage.close();
    }
  }
}
