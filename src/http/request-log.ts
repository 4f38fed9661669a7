/**
 * One log line per request, and a request id on every line logged while serving it: taken
 * from `X-Request-Id` when it is sane (1 to 128 characters of a safe set), else generated, and
 * echoed in the response. The line holds the method, the route *pattern* (never the raw path,
 * which may carry ids), the status, the duration and, for a refusal, the stable error code:
 * never a header, token, body or decision content.
 */
import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { LogFields, Logger, LogMethod, RequestLine } from '../core/logger.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The request's logger (bound to its request id). */
    logger: Logger;
    requestId: string;
    /** Stable code of the error answered, set by errorResponse. */
    errorCode: string;
  }
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** The caller's X-Request-Id if it is sane, else a fresh UUID. */
export function requestIdOf(header: string | undefined): string {
  return header !== undefined && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

/** Routes whose lines are debug, not info: probes and scrapes arrive every few seconds. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The route pattern that answered (e.g. `/v1/entries/:index{[0-9]+}`), or `unmatched` when
 * only middleware ran (a 404 for an unknown path): a bounded set, safe as a metrics label.
 */
export function routePattern(c: Context): string {
  const routes = matchedRoutes(c);
  const r = routes[c.req.routeIndex] ?? routes.at(-1);
  const path = r?.path;
  return path === undefined || path === '*' || path === '/*' ? 'unmatched' : path;
}

/**
 * `logger.child(bindings)`, made on first use: most requests log only their request line
 * (written with the id as a field), so they never pay for a child logger.
 */
function lazyChild(logger: Logger, bindings: LogFields): Logger {
  let child: Logger | undefined;
  const get = () => {
    child ??= logger.child(bindings);
    return child;
  };
  const at = (level: 'debug' | 'info' | 'warn' | 'error'): LogMethod =>
    ((a: LogFields | string, b?: string) => {
      if (typeof a === 'string') get()[level](a);
      else get()[level](a, b ?? '');
    }) as LogMethod;
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => get().child(more),
  };
}

/** What a finished request reports to metrics. */
export interface RequestDone {
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly seconds: number;
  /** Declared Content-Length of a request with a body, or undefined. */
  readonly bodyBytes: number | undefined;
  readonly errorCode: string | undefined;
}

/**
 * Middleware: binds a child logger with the request id (`c.get('logger')`), echoes the id in
 * `X-Request-Id`, and after the response logs one line and calls `done` (metrics).
 */
export function requestLog(logger: Logger, done: (r: RequestDone) => void = () => {}): MiddlewareHandler {
  return async (c, next) => {
    const t0 = performance.now();
    const requestId = requestIdOf(c.req.header('x-request-id'));
    c.set('requestId', requestId);
    c.set('logger', lazyChild(logger, { requestId }));
    // Before the handler: hono puts it into the response the handler makes. Set on
    // c.res.headers afterwards, it turned @hono/node-server's light response into a full
    // Headers object on every request (~2.5 % of a tile GET's CPU).
    c.header('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      logRequest(logger, done, {
        requestId,
        method: c.req.method,
        route: routePattern(c),
        status: c.res.status,
        t0,
        contentLength: c.req.header('content-length'),
        errorCode: c.get('errorCode'),
      });
    }
  };
}

/** What {@link logRequest} reports: a finished request, its start time (performance.now()). */
export interface FinishedRequest {
  readonly requestId: string;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly t0: number;
  /** The request's Content-Length header as sent (counted for uploads when it is a number). */
  readonly contentLength: string | undefined;
  readonly errorCode: string | undefined;
}

/**
 * Writes a finished request's one line (debug for probes and scrapes that succeeded, else
 * info) and reports it to `done` (metrics). Shared by the middleware and the node:http fast
 * path for public reads (fast-reads.ts), so both log and count alike.
 */
export function logRequest(logger: Logger, done: (r: RequestDone) => void, r: FinishedRequest): void {
  const seconds = (performance.now() - r.t0) / 1000;
  const fields: RequestLine = {
    requestId: r.requestId,
    method: r.method,
    route: r.route,
    status: r.status,
    durationMs: Math.round(seconds * 1e6) / 1e3,
    ...(r.errorCode !== undefined ? { error: r.errorCode } : {}),
  };
  const level = QUIET_ROUTES.has(r.route) && r.status < 500 ? 'debug' : 'info';
  if (logger.requestLine) logger.requestLine(level, fields);
  else logger[level](fields, 'request');
  const length = r.contentLength;
  const bodyBytes = length !== undefined && /^[0-9]+$/.test(length) ? Number(length) : undefined;
  const { method, route, status, errorCode } = r;
  done({ method, route, status, seconds, bodyBytes, errorCode });
}
