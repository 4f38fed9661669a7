/**
 * The web console's files (built by scripts/build-console.mjs into dist/console-www): the SPA
 * shell at `/`, `/search`, `/settings`, `/decisions/{id}` and `/entries/{index}` (never
 * cached, so a new build is picked up), and its content-hashed assets at `/assets/<name>`
 * (cached for a year, immutable). The shell is served with a Content-Security-Policy that lets
 * the page load and fetch from this origin only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { HttpError } from './errors.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** The shell's policy: scripts, styles and requests to this origin only, no framing. */
const SHELL_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * Where the built console lives: dist/console-www next to the compiled server, or (when the
 * server runs from sources, as in tests) the repository's dist/console-www. Undefined if unbuilt.
 */
export function defaultConsoleDir(): string | undefined {
  for (const rel of ['../console-www/', '../../dist/console-www/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

/**
 * Routes serving the console from `dir` (default {@link defaultConsoleDir}). Files are read
 * once and kept in memory (the build is a few tens of kB). Without a build, the shell paths
 * answer 404 `console_not_built`.
 */
export function consoleRoutes(dir: string | undefined = defaultConsoleDir()): Hono {
  const app = new Hono();
  const cache = new Map<string, Uint8Array | null>();
  const read = (name: string): Uint8Array | null => {
    if (dir === undefined) return null;
    let data = cache.get(name);
    if (data === undefined) {
      const path = join(dir, name);
      data = existsSync(path) ? new Uint8Array(readFileSync(path)) : null;
      cache.set(name, data);
    }
    return data;
  };
  const shell = (): Response => {
    const html = read('index.html');
    if (html === null) {
      throw new HttpError(404, 'console_not_built', 'the web console is not built (npm run build)');
    }
    return new Response(html, {
      headers: {
        'Content-Type': TYPES['.html']!,
        'Cache-Control': 'no-store',
        'Content-Security-Policy': SHELL_CSP,
        'X-Content-Type-Options': 'nosniff',
      },
    });
  };
  for (const path of ['/', '/search', '/settings', '/decisions/:id', '/entries/:index']) {
    app.get(path, shell);
  }
  app.get('/assets/:name', (c) => {
    const name = c.req.param('name');
    const type = TYPES[extname(name)];
    const data = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name) && type ? read(`assets/${name}`) : null;
    if (data === null) throw new HttpError(404, 'not_found', `no console asset ${name}`);
    return new Response(data, {
      headers: {
        'Content-Type': type!,
        'Cache-Control': 'public, max-age=31536000, immutable',
        'X-Content-Type-Options': 'nosniff',
      },
    });
  });
  return app;
}
