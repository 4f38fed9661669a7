/**
 * Telling storage locations apart without loading an engine: a SQLite file path, or a
 * `postgres://` / `postgresql://` URL. Kept apart from the PostgreSQL modules so that a server
 * on SQLite never loads the PostgreSQL client (~100 ms of its start-up).
 */

/** True when `location` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** Strips the password from a connection URL, for messages; anything else (a path) as is. */
export function redactUrl(url: string): string {
  if (!isPostgresUrl(url)) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}
