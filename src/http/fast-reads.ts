/**
 * The hot public reads answered straight on node:http, in front of the hono app: the
 * checkpoint, tiles and entry bundles (`/tile/...`) and inclusion proofs by index. These are
 * what verifiers, monitors and mirrors fetch by the thousand, and on this stack the Web-standard
 * Request, Response and Headers objects cost as much CPU as the read itself (bench/README.md,
 * session 13: ~1.9x the server CPU of a tile GET).
 *
 * Only successes are answered here, with the same answer functions as the hono routes
 * (PublicTiles, inclusionAnswer), the same CORS headers, request id, log line and metrics.
 * Anything else goes to hono untouched: another method or path, a query not of the plain
 * `index=N[&tree_size=M]` form, a caller from a configured CORS origin (hono's CORS answers it),
 * and every refusal or failure (hono computes it again and answers the JSON error), so errors
 * have one implementation.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorFields, type Logger } from '../core/logger.js';
import type { TransparencyLog } from '../log/log.js';
import { PUBLIC_CORS_HEADERS } from './cors.js';
import { inclusionAnswer } from './proofs.js';
import { logRequest, type RequestDone, requestIdOf } from './request-log.js';
import type { PublicTiles, ReadAnswer } from './tiles.js';

/** A node:http request listener. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface FastReadsOptions {
  readonly log: TransparencyLog;
  readonly tiles: PublicTiles;
  readonly logger: Logger;
  /** Called with every finished request (metrics), as the request-log middleware does. */
  readonly done: (r: RequestDone) => void;
  /** Configured CORS origins: their requests are hono's (credentialed CORS). */
  readonly corsOrigins: readonly string[];
}

/** A public read this module answers: its route pattern (as logged) and how to answer it. */
interface FastRead {
  readonly route: string;
  readonly answer: () => Promise<ReadAnswer> | ReadAnswer;
}

/** The plain query of an inclusion proof by index: `index=N`, with or without `tree_size=M`. */
const PLAIN_INCLUSION = /^(?:index=([0-9]+)(?:&tree_size=([0-9]+))?|tree_size=([0-9]+)&index=([0-9]+))$/;

/** A JSON body as hono's `c.json` sends it. */
function jsonAnswer(body: object): ReadAnswer {
  return { status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}

/** The fast read `req` is, or undefined for hono. */
function fastRead(
  o: FastReadsOptions,
  req: IncomingMessage,
  trusted: ReadonlySet<string>,
): FastRead | undefined {
  const url = req.url;
  if (req.method !== 'GET' || url === undefined || trusted.has(req.headers.origin ?? '')) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path === '/checkpoint') return { route: '/checkpoint', answer: () => o.tiles.checkpoint() };
  if (path.startsWith('/tile/')) {
    const ae = req.headers['accept-encoding'];
    const inm = req.headers['if-none-match'];
    return { route: '/tile/*', answer: () => o.tiles.tile(path.slice(1), ae, inm) };
  }
  if (path !== '/v1/proof/inclusion' || q < 0) return undefined;
  const m = PLAIN_INCLUSION.exec(url.slice(q + 1));
  if (!m) return undefined;
  const query = { index: m[1] ?? m[4], tree_size: m[2] ?? m[3], leaf_hash: undefined };
  return {
    route: '/v1/proof/inclusion',
    answer: async () => jsonAnswer(await inclusionAnswer(o.log, query)),
  };
}

/** Writes `a` with the headers every answer carries here. */
function send(res: ServerResponse, a: ReadAnswer, requestId: string): void {
  const body = typeof a.body === 'string' ? Buffer.from(a.body) : a.body;
  const headers: Record<string, string> = { ...a.headers, 'X-Request-Id': requestId, ...PUBLIC_CORS_HEADERS };
  if (body !== null) headers['Content-Length'] = String(body.length);
  res.writeHead(a.status, headers);
  res.end(body ?? undefined);
}

/**
 * Wraps `next` (hono's listener) so that the public reads above are answered first; see the
 * module comment for what is passed on.
 */
export function withFastReads(o: FastReadsOptions, next: NodeListener): NodeListener {
  const trusted = new Set(o.corsOrigins);
  return (req, res) => {
    let read: FastRead | undefined;
    try {
      read = fastRead(o, req, trusted);
    } catch {
      read = undefined; // nothing in fastRead should throw; if it does, hono has the request
    }
    if (read === undefined) return next(req, res);
    const route = read.route;
    const t0 = performance.now();
    const answered = (a: ReadAnswer) => {
      const id = req.headers['x-request-id'];
      const requestId = requestIdOf(typeof id === 'string' ? id : undefined);
      send(res, a, requestId);
      logRequest(o.logger, o.done, {
        requestId,
        method: 'GET',
        route,
        status: a.status,
        t0,
        contentLength: req.headers['content-length'],
        errorCode: undefined,
      });
    };
    // A refusal or failure is hono's to answer (and log): nothing was written yet.
    new Promise<ReadAnswer>((resolve) => resolve(read.answer()))
      .then(answered, () => next(req, res))
      .catch((err: unknown) => {
        o.logger.error(errorFields(err), 'internal error answering a public read');
        res.destroy();
      });
  };
}
