/**
 * Trusted state: the last checkpoint the client verified for each log origin, kept in a
 * pluggable store. The client re-verifies whatever it loads (a store is not trusted to keep
 * notes intact) and only ever replaces a note with one proven consistent with it.
 * This module holds the browser-safe stores; the Node file store is in `src/cli/verify.ts`.
 */
import { VerifyError } from './errors.js';

/** Where the client keeps the last verified checkpoint note of each log origin. */
export interface TrustedStateStore {
  /** The stored checkpoint note for `origin`, or undefined if none. */
  load(origin: string): Promise<string | undefined>;
  /** Replaces the stored checkpoint note for `origin`. */
  save(origin: string, note: string): Promise<void>;
}

/** A store in memory (lost when the process or page ends). */
export class MemoryStateStore implements TrustedStateStore {
  readonly #notes = new Map<string, string>();

  /** {@inheritDoc TrustedStateStore.load} */
  async load(origin: string): Promise<string | undefined> {
    return this.#notes.get(origin);
  }

  /** {@inheritDoc TrustedStateStore.save} */
  async save(origin: string, note: string): Promise<void> {
    this.#notes.set(origin, note);
  }
}

/** The subset of the Web Storage API used by {@link LocalStorageStateStore}. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** A store in the browser's `localStorage` (or any Web Storage), one key per origin. */
export class LocalStorageStateStore implements TrustedStateStore {
  readonly #storage: StorageLike;
  readonly #prefix: string;

  /**
   * A store over `storage` (default `globalThis.localStorage`), keys `<prefix><origin>`.
   * Throws 'usage' when no storage is available.
   */
  constructor(storage?: StorageLike, prefix = 'opa-tlog:checkpoint:') {
    const s = storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
    if (s === undefined) throw new VerifyError('usage', 'no localStorage in this environment');
    this.#storage = s;
    this.#prefix = prefix;
  }

  /** {@inheritDoc TrustedStateStore.load} */
  async load(origin: string): Promise<string | undefined> {
    return this.#storage.getItem(this.#prefix + origin) ?? undefined;
  }

  /** {@inheritDoc TrustedStateStore.save} */
  async save(origin: string, note: string): Promise<void> {
    this.#storage.setItem(this.#prefix + origin, note);
  }
}
