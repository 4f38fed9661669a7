/**
 * The PostgreSQL engine's schema: its migrations, in order, and the runner. The one-row
 * `schema_version` table plays SQLite's `PRAGMA user_version`; a migration is never edited
 * once released (add a new one). Several servers may start at once on one database, so the
 * runner holds a transaction-scoped advisory lock while it migrates.
 */
import type pg from 'pg';

/**
 * Tables mirror the SQLite engine's (spec/storage.md) with the same names and keys, so a
 * check written for one reads the other; what differs is for several servers on one database
 * (spec/scale-out.md): `tree_head` hands out index ranges under a row lock, `integration`
 * records how far the elected sequencer has built the tiles, `lease` elects that sequencer
 * with a fencing token (epoch), and `entries` keeps each leaf hash so the sequencer builds
 * tiles without re-hashing entries.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE tree_head (
    id       integer PRIMARY KEY CHECK (id = 1),
    next_idx bigint NOT NULL
  );
  INSERT INTO tree_head (id, next_idx) VALUES (1, 0);
  CREATE TABLE integration (
    id   integer PRIMARY KEY CHECK (id = 1),
    size bigint NOT NULL
  );
  INSERT INTO integration (id, size) VALUES (1, 0);
  CREATE TABLE lease (
    id         integer PRIMARY KEY CHECK (id = 1),
    holder     text NOT NULL,
    epoch      bigint NOT NULL,
    expires_at timestamptz NOT NULL
  );
  INSERT INTO lease (id, holder, epoch, expires_at) VALUES (1, '', 0, '-infinity');
  CREATE TABLE entries (
    idx      bigint PRIMARY KEY,
    data     bytea NOT NULL,
    leaf     bytea NOT NULL,
    leaf_key bigint NOT NULL
  );
  CREATE INDEX entries_leaf_key ON entries (leaf_key);
  CREATE TABLE payloads (
    idx     bigint PRIMARY KEY,
    salt    bytea NOT NULL,
    payload bytea NOT NULL
  );
  -- Dedup and lookup by id: key is the first 52 bits of SHA-256(id), one row per entry with
  -- an id, confirmed against the entry (an 8-byte key keeps the random-key index small).
  CREATE TABLE ids (
    key bigint NOT NULL,
    idx bigint NOT NULL
  );
  CREATE INDEX ids_key ON ids (key);
  -- tile_key = index * 64 + level, as in SQLite.
  CREATE TABLE tiles (
    tile_key bigint PRIMARY KEY,
    data     bytea NOT NULL,
    interior bytea
  );
  CREATE TABLE checkpoints (
    size      bigint PRIMARY KEY,
    root      bytea NOT NULL,
    note      text NOT NULL,
    signed_at bigint NOT NULL
  );
  CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
  );
  CREATE TABLE leaf_meta (
    idx     bigint PRIMARY KEY,
    kind    text NOT NULL,
    source  text NOT NULL,
    recv_ms bigint NOT NULL,
    ts_ms   bigint,
    path    text,
    result  text
  );
  CREATE INDEX leaf_meta_ts ON leaf_meta (ts_ms);
  CREATE INDEX leaf_meta_path ON leaf_meta (path, idx);
  CREATE INDEX leaf_meta_source ON leaf_meta (source, idx);
  CREATE TABLE leaf_revisions (
    revision text NOT NULL,
    idx      bigint NOT NULL,
    PRIMARY KEY (revision, idx)
  );
  CREATE TABLE erasures (
    idx         bigint PRIMARY KEY,
    erasure_idx bigint NOT NULL,
    reason      text NOT NULL,
    erased_at   bigint NOT NULL
  );
  `,
  `
  -- As SQLite's migration 5: erasure deletes a leaf's bundle revisions (found by idx), and
  -- the real id of a leaf whose id was withheld from the entry lives here, private; lookups
  -- and dedup by id confirm against it, erasure deletes the row.
  CREATE INDEX leaf_revisions_idx ON leaf_revisions (idx);
  CREATE TABLE withheld_ids (
    idx bigint PRIMARY KEY,
    id  text NOT NULL
  );
  `,
  `
  -- As SQLite's cosignatures (migration 1) and witness_state (migration 4): the witness
  -- pusher's state, shared so that whichever server is the sequencer pushes from what the
  -- previous one recorded (spec/scale-out.md), and followers publish what met the quorum.
  CREATE TABLE cosignatures (
    size      bigint NOT NULL,
    witness   text NOT NULL,
    line      text NOT NULL,
    timestamp bigint NOT NULL,
    PRIMARY KEY (size, witness, line)
  );
  CREATE TABLE witness_state (
    witness    text PRIMARY KEY,
    url        text NOT NULL,
    size       bigint NOT NULL,
    updated_at bigint NOT NULL
  );
  `,
];

/** Number of migrations this build knows. */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** An arbitrary constant: the advisory lock key that serializes migrations across servers. */
const MIGRATION_LOCK = 0x6f70746c6f67;

/**
 * Applies the migrations the database has not run yet, all in one transaction under an
 * advisory lock, so servers starting together migrate once and a crash leaves no half
 * migration. Refuses a database whose schema is newer than this build.
 */
export async function migratePostgres(client: pg.PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)');
    const rows = (await client.query('SELECT version FROM schema_version')).rows as { version: number }[];
    const current = rows[0]?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(
        `database schema version ${current} is newer than this build (${MIGRATIONS.length}); refusing to open it`,
      );
    }
    for (let v = current; v < MIGRATIONS.length; v++) await client.query(MIGRATIONS[v]!);
    if (rows.length === 0)
      await client.query('INSERT INTO schema_version (version) VALUES ($1)', [PG_SCHEMA_VERSION]);
    else await client.query('UPDATE schema_version SET version = $1', [PG_SCHEMA_VERSION]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
