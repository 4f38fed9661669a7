/**
 * Bearer tokens with roles. Tokens come from the config (inline), the environment, or token
 * files that are re-read when they change (checked at most once a second), so tokens rotate
 * without a restart. Comparison is constant-time: the presented token's SHA-256 is compared
 * with every configured token's SHA-256 with timingSafeEqual, without early exit.
 *
 * Roles: `ingest` (append), `read` (payloads, search), `metrics` (GET /metrics, for a
 * Prometheus scraper), `admin` (erasure; implies all the others).
 * With no token configured at all, every request is allowed: the server then binds to
 * loopback only (see the CLI).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Context, MiddlewareHandler } from 'hono';
import { errorFields, type Logger, silentLogger } from '../core/logger.js';
import { HttpError } from './errors.js';

export type Role = 'ingest' | 'read' | 'metrics' | 'admin';
const ROLES: readonly Role[] = ['ingest', 'read', 'metrics', 'admin'];

interface TokenEntry {
  readonly hash: Buffer;
  readonly roles: ReadonlySet<Role>;
}

export class TokenConfigError extends Error {}

/**
 * Parses token specs: lines (or comma-free list items) of the form `<role>[+<role>...]:<token>`
 * e.g. `ingest:abc`, `read+ingest:def`. Blank lines and `#` comments are ignored.
 */
export function parseTokenSpecs(text: string, where: string): TokenEntry[] {
  const out: TokenEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new TokenConfigError(`${where}:${i + 1}: expected <role>:<token>`);
    const roles = line.slice(0, colon).split('+');
    const token = line.slice(colon + 1).trim();
    for (const r of roles) {
      if (!ROLES.includes(r as Role)) throw new TokenConfigError(`${where}:${i + 1}: unknown role "${r}"`);
    }
    if (token.length < 16) throw new TokenConfigError(`${where}:${i + 1}: token shorter than 16 characters`);
    if (/\s/.test(token)) throw new TokenConfigError(`${where}:${i + 1}: token contains white space`);
    out.push({ hash: sha(token), roles: new Set(roles as Role[]) });
  });
  return out;
}

const sha = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export class TokenStore {
  readonly #inline: TokenEntry[];
  readonly #files: string[];
  #fromFiles: TokenEntry[] = [];
  #mtimes = '';
  #checkedAt = 0;
  readonly #logger: Logger;

  /**
   * `inline`: token specs (see parseTokenSpecs); `files`: token files, one spec per line;
   * `logger`: where a failed reload is reported.
   */
  constructor(inline: string, files: readonly string[], logger: Logger = silentLogger) {
    this.#inline = parseTokenSpecs(inline, 'tokens');
    this.#files = [...files];
    this.#logger = logger;
    this.#reload(true);
  }

  /** True when at least one token is configured (then every protected route needs one). */
  get configured(): boolean {
    this.#reload(false);
    return this.#inline.length + this.#fromFiles.length > 0;
  }

  #reload(force: boolean): void {
    if (this.#files.length === 0) return;
    const now = Date.now();
    if (!force && now - this.#checkedAt < 1000) return;
    this.#checkedAt = now;
    const mtimes = this.#files.map((f) => statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? -1).join(',');
    if (!force && mtimes === this.#mtimes) return;
    try {
      this.#fromFiles = this.#files.flatMap((f) => parseTokenSpecs(readFileSync(f, 'utf8'), f));
      this.#mtimes = mtimes;
    } catch (err) {
      if (force) throw err;
      // Keep the previous tokens if a rewrite is half-done or broken; say so.
      this.#logger.warn(errorFields(err), 'token files not reloaded; keeping the previous tokens');
    }
  }

  /** Roles of a presented token (empty set if unknown). Constant-time over the configured tokens. */
  roles(token: string): ReadonlySet<Role> {
    this.#reload(false);
    const h = sha(token);
    let found: ReadonlySet<Role> = new Set();
    for (const e of [...this.#inline, ...this.#fromFiles]) {
      if (timingSafeEqual(h, e.hash)) found = new Set([...found, ...e.roles]);
    }
    return found;
  }
}

/** The token from `Authorization: Bearer <token>` (scheme `Bearer` or `Token`, any case). */
function presentedToken(c: Context): string | undefined {
  const h = c.req.header('authorization');
  if (!h) return undefined;
  const m = /^(bearer|token)\s+(\S+)\s*$/i.exec(h);
  return m ? m[2] : undefined;
}

/** True if the request may act with `role` (always, when no tokens are configured). */
export function hasRole(c: Context, store: TokenStore, role: Role): boolean {
  if (!store.configured) return true;
  const t = presentedToken(c);
  if (t === undefined) return false;
  const roles = store.roles(t);
  return roles.has(role) || roles.has('admin');
}

/** Middleware: 401 without a valid token, 403 with a token lacking `role`. */
export function requireRole(store: TokenStore, role: Role): MiddlewareHandler {
  return async (c, next) => {
    if (store.configured) {
      const t = presentedToken(c);
      if (t === undefined) {
        throw new HttpError(401, 'unauthorized', `this endpoint needs a bearer token with role ${role}`, {
          'WWW-Authenticate': 'Bearer',
        });
      }
      const roles = store.roles(t);
      if (roles.size === 0)
        throw new HttpError(401, 'unauthorized', 'unknown token', { 'WWW-Authenticate': 'Bearer' });
      if (!roles.has(role) && !roles.has('admin')) {
        throw new HttpError(403, 'forbidden', `this token lacks role ${role}`);
      }
    }
    await next();
  };
}
