/**
 * The C2SP tlog-tiles read API: /checkpoint, /tile/<L>/<N>[.p/<W>] and
 * /tile/entries/<N>[.p/<W>]. Everything served is bounded by the latest signed checkpoint;
 * tiles are immutable at their path, so they are cached for a year, and each has exactly one
 * path: the raw request path is parsed strictly (no `.`/`..` segments, percent-encoding,
 * double or trailing slashes), before any URL normalisation.
 */

import { gzipSync } from 'node:zlib';
import { type Context, Hono } from 'hono';
import { parseTilePath } from '../core/tiles.js';
import type { TransparencyLog } from '../log/log.js';
import { Lru } from '../log/lru.js';
import { HttpError } from './errors.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';

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

export function tileRoutes(log: TransparencyLog, published: () => string | undefined): Hono {
  const app = new Hono();
  /** Full entry bundles (raw and gzipped): they never change once full. */
  const bundles = new Lru<number, { raw: Uint8Array; gz?: Uint8Array }>(256);

  app.get('/checkpoint', (c) => {
    c.header('Cache-Control', 'no-store');
    const note = published();
    if (note === undefined) {
      throw new HttpError(503, 'no_witnessed_checkpoint', 'no checkpoint has met the witness policy yet', {
        'Retry-After': '1',
      });
    }
    return c.body(note, 200, { 'Content-Type': 'text/plain; charset=utf-8' });
  });

  app.get('/tile/*', async (c) => {
    const raw = rawPath(c).slice(1);
    const t = parseTilePath(raw);
    if (!t) throw new HttpError(400, 'invalid_tile_path', `not a C2SP tlog-tiles path: /${raw}`);
    const full = t.width === 256;
    const cached = t.kind === 'entries' && full ? bundles.get(t.index) : undefined;
    const data =
      cached?.raw ??
      (await (t.kind === 'hash'
        ? log.hashTile(t.level, t.index, t.width)
        : log.entryBundle(t.index, t.width)));
    if (!data)
      throw new HttpError(404, 'tile_not_found', `/${raw} does not exist at tree size ${log.latest().size}`);
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Cache-Control': IMMUTABLE,
    };
    if (t.kind === 'hash') return c.body(data as Uint8Array<ArrayBuffer>, 200, headers);
    // Entry bundles compress well (tlog-tiles: SHOULD be HTTP-compressed); hash tiles do not.
    headers.Vary = 'Accept-Encoding';
    const entry = cached ?? { raw: data };
    if (full && !cached) bundles.set(t.index, entry);
    if (acceptsGzip(c.req.header('accept-encoding'))) {
      entry.gz ??= gzipSync(data);
      headers['Content-Encoding'] = 'gzip';
      return c.body(entry.gz as Uint8Array<ArrayBuffer>, 200, headers);
    }
    return c.body(data as Uint8Array<ArrayBuffer>, 200, headers);
  });

  return app;
}
