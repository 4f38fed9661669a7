/**
 * Prometheus metrics (prom-client, text format 0.0.4) for `GET /metrics`: HTTP requests by
 * route pattern and status, upload bytes, decisions accepted / deduplicated and uploads refused
 * by reason, the sequencer (queue depth, commit batch size and latency), the tree and its
 * checkpoints, witnesses and quorum, database file sizes, and Node's process metrics. Labels
 * are bounded sets (route patterns, status codes, error codes, policy witness names): never a
 * raw path, a token, a payload or decision content.
 *
 * The log reports through the {@link LogMetrics} sink this module implements (`metrics.log`),
 * so the log itself does not depend on prom-client; gauges read their sources at scrape time.
 */
import { Hono } from 'hono';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { LogMetrics, TransparencyLog } from '../log/log.js';
import { requireRole, type TokenStore } from './auth.js';
import type { RequestDone } from './request-log.js';

/** One witness of the policy, as the pusher sees it. */
export interface WitnessMetricsRow {
  readonly name: string;
  readonly successes: number;
  readonly failures: number;
  /** ms timestamp of the last verified cosignature, if any. */
  readonly lastSuccessAt: number | undefined;
}

/** What the gauges read at scrape time besides the log. */
export interface MetricsSources {
  /** Witness pusher state (set when a witness policy is). */
  witnesses?: () => { quorumMet: boolean; witnesses: readonly WitnessMetricsRow[] };
  /**
   * Bytes of the database and of its write-ahead log (`wal` absent: not measurable, the gauge
   * is left out rather than reading 0). May be asynchronous (a network database).
   */
  storageBytes?: () => StorageBytesReading | Promise<StorageBytesReading>;
}

/** What {@link MetricsSources.storageBytes} reads. */
export interface StorageBytesReading {
  readonly db: number;
  readonly wal?: number;
}

/** Routes that receive uploads (their declared body sizes are counted as upload bytes). */
const UPLOAD_ROUTES = new Set(['/logs', '/logs/*', '/k8s/audit', '/k8s/audit/:cluster', '/v1/entries']);

const P = 'opa_tlog_';

/** The metrics of one server: a registry of its own, and the log's sink into it. */
export class Metrics {
  readonly registry = new Registry();
  /** The sink to hand to `TransparencyLog.open({ metrics })`. */
  readonly log: LogMetrics;
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #duration: Histogram<'method' | 'route'>;
  readonly #uploadBytes: Counter;
  readonly #refused: Counter<'reason'>;
  #sources: { log?: TransparencyLog } & MetricsSources = {};

  /** `processMetrics`: also export Node's default metrics (RSS, event-loop lag, GC). */
  constructor(opts: { processMetrics?: boolean; now?: () => number } = {}) {
    const r = [this.registry];
    if (opts.processMetrics) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters (promtool lint refuses them), and not what we watch.
      for (const m of [
        'nodejs_active_handles_total',
        'nodejs_active_requests_total',
        'nodejs_active_resources_total',
      ])
        this.registry.removeSingleMetric(m);
    }
    this.#requests = new Counter({
      name: `${P}http_requests_total`,
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers: r,
    });
    this.#duration = new Histogram({
      name: `${P}http_request_duration_seconds`,
      help: 'Time to answer an HTTP request, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    });
    this.#uploadBytes = new Counter({
      name: `${P}upload_bytes_total`,
      help: 'Bytes of upload request bodies as sent (compressed), from their Content-Length.',
      registers: r,
    });
    this.#refused = new Counter({
      name: `${P}uploads_refused_total`,
      help: 'Upload requests refused whole (nothing of them applied), by stable error code.',
      labelNames: ['reason'],
      registers: r,
    });
    this.log = this.#logSink(r);
    this.#gauges(r, opts.now ?? Date.now);
  }

  /** The counters and histograms the log reports into. */
  #logSink(r: Registry[]): LogMetrics {
    const accepted = new Counter({
      name: `${P}decisions_accepted_total`,
      help: 'Decisions (and other events) appended as new leaves.',
      registers: r,
    });
    const deduplicated = new Counter({
      name: `${P}decisions_deduplicated_total`,
      help: 'Decisions answered with the index of an identical one logged before (not appended again).',
      registers: r,
    });
    const batch = new Histogram({
      name: `${P}commit_batch_size`,
      help: 'Leaves per group commit.',
      buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000],
      registers: r,
    });
    const latency = new Histogram({
      name: `${P}commit_duration_seconds`,
      help: 'Time to commit one batch durably.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    });
    const commitFailures = new Counter({
      name: `${P}commit_failures_total`,
      help: 'Batches whose commit failed (nothing of them applied).',
      registers: r,
    });
    const signFailures = new Counter({
      name: `${P}checkpoint_signing_failures_total`,
      help: 'Checkpoint signing attempts that failed.',
      registers: r,
    });
    return {
      committed: (size, seconds, ok) => {
        if (!ok) return commitFailures.inc();
        batch.observe(size);
        latency.observe(seconds);
      },
      decisions: (appended, duplicates) => {
        accepted.inc(appended);
        deduplicated.inc(duplicates);
      },
      signFailed: () => signFailures.inc(),
    };
  }

  /** Gauges (and pusher counters) read from their sources at scrape time. */
  #gauges(r: Registry[], now: () => number): void {
    const src = () => this.#sources;
    const gauge = (name: string, help: string, read: () => number | undefined) =>
      new Gauge({
        name: `${P}${name}`,
        help,
        registers: r,
        collect() {
          const v = read();
          if (v === undefined) this.reset();
          else this.set(v);
        },
      });
    gauge('sequencer_queue_depth', 'Leaves waiting in the group-commit queue.', () => src().log?.queued);
    gauge('tree_size', 'Leaves covered by the latest signed checkpoint.', () => latestOf(src().log)?.size);
    gauge(
      'committed_tree_size',
      'Leaves committed (may be ahead of the latest checkpoint).',
      () => src().log?.committedSize,
    );
    gauge('last_checkpoint_age_seconds', 'Seconds since the latest checkpoint was signed.', () => {
      const cp = latestOf(src().log);
      return cp === undefined ? undefined : Math.max(0, now() - cp.signedAt) / 1000;
    });
    gauge('witness_quorum_met', '1 while the last witnessing round met the policy quorum, else 0.', () => {
      const w = src().witnesses?.();
      return w === undefined ? undefined : w.quorumMet ? 1 : 0;
    });
    this.#storageGauges(r);
    this.#witnessMetrics(r);
  }

  /**
   * Database and WAL bytes. Left out (not 0) when they cannot be measured: PostgreSQL's WAL
   * without `pg_monitor`, or a database that does not answer now.
   */
  #storageGauges(r: Registry[]): void {
    const bytes = async () => {
      try {
        return await this.#sources.storageBytes?.();
      } catch {
        return undefined;
      }
    };
    new OptionalGauge(
      {
        name: `${P}database_bytes`,
        help: 'Size of the database (SQLite: its file and its -blobs file; or the PostgreSQL database).',
        registers: r,
      },
      async () => (await bytes())?.db,
    );
    new OptionalGauge(
      {
        name: `${P}database_wal_bytes`,
        help: 'Size of the write-ahead log (SQLite: its -wal file; PostgreSQL: the cluster WAL, absent without pg_monitor).',
        registers: r,
      },
      async () => (await bytes())?.wal,
    );
  }

  /** Per-witness cosignature counts and last success, from the pusher's status. */
  #witnessMetrics(r: Registry[]): void {
    const rows = () => this.#sources.witnesses?.().witnesses ?? [];
    const perWitness = (name: string, help: string, pick: (w: WitnessMetricsRow) => number) =>
      new Counter({
        name: `${P}${name}`,
        help,
        labelNames: ['witness'],
        registers: r,
        collect() {
          this.reset();
          for (const w of rows()) this.inc({ witness: w.name }, pick(w));
        },
      });
    perWitness(
      'witness_cosignatures_total',
      'Verified cosignatures received, per witness.',
      (w) => w.successes,
    );
    perWitness(
      'witness_cosignature_failures_total',
      'Failed pushes to a witness, per witness.',
      (w) => w.failures,
    );
    new Gauge({
      name: `${P}witness_last_success_timestamp_seconds`,
      help: 'Unix time of the last verified cosignature, per witness.',
      labelNames: ['witness'],
      registers: r,
      collect() {
        this.reset();
        for (const w of rows())
          if (w.lastSuccessAt !== undefined) this.set({ witness: w.name }, w.lastSuccessAt / 1000);
      },
    });
  }

  /** Sets what the gauges read: the log, and optionally the witnesses and file sizes. */
  bind(log: TransparencyLog, sources: MetricsSources = {}): void {
    this.#sources = { log, ...sources };
  }

  /** Counts one answered request (the request logger calls it). */
  request(r: RequestDone): void {
    this.#requests.inc({ method: r.method, route: r.route, status: String(r.status) });
    this.#duration.observe({ method: r.method, route: r.route }, r.seconds);
    if (!UPLOAD_ROUTES.has(r.route)) return;
    if (r.bodyBytes !== undefined) this.#uploadBytes.inc(r.bodyBytes);
    if (r.status >= 400 && r.errorCode !== undefined) this.#refused.inc({ reason: r.errorCode });
  }
}

/**
 * A gauge read at scrape time whose sample is left out while `read` gives undefined
 * (prom-client resets an unlabelled gauge to 0, which would read as a measured 0).
 */
class OptionalGauge extends Gauge {
  readonly #read: () => Promise<number | undefined>;
  constructor(
    cfg: { name: string; help: string; registers: Registry[] },
    read: () => Promise<number | undefined>,
  ) {
    super(cfg);
    this.#read = read;
  }
  override async get(): ReturnType<Gauge['get']> {
    const v = await this.#read();
    if (v !== undefined) {
      this.set(v);
      return super.get();
    }
    this.reset();
    return { ...(await super.get()), values: [] };
  }
}

function latestOf(log: TransparencyLog | undefined) {
  try {
    return log?.latest();
  } catch {
    return undefined; // not started yet
  }
}

/** GET /metrics (needs a token with role `metrics` when tokens are configured). */
export function metricsRoutes(metrics: Metrics, tokens: TokenStore): Hono {
  const app = new Hono();
  app.get('/metrics', requireRole(tokens, 'metrics'), async (c) => {
    const body = await metrics.registry.metrics();
    c.header('Cache-Control', 'no-store');
    return c.body(body, 200, { 'Content-Type': metrics.registry.contentType });
  });
  return app;
}
