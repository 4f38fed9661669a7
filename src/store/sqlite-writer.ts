/**
 * Main-thread side of the SQLite writer thread (sqlite-writer-worker.ts): commits run in the
 * worker, which owns the write connection and the tree's right edge. One database connection writes (the worker's); the main thread keeps a
 * connection for reads, which WAL lets run concurrently with the writer.
 */
import { Worker } from 'node:worker_threads';
import {
  type AppendCommit,
  type AppendResult,
  type CommittedTree,
  ConflictError,
  EraseError,
  type StoredCheckpoint,
} from './log-storage.js';
import type { WriterData } from './sqlite-writer-worker.js';
import type { PackedBatch } from './writer-pack.js';

/** One commit done in the writer thread: its results and the committed tree. */
export type WriterCommit = AppendCommit & CommittedTree;

interface Reply {
  id?: number;
  ready?: boolean;
  indices?: Float64Array;
  duplicates?: Uint8Array;
  /** Per result: the index it conflicts with, or -1. */
  conflicts?: Float64Array;
  size?: number;
  root?: Uint8Array;
  /** The indexer's cursor, as of the reply (or on its own when it advanced). */
  indexedTo?: number;
  error?: { name: string; message: string; code?: string };
}

/** Rebuilds an error that crossed the thread boundary, keeping the classes callers test for. */
function revive(e: NonNullable<Reply['error']>): Error {
  if (e.name === 'EraseError' && e.code) return new EraseError(e.code as EraseError['code'], e.message);
  if (e.name === 'ConflictError') return new ConflictError(e.message);
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code) err.code = e.code;
  return err;
}

/**
 * Young generation of the writer thread's V8 heap, MiB. A worker has a heap of its own, whose
 * new space V8 otherwise grows to 32 MiB. Measured under the bench's ingest load: 8 MiB kept
 * the thread's heap ~15-25 MiB lower but, once sealing (hashes, salts) moved into this thread,
 * cost ~10 % of ingest in scavenges; 16 is the trade (spec/storage.md "Memory"). The old
 * generation is left to V8: a limit there would trade memory for an out-of-memory exit of the
 * committing thread.
 */
export const WRITER_YOUNG_GENERATION_MIB = 16;

export class WriterThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(r: Reply): void; reject(e: unknown): void }>();
  #next = 0;
  #dead: Error | undefined;
  #indexed: ((indexedTo: number) => void) | undefined;
  readonly #exited: Promise<void>;

  constructor(data: WriterData) {
    this.#worker = new Worker(new URL('./sqlite-writer-worker.js', import.meta.url), {
      workerData: data,
      resourceLimits: { maxYoungGenerationSizeMb: WRITER_YOUNG_GENERATION_MIB },
    });
    this.#worker.on('message', (m: Reply) => {
      if (m.indexedTo !== undefined) this.#indexed?.(m.indexedTo);
      if (m.id === undefined) return;
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.error) p.reject(revive(m.error));
      else p.resolve(m);
    });
    this.#worker.on('error', (err) => this.#fail(err));
    this.#exited = new Promise((resolve) =>
      this.#worker.on('exit', (code) => {
        this.#fail(new Error(`writer thread exited (${code})`));
        resolve();
      }),
    );
  }

  #fail(err: Error): void {
    this.#dead ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /** Calls `f` with the indexer's cursor whenever the writer reports it (after the commit replies it covers). */
  onIndexed(f: (indexedTo: number) => void): void {
    this.#indexed = f;
  }

  /**
   * Commits requests packed (writer-pack.ts packBatch, with nodeSha256: their held form) as one batch,
   * received at `nowMs`; resolves once it is durable. Their buffers are copied to the writer,
   * not moved: a failed batch is retried request by request from the same packs (the
   * Sequencer's isolation of a bad request). With `move` (a batch of one request, which is
   * not retried) each pack's byte buffer (entries and payloads, the bulk of it) is moved
   * instead: one copy less of a large upload (~60 MiB for 90,000 decisions) while it commits.
   * Its id keys stay (the caller reads them after the commit).
   */
  async commitPacked(batches: PackedBatch[], nowMs = Date.now(), move = false): Promise<WriterCommit> {
    const transfer = move ? batches.map((b) => b.bytes.buffer as ArrayBuffer) : [];
    const m = await this.#call({ batches, now: nowMs }, transfer);
    const dup = m.duplicates!;
    const con = m.conflicts!;
    const indices = m.indices!;
    const results: AppendResult[] = new Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      // No spread of a temporary per result: this runs for every leaf on the main thread.
      const r: { index: number; duplicate: boolean; conflictsWith?: number } = {
        index: indices[i]!,
        duplicate: dup[i] === 1,
      };
      if (con[i]! >= 0) r.conflictsWith = con[i]!;
      results[i] = r;
    }
    return { results, size: m.size!, root: new Uint8Array(m.root!) };
  }

  /**
   * Records a signed checkpoint through the writer's connection, in turn with the commits:
   * its durable insert (an fsync) then blocks the writer thread, not the main thread that
   * parses uploads and answers reads. Rejects as the insert does (one checkpoint per size).
   */
  async insertCheckpoint(cp: StoredCheckpoint): Promise<void> {
    await this.#call({ checkpoint: cp }, []);
  }

  /** Sends one request to the writer; resolves with its reply (rejects with its error). */
  #call(body: object, transfer: ArrayBuffer[]): Promise<Reply> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, ...body }, transfer);
    });
  }

  /** Closes the writer's database and ends the thread (after pending commits). */
  async close(): Promise<void> {
    if (!this.#dead) this.#worker.postMessage({ close: true });
    await this.#exited;
  }
}
