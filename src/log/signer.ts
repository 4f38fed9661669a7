/**
 * The checkpoint signer. It signs the tree as committed (never ahead of the database), stores
 * every checkpoint before publishing it, and refuses to sign a size smaller than, or a root
 * different from, anything it signed before: the database's PRIMARY KEY on size is the last
 * line of defence against two roots for one size. With several keys (a key rotation's overlap)
 * every checkpoint carries a signature by each.
 */
import { bytesEqual } from '../core/bytes.js';
import { signCheckpoint } from '../core/checkpoint.js';
import { type NoteSigner, parseNote, signNote } from '../core/note.js';
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
  readonly #signers: readonly NoteSigner[];
  readonly #origin: string;
  readonly #now: () => number;
  #latest: StoredCheckpoint | undefined;
  /** A signature being stored: a second call waits for it rather than signing the size twice. */
  #signing: Promise<StoredCheckpoint> | undefined;
  readonly #listeners = new Set<(cp: StoredCheckpoint) => void>();

  /**
   * `tree` returns the committed tree: its size and root; `signers` the log's current keys (each
   * named the origin); `latest` is the newest checkpoint already stored (read by the caller at
   * start-up).
   */
  constructor(
    store: LogStorage,
    tree: () => CommittedTree,
    signers: readonly NoteSigner[],
    origin: string,
    latest: StoredCheckpoint | undefined,
    now = Date.now,
  ) {
    this.#store = store;
    this.#tree = tree;
    this.#signers = signers;
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
   * signed size or (same size) has a different root. If the tree did not grow but the newest
   * checkpoint lacks a signature by a current key (the first start after a key was added),
   * that signature is added to it. Calls overlapping a pending store of a checkpoint wait for
   * it, then look again.
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
        return this.#addMissingSignatures(last);
      }
    }
    const note = signCheckpoint({ origin: this.#origin, size, rootHash: root }, this.#signers);
    const cp: StoredCheckpoint = { size, root, note, signedAt: this.#now() };
    await this.#store.insertCheckpoint(cp);
    return this.#publish(cp);
  }

  /**
   * Stores `last` re-signed by every current key that has no line on it yet (same text, same
   * size and root: more signatures, never another checkpoint), so that clients trusting only
   * a newly added key verify the newest checkpoint before the tree grows again.
   */
  async #addMissingSignatures(last: StoredCheckpoint): Promise<StoredCheckpoint> {
    const parsed = parseNote(last.note);
    const has = (s: NoteSigner) => parsed.signatures.some((l) => l.name === s.name && l.keyId === s.keyId);
    const missing = this.#signers.filter((s) => !has(s));
    if (missing.length === 0) return last;
    const note = signNote(parsed.text, missing, parsed.signatures);
    await this.#store.addCheckpointSignatures(last.size, last.root, note);
    return this.#publish({ ...last, note });
  }

  /** Makes a stored checkpoint the newest and tells the listeners. */
  #publish(cp: StoredCheckpoint): StoredCheckpoint {
    this.#latest = cp;
    for (const fn of this.#listeners) fn(cp);
    return cp;
  }
}
