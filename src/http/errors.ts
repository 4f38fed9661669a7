/**
 * JSON errors: every error response is `{"error": <stable code>, "detail": <human text>}` with
 * a status code that says whose fault it is. Handlers throw {@link HttpError}; anything else
 * that escapes becomes a 500 without leaking internals.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { errorFields, silentLogger } from '../core/logger.js';
import './request-log.js';

export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'HttpError';
  }
}

/**
 * Renders an error as the JSON body every endpoint uses, and notes its stable code for the
 * request's log line. A client that disconnected mid-request (an aborted upload) is one info
 * line, not an internal error: nothing was applied and nobody reads the answer. Anything else
 * unexpected is logged (with its stack, never the request) and answered 500.
 */
export function errorResponse(c: Context, err: unknown): Response {
  const log = c.get('logger') ?? silentLogger;
  if (err instanceof HttpError) {
    c.set('errorCode', err.code);
    for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
    return c.json({ error: err.code, detail: err.message }, err.status);
  }
  if (clientGone(c, err)) {
    c.set('errorCode', 'client_closed_request');
    log.info(errorFields(err), 'client disconnected before the request was read; nothing applied');
    return c.json(
      { error: 'client_closed_request', detail: 'the client went away' },
      499 as ContentfulStatusCode,
    );
  }
  c.set('errorCode', 'internal');
  log.error({ ...errorFields(err), stack: err instanceof Error ? err.stack : undefined }, 'internal error');
  return c.json({ error: 'internal', detail: 'internal server error' }, 500);
}

/** True if the request failed because its client went away (connection closed mid-body). */
function clientGone(c: Context, err: unknown): boolean {
  if (c.req.raw.signal.aborted) return true;
  const e = err as { code?: unknown; message?: unknown; name?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  return (
    e.code === 'ECONNRESET' ||
    e.code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    e.name === 'AbortError' ||
    e.message === 'aborted'
  );
}
