/**
 * The HTTP application: route families mounted on one hono app, JSON errors everywhere, CORS
 * open for the public read API (browser verifiers fetch checkpoints and tiles), a log line and
 * a request id per request, probes (/healthz, /readyz) and, when given, Prometheus metrics.
 */
import { Hono } from 'hono';
import { CborError } from '../core/cbor.js';
import { EntryError } from '../core/entry.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { MerkleError } from '../core/merkle.js';
import { StorageError, type TransparencyLog } from '../log/log.js';
import { QueueFullError, SequencerClosedError } from '../log/sequencer.js';
import { TokenStore } from './auth.js';
import { consoleRoutes } from './console.js';
import { corsMiddleware } from './cors.js';
import { decisionRoutes } from './decisions.js';
import { entryRoutes } from './entries.js';
import { errorResponse, HttpError } from './errors.js';
import { type NodeListener, withFastReads } from './fast-reads.js';
import { healthRoutes, type ReadinessOptions } from './health.js';
import { DEFAULT_INGEST_OPTIONS, type IngestOptions, ingestRoutes } from './ingest.js';
import { type Metrics, metricsRoutes } from './metrics.js';
import { proofRoutes } from './proofs.js';
import { type RequestDone, requestLog } from './request-log.js';
import { StatsRecorder, statsRoutes } from './stats.js';
import { PublicTiles, tileRoutes } from './tiles.js';

export interface AppOptions {
  maxBodyBytes: number;
  maxItems: number;
  /** Bearer tokens; none configured = open (the CLI then binds to loopback only). */
  tokens: TokenStore;
  ingest: IngestOptions;
  /** How long lookups and ?wait=checkpoint wait for a covering checkpoint, ms. */
  checkpointWaitMs: number;
  /**
   * What GET /checkpoint serves; default the latest signed checkpoint. With witnesses, the
   * newest checkpoint whose cosignatures meet the policy (undefined: none yet, 503).
   */
  publishedCheckpoint?: () => string | undefined;
  /**
   * The log's verifier keys (every key it signs with, first the primary), shown by `/v1/stats`
   * for the console's trust on first use.
   */
  vkeys?: readonly string[];
  /** The built web console (default: dist/console-www); see src/http/console.ts. */
  consoleDir?: string;
  /** Origins whose pages may send tokens (CORS preflight answered); see cors.ts. */
  corsOrigins?: readonly string[];
  /** Where request lines and internal errors go (default silent). */
  logger?: Logger;
  /** Prometheus metrics: counts requests and serves GET /metrics (role `metrics`). */
  metrics?: Metrics;
  /** What /readyz checks beyond the log (the witness quorum). */
  readiness?: ReadinessOptions;
}

export const DEFAULT_APP_OPTIONS: AppOptions = {
  maxBodyBytes: 16 * 1024 * 1024,
  maxItems: 10_000,
  tokens: new TokenStore('', []),
  ingest: DEFAULT_INGEST_OPTIONS,
  checkpointWaitMs: 5_000,
};

export function createApp(log: TransparencyLog, opts: AppOptions = DEFAULT_APP_OPTIONS): Hono {
  return createServing(log, opts).app;
}

/** The hono app, and what a node:http server puts in front of it. */
export interface Serving {
  readonly app: Hono;
  /**
   * Wraps the app's node:http listener (`getRequestListener(app.fetch)`) so the hot public
   * reads are answered before it, at about half the CPU (fast-reads.ts). Same answers.
   */
  readonly fastReads: (next: NodeListener) => NodeListener;
}

/** {@link createApp}, and the fast path for public reads over node:http sharing its caches. */
export function createServing(log: TransparencyLog, opts: AppOptions = DEFAULT_APP_OPTIONS): Serving {
  const app = new Hono();
  const metrics = opts.metrics;
  const logger = opts.logger ?? silentLogger;
  const done = metrics ? (r: RequestDone) => metrics.request(r) : () => {};
  const tiles = new PublicTiles(log, opts.publishedCheckpoint ?? (() => log.publishedNote(log.latest())));
  app.use('*', requestLog(logger, done));
  app.use('*', corsMiddleware(opts.corsOrigins ?? []));
  app.route('/', healthRoutes(log, opts.readiness));
  if (metrics) app.route('/', metricsRoutes(metrics, opts.tokens));
  app.route('/', tileRoutes(tiles));
  app.route('/', entryRoutes(log, opts));
  app.route('/', ingestRoutes(log, opts.tokens, opts.ingest));
  app.route('/', decisionRoutes(log, opts.tokens, opts));
  app.route('/', proofRoutes(log));
  const stats = new StatsRecorder(log);
  stats.start();
  app.route('/', statsRoutes(log, opts.vkeys ?? [], stats));
  app.route('/', consoleRoutes(opts.consoleDir));
  app.notFound((c) =>
    c.json({ error: 'not_found', detail: `no route for ${c.req.method} ${c.req.path}` }, 404),
  );
  app.onError((err, c) => errorResponse(c, mapError(err)));
  const fast = { log, tiles, logger, done, corsOrigins: opts.corsOrigins ?? [] };
  return { app, fastReads: (next) => withFastReads(fast, next) };
}

/** 507: no space; nothing was applied. */
const storageFull = () =>
  new HttpError(507, 'storage_full', 'the log has no disk space left; nothing was stored', {
    'Retry-After': '30',
  });
/** 503: storage cannot write now (transient for the client); nothing was applied. */
const storageUnavailable = (code: string) =>
  new HttpError(503, 'storage_unavailable', `the log cannot write now (${code}); nothing was stored`, {
    'Retry-After': '5',
  });

/**
 * Storage error codes, SQLite's and the system's (for a file the store writes beside its
 * database, the SQLite engine's blob file: src/store/blob-file.ts), each failing inside a
 * commit that then rolled back.
 */
const STORAGE_FULL = /^(SQLITE_FULL|ENOSPC|EDQUOT)$/;
const STORAGE_UNAVAILABLE = /^(SQLITE_(READONLY|CANTOPEN|IOERR|BUSY|LOCKED|PERM)|EROFS$|EACCES$|EPERM$|EIO$)/;

/** Maps errors of the lower layers to HTTP errors. */
function mapError(err: unknown): unknown {
  if (err instanceof QueueFullError) {
    return new HttpError(503, 'overloaded', err.message, { 'Retry-After': '1' });
  }
  if (err instanceof SequencerClosedError) {
    return new HttpError(503, 'shutting_down', err.message, { 'Retry-After': '5' });
  }
  if (err instanceof MerkleError) return new HttpError(400, err.code, err.message);
  // Storage holds less than the log signed: the server's fault, never the request's.
  if (err instanceof StorageError) return new HttpError(500, 'storage_inconsistent', err.message);
  // Storage trouble is the server's, and transient: the client should retry later. Nothing
  // was applied (the transaction rolled back).
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && STORAGE_FULL.test(code)) return storageFull();
  if (typeof code === 'string' && STORAGE_UNAVAILABLE.test(code)) return storageUnavailable(code);
  if (err instanceof EntryError || err instanceof CborError) {
    return new HttpError(400, 'invalid_entry', `cannot encode the entry: ${err.message}`);
  }
  return err;
}
