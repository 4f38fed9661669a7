/**
 * The C2SP tlog-tiles read API: /checkpoint, /tile/<L>/<N>[.p/<W>] and
 * /tile/entries/<N>[.p/<W>]. Everything served is bounded by the latest signed checkpoint;
 * the bytes at a path never change: full tiles and bundles are cached for a year, partial ones
 * for a minute, each with a strong ETag (If-None-Match answers 304). Each tile has exactly one
 * path: the raw request path is parsed strictly (no `.`/`..` segments, percent-encoding,
 * double or trailing slashes), before any URL normalisation.
 */

import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type Context, Hono } from 'hono';
import { Lru } from '../core/lru.js';
import { parseTilePath, TILE_WIDTH, type TilePath } from '../core/tiles.js';
import type { TransparencyLog } from '../log/log.js';
import { HttpError } from './errors.js';

/** True if an Accept-Encoding header allows gzip (present, and not with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  for (const part of (header ?? '').split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding?.trim() !== 'gzip' && coding?.trim() !== 'x-gzip') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/**
 * The request path exactly as the client sent it, without its query: the URL parser behind
 * `c.req.url` resolves `./`, `../`, `%2e%2e` and the like, so `/tile/entries/x/../000.p/1`
 * would reach us as `/tile/entries/000.p/1` and be served (and cached for a year) under a
 * second spelling. Under @hono/node-server the raw request target is `env.incoming.url`
 * (origin-form, or absolute-form whose path is taken as is); elsewhere (in-process
 * `app.request`) the parsed URL's path is all there is.
 */
export function rawPath(c: Context): string {
  const target = (c.env as { incoming?: { url?: unknown } } | undefined)?.incoming?.url;
  if (typeof target !== 'string') return new URL(c.req.url).pathname;
  const path = /^https?:\/\/[^/?#]*/i.test(target) ? target.replace(/^https?:\/\/[^/?#]*/i, '') : target;
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

/**
 * Strong ETag of a representation: the first 16 bytes of SHA-256 of exactly the bytes sent
 * (after any Content-Encoding), base64url, quoted. A function of the bytes only, so it is the
 * same across restarts and servers, and the gzip and identity forms of one tile differ.
 */
export function etagOf(body: Uint8Array): string {
  return `"${createHash('sha256').update(body).digest().subarray(0, 16).toString('base64url')}"`;
}

/**
 * True if an If-None-Match header matches `etag`: `*`, or any listed entity tag equal to it
 * under the weak comparison RFC 9110 §13.1.2 prescribes for If-None-Match (a `W/` prefix is
 * ignored on either side).
 */
export function noneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const want = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === want;
  });
}

/** Full tiles and bundles never change: cached for a year by anyone (tlog-tiles: long-lived). */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/**
 * Partial tiles and bundles: their bytes never change here either (an older width is served
 * as a prefix for ever), but tlog-tiles lets a log delete them once the tile is full, a client
 * needs one only near the right edge, and a wider one supersedes it within a signer interval:
 * a minute keeps caches from holding them for a year; revalidation costs a 304.
 */
const PARTIAL = 'public, max-age=60';

/** The bytes of tile `t` to send, gzipped when `gzip` (bundles only), or undefined (404). */
type TileBody = (t: TilePath, gzip: boolean) => Promise<Uint8Array | undefined>;

/** How many full-bundle bodies that cost CPU to make {@link tileBodies} keeps. */
const MADE_BODIES = 16;
/** The largest such body kept (an OPA decision bundle is ~49 KiB raw): 16 x 128 KiB = 2 MiB. */
const MADE_BODY_MAX = 128 * 1024;

/**
 * The representation of a tile or bundle: hash tiles as stored; entry bundles in the form the
 * log stores them when that is the form asked for (a full bundle is stored as one gzip member,
 * sent verbatim to clients that accept gzip: a read and no CPU). Otherwise the body is made:
 * the stored member inflated for clients that do not accept gzip, or, for partial bundles and
 * full ones stored raw (before the encoding column), gzipped at level 1 (as small as level 6
 * on bundles, at ~60-70 % of its CPU; the level the store uses, so a bundle's gzip bytes are
 * the same either way). The last few full bodies made are kept: they never change.
 */
function tileBodies(log: TransparencyLog): TileBody {
  const made = new Lru<string, Uint8Array>(MADE_BODIES);
  return async (t, gzip) => {
    if (t.kind === 'hash') return log.hashTile(t.level, t.index, t.width);
    const full = t.width === TILE_WIDTH;
    const key = `${t.index} ${gzip ? 'gzip' : 'identity'}`;
    const hit = full ? made.get(key) : undefined;
    if (hit) return hit;
    const stored = await log.entryBundleStored(t.index, t.width);
    if (stored === undefined) return undefined;
    if (stored.gzip === gzip) return stored.bytes;
    const body = gzip ? gzipSync(stored.bytes, { level: 1 }) : gunzipSync(stored.bytes);
    if (full && body.length <= MADE_BODY_MAX) made.set(key, body);
    return body;
  };
}

/**
 * An answer to a public read, framework-free so that hono's routes and the node:http fast path
 * (fast-reads.ts) send the same bytes: status, headers and body (null for a 304).
 */
export interface ReadAnswer {
  readonly status: 200 | 304;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array | string | null;
}

/**
 * The checkpoint and the tiles, as {@link ReadAnswer}s; refusals are thrown as HttpError. One
 * instance per server: it keeps the ETags of full paths served and the bodies it made.
 */
export class PublicTiles {
  readonly #log: TransparencyLog;
  readonly #published: () => string | undefined;
  readonly #body: TileBody;
  /** ETags of full tiles and bundles served (by path and encoding): a match needs no read. */
  readonly #etags = new Lru<string, string>(8192);

  constructor(log: TransparencyLog, published: () => string | undefined) {
    this.#log = log;
    this.#published = published;
    this.#body = tileBodies(log);
  }

  /** GET /checkpoint: the published checkpoint, never cached; 503 while there is none. */
  checkpoint(): ReadAnswer {
    const note = this.#published();
    if (note === undefined) {
      throw new HttpError(503, 'no_witnessed_checkpoint', 'no checkpoint has met the witness policy yet', {
        'Cache-Control': 'no-store',
        'Retry-After': '1',
      });
    }
    return {
      status: 200,
      headers: { 'Cache-Control': 'no-store', 'Content-Type': 'text/plain; charset=utf-8' },
      body: note,
    };
  }

  /**
   * GET /tile/...: `raw` is the request path as sent, without its leading slash and query
   * (see {@link rawPath}); the two headers are the request's.
   */
  async tile(
    raw: string,
    acceptEncoding: string | undefined,
    ifNoneMatch: string | undefined,
  ): Promise<ReadAnswer> {
    const t = parseTilePath(raw);
    if (!t) throw new HttpError(400, 'invalid_tile_path', `not a C2SP tlog-tiles path: /${raw}`);
    const full = t.width === TILE_WIDTH;
    // Entry bundles compress well (tlog-tiles: SHOULD be HTTP-compressed); hash tiles do not.
    const gzip = t.kind === 'entries' && acceptsGzip(acceptEncoding);
    const headers: Record<string, string> = { 'Cache-Control': full ? IMMUTABLE : PARTIAL };
    if (t.kind === 'entries') headers.Vary = 'Accept-Encoding';
    const key = gzip ? `${raw} gzip` : raw;
    // A full path served once stays servable (checkpoints only grow) with the same bytes.
    const known = full ? this.#etags.get(key) : undefined;
    if (known !== undefined && noneMatchHits(ifNoneMatch, known)) {
      return { status: 304, headers: { ...headers, ETag: known }, body: null };
    }
    const data = await this.#body(t, gzip);
    if (!data) {
      throw new HttpError(
        404,
        'tile_not_found',
        `/${raw} does not exist at tree size ${this.#log.latest().size}`,
      );
    }
    headers.ETag = known ?? etagOf(data);
    if (full) this.#etags.set(key, headers.ETag);
    if (noneMatchHits(ifNoneMatch, headers.ETag)) return { status: 304, headers, body: null };
    headers['Content-Type'] = 'application/octet-stream';
    if (gzip) headers['Content-Encoding'] = 'gzip';
    return { status: 200, headers, body: data };
  }
}

/** A {@link ReadAnswer} as hono's response. */
export function honoAnswer(c: Context, a: ReadAnswer): Response {
  return a.status === 304
    ? c.body(null, 304, a.headers)
    : c.body(a.body as string | Uint8Array<ArrayBuffer>, 200, a.headers);
}

/** GET /checkpoint and GET /tile/* on hono (see {@link PublicTiles}). */
export function tileRoutes(tiles: PublicTiles): Hono {
  const app = new Hono();
  app.get('/checkpoint', (c) => honoAnswer(c, tiles.checkpoint()));
  app.get('/tile/*', async (c) =>
    honoAnswer(
      c,
      await tiles.tile(rawPath(c).slice(1), c.req.header('accept-encoding'), c.req.header('if-none-match')),
    ),
  );
  return app;
}
