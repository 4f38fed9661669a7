/**
 * Group commit. Concurrent appends wait in a bounded queue; a flush takes whole requests (a
 * request is never split across transactions, so an upload is applied entirely or not at
 * all) up to `maxBatch` leaves and commits them in ONE transaction. A caller's promise
 * resolves only after that commit returned, i.e. once the leaves are durable.
 */
import type { TileBuilder } from '../core/tiles.js';
import type { AppendItem, AppendResult, LogStore } from '../store/log-store.js';

export interface SequencerOptions {
  /** Most leaves committed in one transaction (a larger single request still commits whole). */
  maxBatch: number;
  /** Longest a request waits for others to join its batch, in ms (0 = next tick). */
  maxDelayMs: number;
  /** Most leaves waiting; beyond it appends are refused with {@link QueueFullError}. */
  maxQueue: number;
}

export const DEFAULT_SEQUENCER_OPTIONS: SequencerOptions = {
  maxBatch: 10_000,
  maxDelayMs: 2,
  maxQueue: 200_000,
};

/** Backpressure: the queue is full; retry later (HTTP maps it to 503 + Retry-After). */
export class QueueFullError extends Error {
  readonly code = 'queue_full';
  constructor(readonly queued: number) {
    super(`append queue is full (${queued} leaves waiting)`);
    this.name = 'QueueFullError';
  }
}

/** The sequencer was closed; nothing more is accepted. */
export class SequencerClosedError extends Error {
  readonly code = 'closed';
  constructor() {
    super('the log is shutting down');
  }
}

interface Pending {
  readonly items: readonly AppendItem[];
  resolve(r: AppendResult[]): void;
  reject(e: unknown): void;
}

export class Sequencer {
  readonly #store: LogStore;
  readonly #builder: TileBuilder;
  readonly #opts: SequencerOptions;
  readonly #onCommit: (size: number) => void;
  #queue: Pending[] = [];
  #queued = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    store: LogStore,
    builder: TileBuilder,
    opts: SequencerOptions,
    onCommit: (size: number) => void,
  ) {
    this.#store = store;
    this.#builder = builder;
    this.#opts = opts;
    this.#onCommit = onCommit;
  }

  /** Leaves waiting to be committed. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Appends `items` atomically; resolves with one result per item once committed. Rejects
   * with QueueFullError (nothing queued) when the queue cannot take all of them.
   */
  append(items: readonly AppendItem[]): Promise<AppendResult[]> {
    if (this.#closed) return Promise.reject(new SequencerClosedError());
    if (items.length === 0) return Promise.resolve([]);
    if (this.#queued > 0 && this.#queued + items.length > this.#opts.maxQueue) {
      return Promise.reject(new QueueFullError(this.#queued));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ items, resolve, reject });
      this.#queued += items.length;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#timer) return;
    const delay = this.#queued >= this.#opts.maxBatch ? 0 : this.#opts.maxDelayMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, delay);
  }

  /** Commits everything queued now, batch after batch. */
  flush(): void {
    while (this.#queue.length > 0) {
      // Take whole requests up to maxBatch leaves (at least one request), with one splice:
      // shifting one by one would be quadratic in a long queue.
      let k = 0;
      let n = 0;
      while (k < this.#queue.length && (k === 0 || n + this.#queue[k]!.items.length <= this.#opts.maxBatch)) {
        n += this.#queue[k]!.items.length;
        k++;
      }
      const batch = this.#queue.splice(0, k);
      this.#queued -= n;
      this.#commit(batch, n);
    }
  }

  #commit(batch: Pending[], n: number): void {
    const items: AppendItem[] = new Array(n);
    let o = 0;
    for (const p of batch) for (const it of p.items) items[o++] = it;
    let results: AppendResult[];
    try {
      results = this.#store.appendBatch(items, this.#builder);
    } catch (err) {
      // The transaction rolled back. Retry each request alone so one bad request cannot fail
      // the others that shared its batch.
      if (batch.length > 1) {
        for (const p of batch) this.#commit([p], p.items.length);
        return;
      }
      batch[0]!.reject(err);
      return;
    }
    this.#onCommit(this.#builder.size);
    o = 0;
    for (const p of batch) {
      p.resolve(results.slice(o, o + p.items.length));
      o += p.items.length;
    }
  }

  /** Stops accepting appends, commits what is queued. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.flush();
  }
}
