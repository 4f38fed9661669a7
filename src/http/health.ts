/**
 * Kubernetes probes, open to anyone (kubelets send no token) and answering only a status:
 *   GET /healthz   liveness: the process serves requests (200 {"status":"ok"})
 *   GET /readyz    readiness: the database accepts a write, the signer runs and has confirmed
 *                  within 3 signing periods that the latest checkpoint covers the tree, and
 *                  (with a witness policy) the last witnessing round met the quorum:
 *                  200 {"status":"ready"} or 503 {"status":"not_ready","reason":...,"detail":...}
 */
import { Hono } from 'hono';
import type { TransparencyLog } from '../log/log.js';

/** What readiness checks beyond the log itself. */
export interface ReadinessOptions {
  /** Set when a witness policy is: true while the last witnessing round met the quorum. */
  quorumMet?: () => boolean;
  /** Clock, ms (tests). */
  now?: () => number;
}

/** Why the log is not ready, or undefined when it is. */
export interface NotReady {
  readonly reason:
    | 'database_not_writable'
    | 'signer_stopped'
    | 'signer_failing'
    | 'checkpoint_stale'
    | 'quorum_not_met';
  readonly detail: string;
}

/** How long one write probe's answer is reused: probes come often and each one fsyncs. */
const PROBE_TTL_MS = 1000;

/**
 * The readiness check: returns why the log is not ready, or undefined. Concurrent and
 * back-to-back calls share one write probe (at most one a second).
 */
export function readinessCheck(
  log: TransparencyLog,
  opts: ReadinessOptions = {},
): () => Promise<NotReady | undefined> {
  const now = opts.now ?? Date.now;
  let probe: { at: number; result: Promise<string | undefined> } | undefined;
  const writable = (): Promise<string | undefined> => {
    if (probe === undefined || now() - probe.at >= PROBE_TTL_MS) {
      probe = {
        at: now(),
        result: log.probeWritable().then(
          () => undefined,
          (err: unknown) => (err instanceof Error ? err.message : String(err)),
        ),
      };
    }
    return probe.result;
  };
  return async () => {
    const dbError = await writable();
    if (dbError !== undefined) return { reason: 'database_not_writable', detail: dbError };
    const s = log.signerHealth();
    if (!s.running) return { reason: 'signer_stopped', detail: 'the checkpoint signer is not running' };
    if (s.failing) return { reason: 'signer_failing', detail: 'the last checkpoint signing attempt failed' };
    const age = s.lastOkAt === undefined ? Number.POSITIVE_INFINITY : now() - s.lastOkAt;
    if (age >= 3 * s.intervalMs) {
      return {
        reason: 'checkpoint_stale',
        detail: `no checkpoint confirmed for ${age} ms (period ${s.intervalMs} ms)`,
      };
    }
    if (opts.quorumMet && !opts.quorumMet()) {
      return { reason: 'quorum_not_met', detail: 'the last witnessing round did not meet the policy quorum' };
    }
    return undefined;
  };
}

/** GET /healthz and GET /readyz (see the module comment). */
export function healthRoutes(log: TransparencyLog, opts: ReadinessOptions = {}): Hono {
  const app = new Hono();
  const check = readinessCheck(log, opts);
  app.get('/healthz', (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json({ status: 'ok' });
  });
  app.get('/readyz', async (c) => {
    c.header('Cache-Control', 'no-store');
    const why = await check();
    if (why === undefined) return c.json({ status: 'ready' });
    return c.json({ status: 'not_ready', reason: why.reason, detail: why.detail }, 503);
  });
  return app;
}
