/**
 * The checkpoint signer. It signs the tree as committed (never ahead of the database), stores
 * every checkpoint before publishing it, and refuses to sign a size smaller than, or a root
 * different from, anything it signed before: the database's PRIMARY KEY on size is the last
 * line of defence against two roots for one size.
 */
import { bytesEqual } from '../core/bytes.js';
import { signCheckpoint } from '../core/checkpoint.js';
import type { NoteSigner } from '../core/note.js';
import type { CommittedTree, LogStorage, StoredCheckpoint } from '../store/log-storage.js';

export class ForkError extends Error {
  readonly code = 'fork';
  constructor(message: string) {
    super(message);
    this.name = 'ForkError';
  }
}

export class CheckpointSigner {
  readonly #store: LogStorage;
  readonly #tree: () => CommittedTree;
  readonly #signer: NoteSigner;
  readonly #origin: string;
  readonly #now: () => number;
  #latest: StoredCheckpoint | undefined;
  /** A signature being stored: a second call waits for it rather than signing the size twice. */
  #signing: Promise<StoredCheckpoint> | undefined;
  readonly #listeners = new Set<(cp: StoredCheckpoint) => void>();

  /**
   * `tree` returns the committed tree: its size and root; `latest` is the newest checkpoint
   * already stored (read by the caller at start-up).
   */
  constructor(
    store: LogStorage,
    tree: () => CommittedTree,
    signer: NoteSigner,
    origin: string,
    latest: StoredCheckpoint | undefined,
    now = Date.now,
  ) {
    this.#store = store;
    this.#tree = tree;
    this.#signer = signer;
    this.#origin = origin;
    this.#now = now;
    this.#latest = latest;
  }

  /** The newest signed checkpoint, or undefined before the first one. */
  get latest(): StoredCheckpoint | undefined {
    return this.#latest;
  }

  /** Calls `fn` after each new checkpoint is stored; returns an unsubscribe function. */
  onCheckpoint(fn: (cp: StoredCheckpoint) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * Takes a checkpoint the elected sequencer stored (several servers on one database, see
   * leader.ts) as the newest, if it is newer; listeners hear of it as of one signed here.
   */
  adopt(cp: StoredCheckpoint): void {
    if (this.#latest && cp.size <= this.#latest.size) return;
    this.#latest = cp;
    for (const fn of this.#listeners) fn(cp);
  }

  /**
   * Signs the current tree if it grew since the last checkpoint (or if none exists yet) and
   * returns the newest checkpoint. Throws ForkError if the tree is smaller than the last
   * signed size or (same size) has a different root. Calls overlapping a pending store of a
   * checkpoint wait for it, then look again.
   */
  async signIfGrown(): Promise<StoredCheckpoint> {
    while (this.#signing) await this.#signing.catch(() => undefined);
    const p = this.#sign();
    this.#signing = p;
    try {
      return await p;
    } finally {
      if (this.#signing === p) this.#signing = undefined;
    }
  }

  async #sign(): Promise<StoredCheckpoint> {
    const { size, root } = this.#tree();
    const last = this.#latest;
    if (last) {
      if (size < last.size)
        throw new ForkError(`tree size ${size} is below the last signed size ${last.size}`);
      if (size === last.size) {
        if (!bytesEqual(root, last.root))
          throw new ForkError(`root at size ${size} differs from the signed root`);
        return last;
      }
    }
    const note = signCheckpoint({ origin: this.#origin, size, rootHash: root }, this.#signer);
    const cp: StoredCheckpoint = { size, root, note, signedAt: this.#now() };
    await this.#store.insertCheckpoint(cp);
    this.#latest = cp;
    for (const fn of this.#listeners) fn(cp);
    return cp;
  }
}
