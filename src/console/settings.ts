/**
 * What the reader chose, kept in the browser: the log URL (`?log=`, remembered in
 * localStorage), the pinned log key and witness policy per log URL (localStorage: trust
 * outlives the tab), and the read token (sessionStorage only, never in a URL, gone with the
 * tab). The shell served by a log marks itself with `<meta name="opa-tlog-log">`, so the
 * console then talks to its own origin and routes by path; the static build routes by hash.
 */
const PREFIX = 'opa-tlog:console:';

/** Where the console runs and which log it reads. */
export interface ConsoleEnv {
  /** The log's URL prefix, or undefined when the reader has not chosen one yet. */
  readonly logUrl: string | undefined;
  /** True when the page was served by the log itself (path routing, same-origin API). */
  readonly served: boolean;
  /** A `?vkey=` given in the page URL. */
  readonly vkeyParam: string | undefined;
}

/** Normalizes a log URL: http(s) only, no trailing slash; undefined if invalid. */
export function normalizeLogUrl(raw: string): string | undefined {
  try {
    const u = new URL(raw.trim());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

/** Reads the environment from the page: meta marker, `?log=` (remembered) and `?vkey=`. */
export function detectEnv(): ConsoleEnv {
  const served = document.querySelector('meta[name="opa-tlog-log"]') !== null;
  const params = new URLSearchParams(location.search);
  const fromParam = params.get('log');
  let logUrl: string | undefined;
  if (fromParam !== null) {
    logUrl = normalizeLogUrl(fromParam);
    if (logUrl !== undefined) localStorage.setItem(`${PREFIX}log`, logUrl);
  }
  logUrl ??= served ? location.origin : (localStorage.getItem(`${PREFIX}log`) ?? undefined);
  const vkey = params.get('vkey');
  return { logUrl, served, vkeyParam: vkey !== null && vkey.trim() !== '' ? vkey.trim() : undefined };
}

/** Remembers `url` as the log the static console reads. */
export function saveLogUrl(url: string): void {
  localStorage.setItem(`${PREFIX}log`, url);
}

/** The key pinned for `logUrl`, if any. */
export function pinnedKey(logUrl: string): string | undefined {
  return localStorage.getItem(`${PREFIX}vkey:${logUrl}`) ?? undefined;
}

/** Pins `vkey` for `logUrl` (undefined unpins). */
export function pinKey(logUrl: string, vkey: string | undefined): void {
  if (vkey === undefined) localStorage.removeItem(`${PREFIX}vkey:${logUrl}`);
  else localStorage.setItem(`${PREFIX}vkey:${logUrl}`, vkey);
}

/** The witness policy (tlog-policy text) pinned for `logUrl`, if any. */
export function pinnedPolicy(logUrl: string): string | undefined {
  return localStorage.getItem(`${PREFIX}policy:${logUrl}`) ?? undefined;
}

/** Pins a witness policy for `logUrl` (undefined removes it). */
export function pinPolicy(logUrl: string, policy: string | undefined): void {
  if (policy === undefined) localStorage.removeItem(`${PREFIX}policy:${logUrl}`);
  else localStorage.setItem(`${PREFIX}policy:${logUrl}`, policy);
}

/** The read token of this tab (sessionStorage), if any. */
export function readToken(): string | undefined {
  return sessionStorage.getItem(`${PREFIX}token`) || undefined;
}

/** Keeps the read token for this tab only (empty clears it). */
export function saveToken(token: string): void {
  if (token === '') sessionStorage.removeItem(`${PREFIX}token`);
  else sessionStorage.setItem(`${PREFIX}token`, token);
}
