/**
 * The writer thread: owns the database's write path (group-commit transactions and the
 * tree's right edge) so that SQLite's work runs on the second core while the main thread
 * parses, encodes and hashes the next requests. Messages: {id, items} -> {id, results, size,
 * root, indexedTo} or {id, error}; {id, checkpoint} -> {id} or {id, error} (the signer's
 * durable insert, its fsync off the main thread); {indexedTo} when the follower indexer (run here, between
 * commits and on an idle tick) advanced; {close: true} closes the database and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TileBuilder } from '../core/tiles.js';
import { openDatabase, type SyncMode } from './db.js';
import type { DedupWindowOptions } from './dedup-window.js';
import type { StoredCheckpoint } from './log-storage.js';
import { LogStore } from './log-store.js';
import { IDLE_TICK_MS } from './lookup-index.js';
import { nodeSha256 } from './node-hash.js';
import { type PackedBatch, unpackBatch } from './writer-pack.js';

export interface WriterData {
  readonly dbPath: string;
  readonly synchronous: SyncMode;
  readonly cacheMiB: number;
  readonly dedupWindow: DedupWindowOptions;
  /** The main thread's clock at open (the window's rebuild cut-off). */
  readonly nowMs: number;
}

const port = parentPort;
if (!port) throw new Error('writer-worker must run in a worker thread');
const data = workerData as WriterData;
const db = openDatabase(data.dbPath, { synchronous: data.synchronous, cacheMiB: data.cacheMiB });
const store = new LogStore(db, nodeSha256);
const size = store.treeSize();
const builder = new TileBuilder(size, store.loadEdge(size), nodeSha256);
store.openWriter(data.dedupWindow, data.nowMs);
let reported = store.indexedTo();
try {
  // The tail the last process left unindexed (the main thread remembers its ids until the
  // cursor report below passes them).
  store.indexAll(size);
} catch {
  // Retried by the background turns; lookups read the tail from the main thread's map.
}

/**
 * The indexer's turn; tells the main thread when its cursor moved (it prunes its recent ids).
 * After a commit the turn merges one step only; the merging owed to keep pace with indexing
 * is paid in slices of ~5 ms between messages (setImmediate), so a commit or a checkpoint
 * insert that arrives meanwhile waits for one step, not for the whole turn.
 */
function background(idle: boolean): void {
  try {
    const to = store.background(builder.size, idle, false, 0);
    if (to !== reported) port!.postMessage({ indexedTo: to });
    reported = to;
  } catch {
    // Retried at the next commit or tick; lookups read the tail meanwhile.
  }
  scheduleMerges();
}

/** Longest slice of owed merging between two messages, ms. */
const MERGE_SLICE_MS = 5;
let mergesScheduled = false;
function scheduleMerges(): void {
  if (mergesScheduled || !store.owesMerges()) return;
  mergesScheduled = true;
  setImmediate(() => {
    mergesScheduled = false;
    try {
      store.payMerges(MERGE_SLICE_MS);
    } catch {
      return; // retried at the next commit or tick
    }
    scheduleMerges();
  });
}

const idle = setInterval(() => background(true), IDLE_TICK_MS);
if (store.indexedTo() !== reported) {
  reported = store.indexedTo();
  port.postMessage({ indexedTo: reported });
}

type Request =
  | { id: number; batches: PackedBatch[]; now: number }
  | { id: number; checkpoint: StoredCheckpoint }
  | { close: true };

/** Sends the error of request `id` across the thread boundary (name, message, code kept). */
function fail(id: number, err: unknown): void {
  const e = err as Error & { code?: string };
  port!.postMessage({ id, error: { name: e.name, message: e.message, code: e.code } });
}

port.on('message', (m: Request) => {
  if ('close' in m) {
    clearInterval(idle);
    store.close();
    db.close();
    port.close();
    return;
  }
  if ('checkpoint' in m) {
    try {
      store.insertCheckpoint(m.checkpoint);
      port.postMessage({ id: m.id });
    } catch (err) {
      fail(m.id, err);
    }
    return;
  }
  try {
    const items = m.batches.flatMap(unpackBatch);
    const results = store.appendBatch(items, builder, m.now);
    // Results as two typed arrays, moved rather than cloned object by object.
    const indices = Float64Array.from(results, (r) => r.index);
    const duplicates = Uint8Array.from(results, (r) => (r.duplicate ? 1 : 0));
    const conflicts = Float64Array.from(results, (r) => r.conflictsWith ?? -1);
    port.postMessage({ id: m.id, indices, duplicates, conflicts, size: builder.size, root: builder.root() }, [
      indices.buffer,
      duplicates.buffer,
      conflicts.buffer,
    ]);
  } catch (err) {
    fail(m.id, err);
    return;
  }
  background(false);
});
port.postMessage({ ready: true, size: builder.size });
