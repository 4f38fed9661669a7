/**
 * Group commit. Concurrent appends wait in a bounded queue; a flush takes whole requests (a
 * request is never split across transactions, so an upload is applied entirely or not at
 * all) up to `maxBatch` leaves and commits them in ONE transaction. A caller's promise
 * resolves only after that commit returned, i.e. once the leaves are durable.
 */
import type { AppendCommit, AppendItem, AppendResult } from '../store/log-storage.js';

export interface SequencerOptions {
  /** Most leaves committed in one transaction (a larger single request still commits whole). */
  maxBatch: number;
  /** Longest a request waits for others to join its batch, in ms (0 = next tick). */
  maxDelayMs: number;
  /** Most leaves waiting; beyond it appends are refused with {@link QueueFullError}. */
  maxQueue: number;
  /**
   * Most bytes waiting (entry + payload bytes plus {@link ITEM_OVERHEAD_BYTES} per leaf, an
   * estimate of what a queued leaf holds in memory); beyond it appends are refused too. The
   * leaf count alone does not bound memory: one leaf may carry a 16 MiB payload.
   */
  maxQueueBytes: number;
}

/** Memory a queued leaf holds besides its entry and payload bytes: salt, hashes, metadata, objects. */
export const ITEM_OVERHEAD_BYTES = 512;

export const DEFAULT_SEQUENCER_OPTIONS: SequencerOptions = {
  maxBatch: 1_000,
  maxDelayMs: 2,
  maxQueue: 200_000,
  maxQueueBytes: 64 * 1024 * 1024,
};

/** Estimated memory of `items` while queued (see {@link SequencerOptions.maxQueueBytes}). */
export function queuedBytes(items: readonly AppendItem[]): number {
  let n = 0;
  for (const it of items) n += it.entry.length + (it.payload?.length ?? 0) + ITEM_OVERHEAD_BYTES;
  return n;
}

/** Backpressure: the queue is full; retry later (HTTP maps it to 503 + Retry-After). */
export class QueueFullError extends Error {
  readonly code = 'queue_full';
  constructor(
    readonly queued: number,
    committing = 0,
  ) {
    super(
      `append queue is full (${queued} leaves waiting${committing > 0 ? `, a commit of ${committing} leaves in progress` : ''})`,
    );
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

/** What one commit produced: a result per item, and the committed tree's size. */
export type CommitResult = AppendCommit;

/**
 * Commits one batch in one transaction (a storage engine's append). Synchronous (in-process
 * SQLite) or asynchronous (the writer thread, a network engine); either way it resolves only
 * after the commit.
 */
export type Committer = (items: AppendItem[]) => CommitResult | Promise<CommitResult>;

/**
 * Commits the held forms of the requests of one batch (every part of each, in order) in one
 * transaction (see {@link Sequencer}'s `hold`). `final`: the batch is one request, which is not
 * retried if the commit fails, so the committer may consume the held forms (move their buffers
 * to another thread instead of copying them); otherwise they must stay usable for the retry of
 * each request alone.
 */
export type HeldCommitter<P> = (held: P[], final: boolean) => CommitResult | Promise<CommitResult>;

/**
 * A part of a request, its items already in the form they wait in ({@link Sequencer.hold}):
 * a request built piece by piece (an upload parsed in pieces) holds each piece as it is made,
 * so the piece's objects die young, and is appended as its parts ({@link Sequencer.appendParts}).
 */
export interface HeldPart<P> {
  readonly held: P;
  readonly count: number;
  /** queuedBytes of its items. */
  readonly bytes: number;
}

interface Pending<P> {
  /** The request's parts, in the form they wait in (`hold`), in item order. */
  readonly held: readonly P[];
  readonly count: number;
  /** queuedBytes(items), counted in and out of the queue's byte total. */
  readonly bytes: number;
  resolve(r: AppendResult[]): void;
  reject(e: unknown): void;
}

/**
 * `P` is the form a request's items wait in. By default the items themselves; an engine may
 * hold them in a compact form made when they are queued (the SQLite writer thread: one packed
 * buffer per request), so that the thousands of small objects of a queued upload die young
 * instead of surviving the collections that run while they wait for the commit before theirs.
 */
export class Sequencer<P = readonly AppendItem[]> {
  readonly #commitBatch: HeldCommitter<P>;
  readonly #hold: (items: readonly AppendItem[]) => P;
  readonly #opts: SequencerOptions;
  readonly #onCommit: (c: CommitResult) => void;
  #queue: Pending<P>[] = [];
  #queued = 0;
  #queuedBytes = 0;
  /** queuedBytes and leaves of the batch being committed (asynchronously), held until it settles. */
  #committingBytes = 0;
  #committing = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** An asynchronous commit is running: the next batch waits for it (one in flight). */
  #inFlight: Promise<void> | undefined;

  /**
   * `hold` turns a request's items into the form they wait in (called once, when they are
   * queued); `commit` gets the held forms of a batch. {@link Sequencer.forItems} holds the
   * items as they are.
   */
  constructor(
    commit: HeldCommitter<P>,
    opts: SequencerOptions,
    onCommit: (c: CommitResult) => void,
    hold: (items: readonly AppendItem[]) => P,
  ) {
    this.#commitBatch = commit;
    this.#hold = hold;
    this.#opts = opts;
    this.#onCommit = onCommit;
  }

  /** A sequencer that holds items as they are and commits a batch's items as one array. */
  static forItems(
    commit: Committer,
    opts: SequencerOptions,
    onCommit: (c: CommitResult) => void,
  ): Sequencer<readonly AppendItem[]> {
    return new Sequencer<readonly AppendItem[]>(
      (held) => {
        const items: AppendItem[] = [];
        for (const part of held) for (const it of part) items.push(it);
        return commit(items);
      },
      opts,
      onCommit,
      (items) => items,
    );
  }

  /** Leaves waiting to be committed. */
  get queued(): number {
    return this.#queued;
  }

  /** Estimated bytes of the leaves waiting (see SequencerOptions.maxQueueBytes). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /**
   * Appends `items` atomically; resolves with one result per item once committed. Rejects
   * with QueueFullError (nothing queued) when the queue cannot take all of them: more leaves
   * than maxQueue would wait, or more bytes than maxQueueBytes would be held by the queue and
   * the batch being committed together. An idle sequencer (nothing queued or committing) takes
   * any one request, so a request larger than the bounds is still committed (alone) rather
   * than refused forever.
   */
  append(items: readonly AppendItem[]): Promise<AppendResult[]> {
    if (this.#closed) return Promise.reject(new SequencerClosedError());
    if (items.length === 0) return Promise.resolve([]);
    const bytes = queuedBytes(items);
    const full = this.#refusal(items.length, bytes);
    if (full) return Promise.reject(full);
    let held: P;
    try {
      held = this.#hold(items);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue([held], items.length, bytes);
  }

  /**
   * `items` in the form they wait in, as one part of a request that {@link appendParts} will
   * append. Throws what the engine's hold throws (nothing is queued).
   */
  hold(items: readonly AppendItem[]): HeldPart<P> {
    return { held: this.#hold(items), count: items.length, bytes: queuedBytes(items) };
  }

  /**
   * Appends the parts of one request atomically, as {@link append} appends its items (the
   * same bounds, the same all-or-nothing commit, one result per item in part order).
   */
  appendParts(parts: readonly HeldPart<P>[]): Promise<AppendResult[]> {
    if (this.#closed) return Promise.reject(new SequencerClosedError());
    let count = 0;
    let bytes = 0;
    for (const p of parts) {
      count += p.count;
      bytes += p.bytes;
    }
    if (count === 0) return Promise.resolve([]);
    const full = this.#refusal(count, bytes);
    if (full) return Promise.reject(full);
    return this.#enqueue(
      parts.filter((p) => p.count > 0).map((p) => p.held),
      count,
      bytes,
    );
  }

  /** The QueueFullError for a request of `count` items and `bytes`, if it cannot wait now. */
  #refusal(count: number, bytes: number): QueueFullError | undefined {
    // The batch being committed still holds its leaves (the writer thread's copy and objects):
    // counted against the byte bound, so a large request waits for it, not only for the queue.
    const held = this.#queuedBytes + this.#committingBytes;
    const full =
      (this.#queued > 0 || this.#committingBytes > 0) &&
      (this.#queued + count > this.#opts.maxQueue || held + bytes > this.#opts.maxQueueBytes);
    return full ? new QueueFullError(this.#queued, this.#committing) : undefined;
  }

  #enqueue(held: P[], count: number, bytes: number): Promise<AppendResult[]> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ held, count, bytes, resolve, reject });
      this.#queued += count;
      this.#queuedBytes += bytes;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#timer || this.#inFlight) return;
    const delay = this.#queued >= this.#opts.maxBatch ? 0 : this.#opts.maxDelayMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, delay);
  }

  /**
   * Commits what is queued, batch after batch. With a synchronous committer everything is
   * committed before flush returns; with an asynchronous one, batches go one at a time and
   * the next starts when the previous committed (requests queue up meanwhile, so batches grow
   * with the load: group commit).
   */
  flush(): void {
    while (this.#queue.length > 0 && !this.#inFlight) {
      // Take whole requests up to maxBatch leaves (at least one request), with one splice:
      // shifting one by one would be quadratic in a long queue.
      let k = 0;
      let n = 0;
      let bytes = 0;
      while (k < this.#queue.length && (k === 0 || n + this.#queue[k]!.count <= this.#opts.maxBatch)) {
        n += this.#queue[k]!.count;
        bytes += this.#queue[k]!.bytes;
        k++;
      }
      const batch = this.#queue.splice(0, k);
      this.#queued -= n;
      this.#queuedBytes -= bytes;
      const done = this.#commit(batch);
      if (done) {
        this.#committingBytes = bytes;
        this.#committing = n;
        this.#inFlight = done.finally(() => {
          this.#inFlight = undefined;
          this.#committingBytes = 0;
          this.#committing = 0;
          if (this.#queue.length > 0) this.#schedule();
        });
      }
    }
  }

  /** Resolves once nothing is queued or in flight. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.#inFlight) await this.#inFlight;
      else if (this.#queue.length > 0) this.flush();
      else return;
    }
  }

  /** Commits `batch`; returns a promise only when the committer is asynchronous. */
  #commit(batch: Pending<P>[]): Promise<void> | undefined {
    let r: CommitResult | Promise<CommitResult>;
    try {
      r = this.#commitBatch(
        batch.flatMap((p) => p.held),
        batch.length === 1,
      );
    } catch (err) {
      return this.#failed(batch, err);
    }
    if (r instanceof Promise) {
      return r.then(
        (res) => this.#deliver(batch, res),
        (err: unknown) => this.#failed(batch, err),
      );
    }
    this.#deliver(batch, r);
    return undefined;
  }

  #deliver(batch: Pending<P>[], res: CommitResult): void {
    this.#onCommit(res);
    let o = 0;
    for (const p of batch) {
      p.resolve(res.results.slice(o, o + p.count));
      o += p.count;
    }
  }

  /**
   * The transaction rolled back. Retry each request alone so one bad request cannot fail the
   * others that shared its batch.
   */
  #failed(batch: Pending<P>[], err: unknown): Promise<void> | undefined {
    if (batch.length === 1) {
      batch[0]!.reject(err);
      return undefined;
    }
    let chain: Promise<void> | undefined;
    for (const p of batch) {
      chain = chain ? chain.then(() => this.#commit([p])) : this.#commit([p]);
    }
    return chain;
  }

  /** Stops accepting appends and commits what is queued (synchronously with an inline committer). */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.flush();
  }
}
