/**
 * The log's storage seam: what the sequencer, signer, read API, lookups, search, erasure,
 * retention and fork guard need from a storage engine, and the engine-neutral types they
 * speak. `src/log` and everything above import storage types from here only, never from an
 * engine's module. Reads are Promise-returning so a network engine (PostgreSQL) fits behind
 * the same interface; the SQLite engine (sqlite-storage.ts) resolves them at once. A new engine
 * implements {@link LogStorage} in its own module of `src/store/` and is chosen in
 * open-storage.ts; its schema lives in its own migrations, beside the engine.
 */
import { gunzipSync } from 'node:zlib';
import { randomSalt, sealEntry } from '../core/entry.js';
import type { Sha256 } from '../core/hash.js';
import { leafHash } from '../core/merkle.js';
import type { StoredTile } from '../core/tiles.js';
import type { WitnessPushState } from './witness-push-state.js';

/** `T` with its fields writable: for building a readonly record field by field (no spreads). */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One leaf to append. */
export interface AppendItem {
  /** The public entry bytes (the leaf). */
  readonly entry: Uint8Array;
  /** SHA-256(0x00 || entry), if the caller already computed it. */
  readonly leafHash?: Uint8Array;
  /** Private salt and payload behind the entry's commitment, if any. */
  readonly salt?: Uint8Array;
  readonly payload?: Uint8Array;
  /** (source, id) for dedup and lookup; absent = never deduplicated. */
  readonly source?: string;
  readonly id?: string;
  /** The id's 52-bit key (lookup-index.ts idKey), if the caller computed it (off the writer thread). */
  readonly idKey?: number;
  /** Private search metadata, stored in the same transaction. */
  readonly meta?: LeafMeta;
  /**
   * Refuse the batch (ConflictError) instead of appending when (source, id) is in the log with
   * other content: an `Idempotency-Key` reused with a different body.
   */
  readonly refuseConflict?: boolean;
  /** This leaf is an erasure entry: erase the salt and payload of `index` in the same transaction. */
  readonly erase?: { readonly index: number; readonly reason: string };
  /**
   * The entry was encoded with a placeholder commitment and `salt`/`leafHash` are absent: the
   * engine draws the salt and seals it ({@link sealItem}) in the thread that commits, so the
   * hashing leaves the main thread. Set by log/leaf.ts for events; needs `payload`.
   */
  readonly unsealed?: boolean;
}

/** A request's items as an engine's {@link LogStorage.hold} keeps them (its own form). */
export interface HeldItems {
  /** How many items. */
  readonly count: number;
}

/**
 * `item` ready to store: an {@link AppendItem.unsealed} item gets a fresh salt, its entry's
 * commitment c = SHA-256(salt || payload) written in place (core/entry.ts sealEntry) and its
 * leaf hash; any other item is returned as it is. Every engine calls this before it stores an
 * item, and only for items it stores (a duplicate is never sealed).
 */
export function sealItem(item: AppendItem, sha: Sha256): AppendItem {
  if (!item.unsealed) return item;
  if (item.payload === undefined) throw new Error('an unsealed item needs its payload');
  const salt = randomSalt();
  const entry = sealEntry(item.entry, salt, item.payload, sha);
  // Field by field, not `{ ...item }`: a spread of this many optional fields was ~5 % of the
  // writer thread under full ingest (it runs once per leaf).
  const out: Mutable<AppendItem> = {
    entry,
    salt,
    leafHash: leafHash(entry, sha),
    payload: item.payload,
  };
  if (item.source !== undefined) out.source = item.source;
  if (item.id !== undefined) out.id = item.id;
  if (item.idKey !== undefined) out.idKey = item.idKey;
  if (item.meta !== undefined) out.meta = item.meta;
  if (item.refuseConflict !== undefined) out.refuseConflict = item.refuseConflict;
  if (item.erase !== undefined) out.erase = item.erase;
  return out;
}

/** Private search metadata of a leaf. */
export interface LeafMeta {
  readonly kind: string;
  readonly source: string;
  readonly recvMs: number;
  readonly tsMs: number | null;
  readonly path: string | null;
  readonly result: string | null;
  readonly revisions: readonly string[];
  /** The event's id when it was withheld from the public leaf (spec/entry-format.md §2.1). */
  readonly privateId?: string;
}

/** A search over the private metadata. Filters are ANDed; absent ones match everything. */
export interface SearchFilter {
  readonly kind?: string;
  readonly sinceMs?: number;
  readonly untilMs?: number;
  readonly path?: string;
  readonly result?: string;
  readonly source?: string;
  readonly revision?: string;
}

/** Where an append landed. */
export interface AppendResult {
  readonly index: number;
  /** True when the same event (same (source, id) and content) was already in the log: no leaf was added. */
  readonly duplicate: boolean;
  /**
   * Appended although (source, id) was already in the log with other content: the index of
   * the earliest such entry, which this one conflicts with.
   */
  readonly conflictsWith?: number;
}

/** What one committed batch produced: one result per item, and the new tree size. */
export interface AppendCommit {
  readonly results: AppendResult[];
  readonly size: number;
}

/** The committed tree: its size and root hash. */
export interface CommittedTree {
  readonly size: number;
  readonly root: Uint8Array;
}

/** A checkpoint the log signed. */
export interface StoredCheckpoint {
  readonly size: number;
  readonly root: Uint8Array;
  readonly note: string;
  readonly signedAt: number;
}

/** Salt and clear-text payload behind an entry's commitment. */
export interface StoredPayload {
  readonly salt: Uint8Array;
  readonly payload: Uint8Array;
}

/** Why and by which entry a payload was erased. */
export interface ErasureRecord {
  readonly erasureIndex: number;
  readonly reason: string;
  readonly erasedAt: number;
}

/**
 * Who a log database belongs to (fields absent on a fresh one): its origin, fixed at creation,
 * the verifier keys the log signs with now, and the keys it signed with before a rotation
 * (kept so that checkpoints they signed can still be checked).
 */
export interface LogIdentity {
  readonly origin?: string;
  /** The current key set, in the order the log signs with them. */
  readonly vkeys?: readonly string[];
  /** Keys that signed earlier checkpoints and no longer sign. */
  readonly retiredVkeys?: readonly string[];
}

/** An erasure that cannot be applied; the whole request is refused. */
export class EraseError extends Error {
  constructor(
    readonly code: 'no_such_entry' | 'already_erased' | 'not_erasable',
    message: string,
  ) {
    super(message);
    this.name = 'EraseError';
  }
}

/** A batch item with `refuseConflict` whose (source, id) is logged with other content; nothing applied. */
export class ConflictError extends Error {
  readonly code = 'idempotency_key_reused';
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/**
 * A full entry bundle as stored: `bytes` is one gzip member of the tlog-tiles bundle bytes when
 * `gzip`, else the bundle bytes themselves.
 */
export interface StoredBundle {
  bytes: Uint8Array;
  gzip: boolean;
}

/**
 * The raw tlog-tiles bytes of a stored bundle: its gzip member inflated, or the bytes as they
 * are. The log wrote them, so nothing is verified here beyond zlib's own CRC and length check.
 */
export function rawBundleBytes(stored: StoredBundle): Uint8Array {
  return stored.gzip ? gunzipSync(stored.bytes) : stored.bytes;
}

/**
 * Storage holds less than the log signed or committed (a tile or entry below the tree size is
 * missing or short): the server's fault, never the request's, so HTTP answers it 5xx.
 */
export class StorageError extends Error {
  constructor(
    readonly code: 'tile_missing' | 'entry_missing',
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

/**
 * The elected sequencer's lease was lost (expired and taken by another server, whose fencing
 * token is newer): the write was refused and this server must step down and follow.
 */
export class LeaseLostError extends Error {
  readonly code = 'lease_lost';
  constructor(message: string) {
    super(message);
    this.name = 'LeaseLostError';
  }
}

/**
 * What an engine shared by several servers (PostgreSQL) adds: any server appends (each
 * commit takes its final indices at once), and one elected server, the sequencer, builds the
 * tiles from committed entries and signs. Its writes are fenced by the lease's token, so a
 * server that lost the lease (paused, partitioned) can no longer write. See spec/scale-out.md.
 */
export interface SharedLogStorage {
  /**
   * Takes the lease if free or expired ('elected': a new term, so reload what the previous
   * sequencer signed before signing), or renews it if held ('renewed'); 'follower' when
   * another server holds it. `ttlMs` is how long it stays valid unrenewed (database clock).
   */
  lead(ttlMs: number): Promise<'elected' | 'renewed' | 'follower'>;
  /**
   * Sequencer only: builds the tiles of every committed entry beyond the integrated size, in
   * index order, and records the new size, fenced by the lease (LeaseLostError when lost).
   * Afterwards committedTree() is the integrated tree.
   */
  integrate(): Promise<CommittedTree>;
  /** Gives the lease up at once (shutdown), so another server takes over without waiting. */
  resign(): Promise<void>;
  /** True while this server holds the lease (as of its last lease call or fenced write). */
  readonly leading: boolean;
}

/** Bytes a storage engine occupies, for metrics; `wal` is absent when it cannot be read. */
export interface StorageBytes {
  readonly db: number;
  readonly wal?: number;
}

/**
 * A log's storage engine. Writes that change the tree go through {@link append} only: one
 * atomic commit per batch (dedup, indices, entries, payloads, ids, metadata, erasures and
 * hash tiles together). The engine keeps the tree's right edge, so it knows the committed
 * tree without reading it back.
 */
export interface LogStorage {
  /**
   * Commits a batch atomically; one result per item. May complete synchronously (an
   * in-process engine) or return a promise (a writer thread, a network engine); either way
   * it settles only once the batch is durable, and a failure applied nothing.
   */
  append(items: AppendItem[]): AppendCommit | Promise<AppendCommit>;
  /**
   * Optional, with {@link appendHeld}: the compact form a request's items wait in between
   * being queued and committed (one packed buffer, not thousands of small objects that would
   * survive the collections run while they wait). Called once per request, or once per piece
   * of a request built in pieces, when it is made.
   */
  hold?(items: readonly AppendItem[]): HeldItems;
  /**
   * {@link append} of the requests held by {@link hold}, in order, as one batch. `final`: they
   * are never passed again (one request, not retried), so the engine may consume them (move
   * their buffers instead of copying them).
   */
  appendHeld?(held: HeldItems[], final?: boolean): AppendCommit | Promise<AppendCommit>;
  /** The committed tree as of the last settled append (or as opened). */
  committedTree(): CommittedTree;

  /** Entry bytes at `index`, or undefined. */
  entry(index: number): Promise<Uint8Array | undefined>;
  /** Entries [lo, hi) in index order (fewer if some are missing). */
  entries(lo: number, hi: number): Promise<Uint8Array[]>;
  /**
   * Full entry bundle `index` as the engine stores it, or undefined when it keeps none: the log
   * then assembles it from entries(). `gzip`: `bytes` is one gzip member of exactly the
   * tlog-tiles bundle (served verbatim to clients that accept gzip); otherwise `bytes` is the
   * bundle itself. Optional (PostgreSQL has none and assembles every bundle from its rows).
   */
  fullBundleStored?(index: number): Promise<StoredBundle | undefined>;
  /** Salt and payload of `index`, or undefined (none, or erased). */
  payload(index: number): Promise<StoredPayload | undefined>;
  /** The erasure record of `index`, or undefined if its payload was not erased. */
  erasure(index: number): Promise<ErasureRecord | undefined>;
  /** Hash tile (level, index) at its current width, with interior nodes when stored. */
  tile(level: number, index: number): Promise<StoredTile | undefined>;
  /**
   * Only the hashes of tile (level, index) at its current width, or undefined. Optional: for
   * an engine that stores interior nodes in the same row (SQLite: half of its bytes), a tile
   * GET, which needs only the hashes, reads half as much.
   */
  tileData?(level: number, index: number): Promise<Uint8Array | undefined>;

  /** Index of the entry with (source, id), or undefined. */
  findById(source: string, id: string): Promise<number | undefined>;
  /** Indices of every entry with (source, id) (several when contents conflicted), in index order. */
  findAllById(source: string, id: string): Promise<number[]>;
  /** Indices of every entry with this id, from any source, in index order. */
  findByIdAnySource(id: string): Promise<number[]>;
  /** The smallest index below `size` whose leaf hash is `leaf`, or undefined. */
  findLeaf(leaf: Uint8Array, size: number): Promise<number | undefined>;
  /** Leaves matching `filter` after `cursor` (exclusive), in index order, at most `limit`. */
  search(filter: SearchFilter, cursor: number, limit: number): Promise<number[]>;
  /** Payload-holding leaves received before `recvMs`, oldest first, at most `limit`. */
  expiredPayloads(recvMs: number, limit: number): Promise<number[]>;

  /** Records a signed checkpoint; rejects if one of that size exists (one root per size, ever). */
  insertCheckpoint(cp: StoredCheckpoint): Promise<void>;
  /** The largest signed checkpoint, or undefined if none was ever signed. */
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  /** The signed checkpoint of exactly `size`, or undefined. */
  checkpointAt(size: number): Promise<StoredCheckpoint | undefined>;

  /** The recorded origin and keys. */
  identity(): Promise<LogIdentity>;
  /**
   * Records origin, current and retired keys together, replacing what was recorded (the fork
   * guard keeps the origin fixed and decides which key changes are allowed).
   */
  setIdentity(origin: string, vkeys: readonly string[], retiredVkeys: readonly string[]): Promise<void>;
  /**
   * Replaces the note of the stored checkpoint of `size` by `note`, which must carry the same
   * checkpoint (size and `root`) with more signatures (a key added by a rotation); rejects if
   * no checkpoint of that size and root is stored. Never a second root for a size.
   */
  addCheckpointSignatures(size: number, root: Uint8Array, note: string): Promise<void>;

  /**
   * Proves the storage accepts writes now (readiness probe): a tiny durable write that changes
   * nothing the log reads (SQLite: a meta row). Rejects with the engine's error if it cannot.
   */
  probeWritable(): Promise<void>;

  /** Settles pending work and releases the engine (connections, threads). */
  close(): Promise<void>;

  /**
   * Present on engines several servers share: then committedTree() is the tree the elected
   * sequencer integrated, and insertCheckpoint is fenced by the lease and is a
   * compare-and-swap on the newest stored checkpoint.
   */
  readonly shared?: SharedLogStorage;
  /**
   * Present on engines that keep the witness pusher's state themselves (PostgreSQL: in the
   * database every server shares); otherwise the caller keeps it (SQLite: the log's file).
   */
  readonly witnessPushState?: WitnessPushState;
  /** Present on engines that measure their own size (PostgreSQL; SQLite's is its files'). */
  storageBytes?(): Promise<StorageBytes>;
}
