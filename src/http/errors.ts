/**
 * JSON errors: every error response is `{"error": <stable code>, "detail": <human text>}` with
 * a status code that says whose fault it is. Handlers throw {@link HttpError}; anything else
 * that escapes becomes a 500 without leaking internals.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

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

/** Renders an error as the JSON body every endpoint uses. */
export function errorResponse(c: Context, err: unknown): Response {
  if (err instanceof HttpError) {
    for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
    return c.json({ error: err.code, detail: err.message }, err.status);
  }
  console.error('opa-tlog: internal error:', err);
  return c.json({ error: 'internal', detail: 'internal server error' }, 500);
}
