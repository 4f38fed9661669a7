/**
 * Many servers, one sequencer: on a storage engine several servers share (PostgreSQL), every
 * server appends, but only the holder of the storage's lease integrates tiles and signs.
 * This module keeps the lease (renewed every quarter of its time to live), signs as the
 * sequencer, and otherwise follows: it adopts the newest checkpoint the sequencer stored, so
 * reads on every server are bounded by the same signed tree. When the sequencer dies its
 * lease expires within one signing period and the next server to ask takes it over and signs
 * at once (spec/scale-out.md).
 */
import { errorFields, type Logger } from '../core/logger.js';
import {
  LeaseLostError,
  type LogStorage,
  type SharedLogStorage,
  type StoredCheckpoint,
} from '../store/log-storage.js';
import type { CheckpointSigner } from './signer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The log's view of the sequencer election on a shared storage: keeps (or tries to take) the
 * lease on a timer, and stands in for the signer in the log's signNow and close.
 */
export class Leadership {
  readonly #storage: LogStorage;
  readonly #shared: SharedLogStorage;
  readonly #signer: CheckpointSigner;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  readonly #onElected: () => void;
  #leading = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /**
   * `ttlMs`: the lease's time to live (the log passes its signing period); `onElected` runs
   * when this server becomes the sequencer (the log signs then, without waiting a period);
   * elections, step-downs and lease errors are reported to `logger`.
   */
  constructor(
    storage: LogStorage,
    shared: SharedLogStorage,
    signer: CheckpointSigner,
    ttlMs: number,
    logger: Logger,
    onElected: () => void,
  ) {
    this.#storage = storage;
    this.#shared = shared;
    this.#signer = signer;
    this.#ttlMs = ttlMs;
    this.#logger = logger;
    this.#onElected = onElected;
  }

  /** True while this server holds the lease (as of its last renewal). */
  get leading(): boolean {
    return this.#leading;
  }

  /** Starts renewing (or trying to take) the lease and following the newest checkpoint. */
  start(): void {
    const tick = async () => {
      const was = this.#leading;
      if (!(await this.#lead())) await this.#follow().catch(() => undefined);
      else if (!was) this.#onElected();
      if (!this.#stopped) this.#timer = setTimeout(tick, Math.max(10, this.#ttlMs / 4)).unref();
    };
    this.#timer = setTimeout(tick, Math.max(10, this.#ttlMs / 4)).unref();
  }

  /** Takes or renews the lease; on a new term, adopts the newest checkpoint before signing. */
  async #lead(): Promise<boolean> {
    let term: 'elected' | 'renewed' | 'follower';
    try {
      term = await this.#shared.lead(this.#ttlMs);
      if (term === 'elected') await this.#follow();
    } catch (err) {
      if (this.#leading) this.#logger.error(errorFields(err), 'sequencer lease');
      term = 'follower';
    }
    if (term === 'elected') this.#logger.info('elected the sequencer: integrating and signing');
    if (term === 'follower' && this.#leading)
      this.#logger.info('another server is the sequencer now: following');
    this.#leading = term !== 'follower';
    return this.#leading;
  }

  /** Adopts the newest stored checkpoint, if any; returns it. */
  async #follow(): Promise<StoredCheckpoint | undefined> {
    const cp = await this.#storage.latestCheckpoint();
    if (cp) this.#signer.adopt(cp);
    return this.#signer.latest;
  }

  /**
   * The log's signNow on a shared engine. As the sequencer: integrates what every server
   * committed and signs it (a lost lease steps down). As a follower: adopts the newest
   * stored checkpoint, waiting for the first one on a fresh database.
   */
  async sign(): Promise<StoredCheckpoint> {
    for (;;) {
      if (await this.#lead()) {
        try {
          await this.#shared.integrate();
          return await this.#signer.signIfGrown();
        } catch (err) {
          if (!(err instanceof LeaseLostError)) throw err;
          this.#logger.info(errorFields(err), 'stepping down as the sequencer');
          this.#leading = false;
        }
      }
      const cp = await this.#follow();
      if (cp) return cp;
      await sleep(50);
    }
  }

  /**
   * Stops the lease timer; as the sequencer, signs what was integrated last and gives the
   * lease up so another server takes over at once.
   */
  async stop(finalSign: boolean): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (!this.#leading) return;
    try {
      if (finalSign) await this.sign();
    } finally {
      this.#leading = false;
      await this.#shared.resign();
    }
  }
}
