/**
 * The schema migration runner shared by every SQLite database of the project (the log's and
 * the witness's): an ordered list of SQL scripts, with PRAGMA user_version recording how many
 * ran. A migration is never edited once released: add a new one.
 */
import type Database from 'better-sqlite3';

/**
 * Applies the migrations `db` has not run yet, each in its own transaction together with the
 * bump of `user_version`, so a crash leaves the database at a whole migration. Refuses a
 * database whose version is newer than `migrations` knows (written by a newer build).
 */
export function migrate(db: Database.Database, migrations: readonly string[]): void {
  const current = schemaVersion(db);
  if (current > migrations.length) {
    throw new Error(
      `database schema version ${current} is newer than this build (${migrations.length}); refusing to open it`,
    );
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/**
 * Checks, without writing, that `db` ran exactly the `migrations` this build knows (for a
 * database opened read-only, which cannot be migrated).
 */
export function requireSchemaVersion(db: Database.Database, migrations: readonly string[]): void {
  const v = schemaVersion(db);
  if (v !== migrations.length) {
    throw new Error(`database schema version ${v}, this build needs ${migrations.length}`);
  }
}

function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}
