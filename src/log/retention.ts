/**
 * Retention: erases the salt and payload of leaves received more than `days` ago, each with
 * an erasure entry (reason "retention"). Leaves, tiles and proofs are untouched, so every
 * proof stays valid; only the clear text goes. Runs at start and then hourly, in small
 * batches so appends are never starved.
 */
import { errorFields, type Logger, silentLogger } from '../core/logger.js';
import type { TransparencyLog } from './log.js';

export const RETENTION_REASON_PREFIX = 'retention:';

export class Retention {
  readonly #log: TransparencyLog;
  readonly #days: number;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running = false;
  readonly #logger: Logger;

  constructor(
    log: TransparencyLog,
    days: number,
    now: () => number = Date.now,
    logger: Logger = silentLogger,
  ) {
    if (!Number.isSafeInteger(days) || days < 1) throw new Error(`retention days must be >= 1, got ${days}`);
    this.#log = log;
    this.#days = days;
    this.#now = now;
    this.#logger = logger;
  }

  /** Runs once now and then every `everyMs` (default 1 h). */
  start(everyMs = 3_600_000): void {
    void this.runOnce();
    this.#timer = setInterval(() => void this.runOnce(), everyMs);
    this.#timer.unref?.();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Erases every expired payload; resolves with how many were erased. */
  async runOnce(): Promise<number> {
    if (this.#running) return 0;
    this.#running = true;
    let erased = 0;
    try {
      const cutoff = this.#now() - this.#days * 86_400_000;
      const reason = `${RETENTION_REASON_PREFIX} payloads older than ${this.#days} days`;
      for (;;) {
        const batch = await this.#log.storage.expiredPayloads(cutoff, 500);
        if (batch.length === 0) break;
        // One request per leaf: each erasure is its own idempotent entry.
        await Promise.all(batch.map((idx) => this.#log.erase(idx, reason)));
        erased += batch.length;
      }
    } catch (err) {
      this.#logger.error(errorFields(err), 'retention stopped; retried at the next run');
    } finally {
      this.#running = false;
    }
    if (erased > 0) this.#logger.info({ erased, days: this.#days }, 'retention erased expired payloads');
    return erased;
  }
}
