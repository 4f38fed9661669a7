/**
 * Cross-origin access, with hono's own CORS middleware. Two kinds of caller:
 * - any origin, no credentials: every response carries `Access-Control-Allow-Origin: *`, so a
 *   browser verifier anywhere reads the public API (checkpoint, tiles, proofs) as before;
 * - the configured origins (`--cors-origin`): their preflight is answered (204) and allows
 *   `Authorization`, so a page there can send a read token; responses echo the origin.
 * A preflight from any other origin is not answered (it falls through to 404 without CORS
 * headers), so no other site can make a browser send a token here.
 */
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';

/** Request headers a configured origin may send: tokens, the ingestion bodies, a request id. */
const ALLOW_HEADERS = ['Authorization', 'Content-Type', 'Content-Encoding', 'X-Request-Id', 'If-None-Match'];
/**
 * Response headers a page may read beyond the CORS-safelisted ones: retry hints, the auth
 * challenge, the request id to quote in a bug report, and the ETag of tiles and bundles.
 */
const EXPOSE_HEADERS = ['Retry-After', 'WWW-Authenticate', 'X-Request-Id', 'ETag'];

/** The headers of every answer to a caller that is not a configured origin (public reads). */
export const PUBLIC_CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': EXPOSE_HEADERS.join(','),
};

/**
 * The CORS middleware for the app: `origins` are exact origins (`https://host[:port]`) allowed
 * to send credentialed (Authorization) requests; empty leaves only the public `*` reads.
 */
export function corsMiddleware(origins: readonly string[]): MiddlewareHandler {
  const allowed = new Set(origins);
  const trusted = cors({
    origin: [...allowed],
    allowMethods: ['GET', 'HEAD', 'POST'],
    allowHeaders: ALLOW_HEADERS,
    exposeHeaders: EXPOSE_HEADERS,
    maxAge: 600,
  });
  // hono's cors sets its headers on `c.res` before the handler runs, which makes the
  // handler's response be rebuilt around a stream (@hono/node-server then loses its fast
  // path: ~4x the CPU of a small GET). The same two headers, set on the final response.
  const publicReads: MiddlewareHandler = async (c, next) => {
    await next();
    for (const [k, v] of Object.entries(PUBLIC_CORS_HEADERS)) c.res.headers.set(k, v);
  };
  return async (c, next) => {
    if (allowed.has(c.req.header('origin') ?? '')) return trusted(c, next);
    // hono's cors answers every OPTIONS (echoing the requested headers): not for strangers.
    if (c.req.method === 'OPTIONS') return next();
    return publicReads(c, next);
  };
}
