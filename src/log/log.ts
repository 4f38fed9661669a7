/**
 * The log: opens the store, refuses to run on a database that disagrees with what was
 * signed (the fork guard), and ties together the sequencer (group commit) and the signer.
 * Reads (tiles, bundles, proofs) are bounded by the latest *signed* checkpoint, so nothing is
 * published before a signature commits to it.
 */
import { encodeEntryBundle } from '../core/bundle.js';
import { bytesEqual, toBase64 } from '../core/bytes.js';
import { isSafeUint } from '../core/check.js';
import { openCheckpoint } from '../core/checkpoint.js';
import { encodeEntry } from '../core/entry.js';
import type { Sha256 } from '../core/hash.js';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  MerkleError,
  perfectRootOf,
  type SubtreeReader,
  treeHash,
} from '../core/merkle.js';
import type { Ed25519NoteSigner, NoteVerifier } from '../core/note.js';
import {
  hashesAtLevel,
  TILE_WIDTH,
  TileBuilder,
  tileAtSize,
  tileHashes,
  tileSubtreeReader,
} from '../core/tiles.js';
import { type Db, openDatabase, type SyncMode } from '../store/db.js';
import { type AppendItem, type AppendResult, LogStore, type StoredCheckpoint } from '../store/log-store.js';
import { type EventInput, eventLeaf } from './leaf.js';
import { nodeSha256 } from './node-hash.js';
import {
  type CommitResult,
  DEFAULT_SEQUENCER_OPTIONS,
  Sequencer,
  type SequencerOptions,
} from './sequencer.js';
import { CheckpointSigner, ForkError } from './signer.js';
import { WriterThread } from './writer.js';

export { nodeSha256 } from './node-hash.js';

export interface LogConfig {
  /** SQLite file path (or ':memory:' for tests). */
  dbPath: string;
  /** Checkpoint origin; fixed at creation and checked on every open. */
  origin: string;
  /** The log's checkpoint signing key (its name must be the origin). */
  signer: Ed25519NoteSigner;
  /** The matching verifier, used to check stored checkpoints at start-up. */
  verifier: NoteVerifier;
  /** Signing period in ms (default 1000). */
  signIntervalMs?: number;
  sequencer?: Partial<SequencerOptions>;
  synchronous?: SyncMode;
  cacheMiB?: number;
  sha?: Sha256;
  now?: () => number;
  /**
   * Run the write path (SQLite transactions, the tree's right edge) in a worker thread, so it
   * uses the second core. The server does; in-process users may keep it inline (default).
   * Needs the compiled build (dist/), since the worker loads writer-worker.js.
   */
  writerThread?: boolean;
}

/** A refusal to start: the database does not match what the log signed, or config conflicts. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

export type { EventInput } from './leaf.js';

export class TransparencyLog {
  readonly origin: string;
  readonly store: LogStore;
  readonly db: Db;
  readonly sha: Sha256;
  readonly #sequencer: Sequencer;
  readonly #signer: CheckpointSigner;
  readonly #signIntervalMs: number;
  readonly #now: () => number;
  readonly #writer: WriterThread | undefined;
  /** The committed tree: size, and its root (computed on demand when inline). */
  readonly #tree: () => { size: number; root: Uint8Array };
  #committedSize: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #fatal: Error | undefined;
  #signFailing = false;
  #lastSignAt = 0;
  #cosigned: ((cp: StoredCheckpoint) => string | undefined) | undefined;
  /** Hashes of complete subtrees of height >= 4 (cheaper ones are not worth the memory). */
  readonly #subtreeCache = new Map<string, Uint8Array>();

  private constructor(cfg: LogConfig, db: Db, store: LogStore, builder: TileBuilder) {
    this.origin = cfg.origin;
    this.db = db;
    this.store = store;
    this.sha = cfg.sha ?? nodeSha256;
    this.#now = cfg.now ?? Date.now;
    this.#signIntervalMs = cfg.signIntervalMs ?? 1000;
    this.#committedSize = builder.size;
    const opts = { ...DEFAULT_SEQUENCER_OPTIONS, ...cfg.sequencer };
    if (cfg.writerThread) {
      const writer = new WriterThread({
        dbPath: cfg.dbPath,
        synchronous: cfg.synchronous ?? 'FULL',
        cacheMiB: cfg.cacheMiB ?? 256,
      });
      this.#writer = writer;
      let tree = { size: builder.size, root: builder.root() };
      this.#tree = () => tree;
      this.#sequencer = new Sequencer(writer.commit, opts, (c: CommitResult) => {
        tree = { size: c.size, root: c.root! };
        this.#committedSize = c.size;
        this.#signIfDue();
      });
    } else {
      this.#writer = undefined;
      this.#tree = () => ({ size: builder.size, root: builder.root() });
      this.#sequencer = new Sequencer(
        (items) => ({ results: store.appendBatch(items, builder), size: builder.size }),
        opts,
        (c) => {
          this.#committedSize = c.size;
          this.#signIfDue();
        },
      );
    }
    this.#signer = new CheckpointSigner(store, this.#tree, cfg.signer, cfg.origin, this.#now);
  }

  /**
   * Opens the log. Refuses (StartupError) when: the origin or key differ from the ones the
   * database was created with; the database holds fewer leaves than the last signed
   * checkpoint; the stored tiles do not hash to the last signed root; the stored checkpoint
   * does not verify; or the newest leaves do not match their tile hashes.
   */
  static open(cfg: LogConfig): TransparencyLog {
    const sha = cfg.sha ?? nodeSha256;
    if (cfg.signer.name !== cfg.origin) {
      throw new StartupError(`signer key name ${cfg.signer.name} must equal the origin ${cfg.origin}`);
    }
    let db: Db;
    try {
      db = openDatabase(cfg.dbPath, {
        synchronous: cfg.synchronous ?? 'FULL',
        cacheMiB: cfg.cacheMiB ?? 256,
      });
    } catch (err) {
      throw new StartupError(`cannot open the database ${cfg.dbPath}: ${(err as Error).message}`);
    }
    try {
      const store = new LogStore(db, sha);
      checkIdentity(store, cfg);
      const size = store.treeSize();
      let edge: Uint8Array[][];
      try {
        edge = store.loadEdge(size);
      } catch (err) {
        throw new StartupError(`stored tiles are damaged: ${(err as Error).message}`);
      }
      const builder = new TileBuilder(size, edge, sha);
      checkAgainstLastCheckpoint(store, builder, cfg.verifier, sha);
      checkNewestLeaves(store, size, sha);
      checkNewestFullTiles(store, size, sha);
      return new TransparencyLog(cfg, db, store, builder);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * Signs the first checkpoint if needed and starts signing: a checkpoint is due one signing
   * period after the last attempt, and is signed right after the next commit or at the next
   * check (every 50 ms at most), whichever comes first, so a committed leaf is covered within
   * the period plus a few tens of milliseconds even when the main thread is busy.
   */
  start(): void {
    this.signNow();
    this.#timer = setInterval(() => this.#signIfDue(), Math.min(this.#signIntervalMs, 50));
    this.#timer.unref?.();
  }

  /**
   * Signs a checkpoint for the committed tree if it grew; returns the latest checkpoint. A
   * fork stops the signer for good (signing on would publish two trees). A storage failure
   * (e.g. a full disk) is reported and retried at the next tick: the failed checkpoint was
   * never stored, so it was never published.
   */
  signNow(): StoredCheckpoint {
    if (this.#fatal) throw this.#fatal;
    this.#lastSignAt = this.#now();
    try {
      const cp = this.#signer.signIfGrown();
      if (this.#signFailing) {
        console.error('opa-tlog: signing works again');
        this.#signFailing = false;
      }
      return cp;
    } catch (err) {
      if (err instanceof ForkError) {
        this.#fatal = err;
        if (this.#timer) clearInterval(this.#timer);
        console.error(`opa-tlog: signer stopped: ${err.message}`);
      } else if (!this.#signFailing) {
        this.#signFailing = true;
        console.error(`opa-tlog: signing failed, retrying every tick: ${(err as Error).message}`);
      }
      throw err;
    }
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
    try {
      this.signNow();
    } catch {
      // Reported by signNow; retried when next due.
    }
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
    const recv = this.#now();
    let items: AppendItem[];
    try {
      items = events.map((e) => eventLeaf(e, recv, this.sha));
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#sequencer.append(items);
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

  /**
   * Complete-subtree hashes from the stored tiles, through an LRU: a complete subtree's hash
   * never changes, and the right-edge ones (inside partial tiles, which have no stored
   * interior nodes) are asked for by every proof against a recent size.
   */
  #reader(): SubtreeReader {
    const tiles = tileSubtreeReader((level, index) => this.store.tileWithInterior(level, index), this.sha);
    const cache = this.#subtreeCache;
    return (subtrees) => {
      const out: Uint8Array[] = new Array(subtrees.length);
      const missing: number[] = [];
      subtrees.forEach((s, i) => {
        const h = cache.get(`${s.level}/${s.index}`);
        if (h) out[i] = h;
        else missing.push(i);
      });
      if (missing.length > 0) {
        const got = tiles(missing.map((i) => subtrees[i]!));
        missing.forEach((i, k) => {
          out[i] = got[k]!;
          const s = subtrees[i]!;
          if (s.level >= 4) cache.set(`${s.level}/${s.index}`, got[k]!);
        });
        while (cache.size > 65_536) cache.delete(cache.keys().next().value!);
      }
      return out;
    };
  }

  /** Inclusion proof for `index` in the tree of `size` (at most the latest checkpoint size). */
  inclusionProof(index: number, size: number): Uint8Array[] {
    this.#checkPublished(size);
    return inclusionProof(index, size, this.#reader(), this.sha);
  }

  /** Consistency proof between two sizes, both at most the latest checkpoint size. */
  consistencyProof(m: number, n: number): Uint8Array[] {
    this.#checkPublished(n);
    return consistencyProof(m, n, this.#reader(), this.sha);
  }

  /** Leaf hash of `index` (below the latest checkpoint size), from the level-0 tile. */
  leafHashAt(index: number): Uint8Array {
    this.#checkPublished(index + 1);
    const h = this.store.leafHash(index);
    if (!h) throw new Error(`leaf tile for index ${index} is missing`);
    return h;
  }

  /** Root of the tree at `size` (at most the latest checkpoint size), from stored tiles. */
  rootAt(size: number): Uint8Array {
    this.#checkPublished(size);
    const signed = size === this.latest().size ? this.latest() : this.store.checkpointAt(size);
    if (signed) return signed.root;
    return treeHash(size, this.#reader(), this.sha);
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
   * since grown are served as prefixes: the bytes at a path never change.
   */
  hashTile(level: number, index: number, width: number): Uint8Array | undefined {
    if (!this.#tileServable(level, index, width)) return undefined;
    const data = this.store.tile(level, index);
    if (!data || data.length < width * 32) return undefined;
    return data.subarray(0, width * 32);
  }

  /** Entry bundle `index` at `width` (256 = full) as of the latest checkpoint, or undefined. */
  entryBundle(index: number, width: number): Uint8Array | undefined {
    if (!this.#tileServable(0, index, width)) return undefined;
    return encodeEntryBundle(this.store.entries(index * TILE_WIDTH, index * TILE_WIDTH + width));
  }

  /**
   * Commits what is queued, signs a final checkpoint, stops timers and closes the database.
   * Inline, all of it happens before close() returns; with a writer thread, await it.
   */
  close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#sequencer.close();
    const finish = () => {
      if (!this.#fatal) {
        try {
          this.#signer.signIfGrown();
        } catch (err) {
          console.error(`opa-tlog: final checkpoint not signed: ${(err as Error).message}`);
        }
      }
    };
    if (!this.#writer) {
      finish();
      this.db.close();
      return Promise.resolve();
    }
    const writer = this.#writer;
    return this.#sequencer
      .drain()
      .then(finish)
      .finally(async () => {
        await writer.close();
        this.db.close();
      });
  }
}

function checkIdentity(store: LogStore, cfg: LogConfig): void {
  const origin = store.getMeta('origin');
  const vkey = store.getMeta('vkey');
  if (origin === undefined && vkey === undefined) {
    if (store.treeSize() > 0 || store.latestCheckpoint()) {
      throw new StartupError('database has leaves but no recorded origin/key: refusing to adopt it');
    }
    store.db.transaction(() => {
      store.setMeta('origin', cfg.origin);
      store.setMeta('vkey', cfg.signer.vkey);
    })();
    return;
  }
  if (origin !== cfg.origin) {
    throw new StartupError(`this database belongs to origin "${origin}", not "${cfg.origin}"`);
  }
  if (vkey !== cfg.signer.vkey) {
    throw new StartupError(`this database was signed by key ${vkey}, not ${cfg.signer.vkey}`);
  }
}

function checkAgainstLastCheckpoint(
  store: LogStore,
  builder: TileBuilder,
  verifier: NoteVerifier,
  sha: Sha256,
): void {
  const last = store.latestCheckpoint();
  if (!last) return;
  let opened: ReturnType<typeof openCheckpoint>;
  try {
    opened = openCheckpoint(last.note, verifier);
  } catch (err) {
    throw new StartupError(
      `the last stored checkpoint (size ${last.size}) does not verify: ${(err as Error).message}`,
    );
  }
  const cp = opened.checkpoint;
  if (cp.size !== last.size || !bytesEqual(cp.rootHash, last.root)) {
    throw new StartupError(`the last stored checkpoint's note disagrees with its row (size ${last.size})`);
  }
  if (builder.size < last.size) {
    throw new StartupError(
      `the database holds ${builder.size} leaves but checkpoint ${last.size} was signed: acknowledged leaves are missing`,
    );
  }
  const reader = tileSubtreeReader((level, index) => store.tile(level, index), sha);
  let root: Uint8Array;
  try {
    root = last.size === builder.size ? builder.root() : treeHash(last.size, reader, sha);
  } catch (err) {
    throw new StartupError(`cannot recompute the root at size ${last.size}: ${(err as Error).message}`);
  }
  if (!bytesEqual(root, last.root)) {
    throw new StartupError(
      `FORK GUARD: the stored tree at size ${last.size} has root ${toBase64(root)}, but the log signed ${toBase64(last.root)}. ` +
        'The database was altered or damaged; refusing to run (signing now would fork the log).',
    );
  }
}

function checkNewestLeaves(store: LogStore, size: number, sha: Sha256): void {
  const lo = Math.max(0, size - TILE_WIDTH);
  const entries = store.entries(lo, size);
  if (entries.length !== size - lo) throw new StartupError(`entries below ${size} are missing`);
  const tiles = new Map<number, Uint8Array[]>();
  for (let i = 0; i < entries.length; i++) {
    const idx = lo + i;
    const t = Math.floor(idx / TILE_WIDTH);
    let hashes = tiles.get(t);
    if (!hashes) {
      const data = store.tile(0, t);
      if (!data) throw new StartupError(`leaf tile ${t} is missing`);
      hashes = tileHashes(data);
      tiles.set(t, hashes);
    }
    const h = hashes[idx - t * TILE_WIDTH];
    if (!h || !bytesEqual(h, leafHash(entries[i]!, sha))) {
      throw new StartupError(
        `entry ${idx} does not match its leaf hash in the tiles: the database was altered`,
      );
    }
  }
}

/** The last full tile of each level must hash to its parent hash one level up. */
function checkNewestFullTiles(store: LogStore, size: number, sha: Sha256): void {
  for (let level = 0; hashesAtLevel(size, level + 1) > 0; level++) {
    const t = hashesAtLevel(size, level + 1) - 1; // index of the last full tile at `level`
    const data = store.tile(level, t);
    const parent = store.tile(level + 1, Math.floor(t / TILE_WIDTH));
    const want = parent?.subarray((t % TILE_WIDTH) * 32, (t % TILE_WIDTH) * 32 + 32);
    if (!data || data.length !== TILE_WIDTH * 32 || !want || want.length !== 32) {
      throw new StartupError(`tile ${level}/${t} or its parent is missing`);
    }
    if (!bytesEqual(perfectRootOf(tileHashes(data), sha), want)) {
      throw new StartupError(
        `tile ${level}/${t} does not hash to its parent in level ${level + 1}: the database was altered`,
      );
    }
  }
}
