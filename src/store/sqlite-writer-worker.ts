/**
 * The writer thread: owns the database's write path (group-commit transactions and the
 * tree's right edge) so that SQLite's work runs on the second core while the main thread
 * parses, encodes and hashes the next requests. Messages: {id, items} -> {id, results, size,
 * root} or {id, error}; {close: true} closes the database and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TileBuilder } from '../core/tiles.js';
import { openDatabase, type SyncMode } from './db.js';
import { LogStore } from './log-store.js';
import { nodeSha256 } from './node-hash.js';
import { type PackedBatch, unpackBatch } from './writer-pack.js';

export interface WriterData {
  readonly dbPath: string;
  readonly synchronous: SyncMode;
  readonly cacheMiB: number;
}

const port = parentPort;
if (!port) throw new Error('writer-worker must run in a worker thread');
const data = workerData as WriterData;
const db = openDatabase(data.dbPath, { synchronous: data.synchronous, cacheMiB: data.cacheMiB });
const store = new LogStore(db, nodeSha256);
const size = store.treeSize();
const builder = new TileBuilder(size, store.loadEdge(size), nodeSha256);

port.on('message', (m: { id: number; batch: PackedBatch } | { close: true }) => {
  if ('close' in m) {
    db.close();
    port.close();
    return;
  }
  try {
    const results = store.appendBatch(unpackBatch(m.batch), builder);
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
    const e = err as Error & { code?: string };
    port.postMessage({ id: m.id, error: { name: e.name, message: e.message, code: e.code } });
  }
});
port.postMessage({ ready: true, size: builder.size });
