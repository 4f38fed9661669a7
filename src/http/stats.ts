/**
 * `GET /v1/stats`: a small public view of the log for the web console's overview: origin,
 * verifier key (for trust on first use; the reader decides whether to pin it), the committed
 * and signed sizes, and a sampled history of both over the last hour. The history comes from
 * an in-memory ring buffer sampling the log's public API every few seconds, so its memory is
 * bounded (capacity samples) and it reports nothing that /checkpoint and tiles do not.
 */
import { Hono } from 'hono';
import type { TransparencyLog } from '../log/log.js';

/** One sample of the log's sizes. */
export interface StatsSample {
  /** Milliseconds since the epoch. */
  readonly t: number;
  /** Leaves committed (durable), possibly ahead of the latest checkpoint. */
  readonly committed: number;
  /** Size of the latest signed checkpoint. */
  readonly signed: number;
}

/** What the recorder reads from the log (its public API, nothing else). */
export type StatsSource = Pick<TransparencyLog, 'committedSize' | 'latest'>;

/** Options of {@link StatsRecorder}. */
export interface StatsOptions {
  /** Sampling period in ms (default 5000). */
  readonly intervalMs?: number;
  /** Samples kept (default 720: one hour at 5 s). */
  readonly capacity?: number;
  /** Clock (default Date.now). */
  readonly now?: () => number;
}

/** A bounded ring buffer of {@link StatsSample}s of one log. */
export class StatsRecorder {
  readonly #log: StatsSource;
  readonly #ring: (StatsSample | undefined)[];
  readonly #now: () => number;
  readonly #intervalMs: number;
  #next = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** A recorder of `log` (not sampling until {@link start}). */
  constructor(log: StatsSource, opts: StatsOptions = {}) {
    this.#log = log;
    this.#ring = new Array(Math.max(2, opts.capacity ?? 720)).fill(undefined);
    this.#now = opts.now ?? Date.now;
    this.#intervalMs = opts.intervalMs ?? 5000;
  }

  /** Takes one sample now (overwriting the oldest when full). */
  sample(): void {
    let signed = 0;
    try {
      signed = this.#log.latest().size;
    } catch {
      return; // not started yet: nothing signed to report
    }
    this.#ring[this.#next] = { t: this.#now(), committed: this.#log.committedSize, signed };
    this.#next = (this.#next + 1) % this.#ring.length;
  }

  /** The kept samples, oldest first. */
  samples(): StatsSample[] {
    const n = this.#ring.length;
    const out: StatsSample[] = [];
    for (let i = 0; i < n; i++) {
      const s = this.#ring[(this.#next + i) % n];
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  /** Samples every interval; the timer does not keep the process alive. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.#intervalMs);
    this.#timer.unref?.();
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The `/v1/stats` route over a started recorder. `vkeys` are the log's verifier keys as the
 * operator configured them (during a key rotation, more than one): the console shows them for
 * pinning, and verifies everything else against the key the reader pinned, never against this
 * answer. `vkey` keeps the first, for readers written before rotation.
 */
export function statsRoutes(log: TransparencyLog, vkeys: readonly string[], recorder: StatsRecorder): Hono {
  const app = new Hono();
  app.get('/v1/stats', (c) => {
    const latest = log.latest();
    c.header('Cache-Control', 'no-store');
    return c.json({
      origin: log.origin,
      vkey: vkeys[0] ?? null,
      vkeys,
      committed_size: log.committedSize,
      tree_size: latest.size,
      checkpoint_signed_at: latest.signedAt,
      now: Date.now(),
      samples: recorder.samples().map((s) => [s.t, s.committed, s.signed]),
    });
  });
  return app;
}
