/**
 * Opening the SQLite database: pragmas and schema migrations.
 *
 * Durability: WAL with `synchronous=FULL` (default) fsyncs the WAL at every commit, so a
 * commit that returned survives power loss. `NORMAL` may lose the last commits on power loss
 * (never on a process crash) and is offered as a documented option.
 */
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { BLOB_FILE_MIGRATION } from './blob-file.js';
import { BUNDLE_BLOBS_MIGRATION, BUNDLE_ENCODING_MIGRATION } from './bundle-blobs.js';
import { LOOKUP_BLOCKS_MIGRATION } from './lookup-blocks.js';
import { migrate, requireSchemaVersion } from './migrate.js';
import { PAYLOAD_BUNDLES_MIGRATION } from './payload-bundles.js';

export type Db = Database.Database;
export type SyncMode = 'FULL' | 'NORMAL';

/**
 * Default page cache per connection, MiB. Since nothing random-keyed is written (issue 11) the
 * commit touches only the right edge of each B-tree, and reads of old tiles and bundles are
 * served well enough by the OS page cache: a large SQLite cache per connection (two: the
 * writer's and the readers') was most of the server's resident memory (725 MiB at 10M leaves
 * with 256 MiB each). 16 rather than 32: on the 10M-leaf log, random proofs, tiles and bundles
 * read as fast with either (two runs each), and the two caches hold ~2 x 17 MiB instead of
 * ~2 x 35 MiB (pages plus their headers) under the 300 MiB budget (spec/storage.md "Memory").
 */
export const DEFAULT_CACHE_MIB = 16;

export interface OpenOptions {
  /** fsync policy; FULL by default. */
  synchronous?: SyncMode;
  /** Page cache in MiB (default {@link DEFAULT_CACHE_MIB}). */
  cacheMiB?: number;
  /** Open read-only (tools that inspect a database). */
  readonly?: boolean;
  /** Tests only: apply just the first N migrations (a database as an older build left it). */
  schemaVersion?: number;
}

/**
 * Schema migrations, applied in order by ./migrate.ts; PRAGMA user_version records how many
 * ran. A migration is never edited once released: add a new one.
 */
const MIGRATIONS: readonly string[] = [
  `
  -- Public leaves: the exact entry bytes hashed into the tree. idx is the leaf index.
  CREATE TABLE entries (
    idx  INTEGER PRIMARY KEY,
    data BLOB NOT NULL
  );
  -- Private: salt and clear-text payload behind each entry's commitment. Deleting a row
  -- (erasure) leaves every leaf and proof intact.
  CREATE TABLE payloads (
    idx     INTEGER PRIMARY KEY,
    salt    BLOB NOT NULL,
    payload BLOB NOT NULL
  );
  -- Dedup and lookup by (source, id) and by id alone. key is a 52-bit hash of the id used as
  -- the rowid, so the index is the table B-tree itself (8-byte keys, no secondary index). The
  -- same id from several sources and hash collisions take key+1, key+2, ... (linear probing);
  -- every hit is confirmed against the entry itself.
  CREATE TABLE ids (
    key INTEGER PRIMARY KEY,
    idx INTEGER NOT NULL
  );
  -- Hash tiles (C2SP tlog-tiles, height 8), one row per tile holding its current content:
  -- tile_key = idx * 64 + level. A full tile (8192 bytes) is never rewritten; the partial
  -- rightmost tile of each level grows in place (its older widths are prefixes).
  CREATE TABLE tiles (
    tile_key INTEGER PRIMARY KEY,
    data     BLOB NOT NULL
  );
  -- Every checkpoint the log ever signed. size is the primary key: one root per size, ever.
  CREATE TABLE checkpoints (
    size      INTEGER PRIMARY KEY,
    root      BLOB NOT NULL,
    note      TEXT NOT NULL,
    signed_at INTEGER NOT NULL
  );
  -- Cosignatures gathered from witnesses, as note signature lines.
  CREATE TABLE cosignatures (
    size      INTEGER NOT NULL,
    witness   TEXT NOT NULL,
    line      TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (size, witness, line)
  );
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  `
  -- Private search metadata (never in the public leaves), one row per leaf with a payload.
  CREATE TABLE leaf_meta (
    idx     INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    source  TEXT NOT NULL,
    recv_ms INTEGER NOT NULL,
    ts_ms   INTEGER,
    path    TEXT,
    result  TEXT
  );
  CREATE INDEX leaf_meta_ts ON leaf_meta (ts_ms);
  CREATE INDEX leaf_meta_path ON leaf_meta (path, idx);
  CREATE INDEX leaf_meta_source ON leaf_meta (source, idx);
  -- Bundle revisions a decision was made with (a decision may use several bundles).
  CREATE TABLE leaf_revisions (
    revision TEXT NOT NULL,
    idx      INTEGER NOT NULL,
    PRIMARY KEY (revision, idx)
  ) WITHOUT ROWID;
  -- Erased payloads: which erasure entry erased them and why.
  CREATE TABLE erasures (
    idx         INTEGER PRIMARY KEY,
    erasure_idx INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    erased_at   INTEGER NOT NULL
  );
  `,
  `
  -- Interior nodes of full tiles (255 hashes, see core/tiles.ts tileInterior): proofs read
  -- them instead of re-hashing up to 255 nodes per tile. NULL for partial tiles.
  ALTER TABLE tiles ADD COLUMN interior BLOB;
  `,
  `
  -- Each witness's last known cosigned size, kept by the witness pusher (src/witness/pusher.ts)
  -- to send the right consistency proof after a restart. IF NOT EXISTS: pushers before this
  -- migration created the table themselves, with this exact shape.
  CREATE TABLE IF NOT EXISTS witness_state (
    witness    TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    size       INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  `
  -- Erasure deletes a leaf's bundle revisions with its other private metadata; idx grows with
  -- every append, so this index only ever appends at its right end.
  CREATE INDEX IF NOT EXISTS leaf_revisions_idx ON leaf_revisions (idx);
  -- An event's id when it was withheld from its public leaf (not a well-formed identifier; the
  -- real source is leaf_meta.source). Lookups and dedup by id confirm against it. Erasure
  -- deletes the row.
  CREATE TABLE IF NOT EXISTS withheld_ids (
    idx INTEGER PRIMARY KEY,
    id  TEXT NOT NULL
  );
  `,
  `
  -- Issue 11: nothing random-keyed in the commit. (IF NOT EXISTS / OR IGNORE: a database
  -- whose user_version was set back re-runs this harmlessly, as migration 5 does.) One row per committed batch, in index
  -- order: per leaf, the 52-bit key of its id (little-endian Float64, -1 for a leaf without
  -- dedup ids), and when the batch was received. The dedup window is rebuilt from the newest
  -- rows, and the lookup indexer reads its keys from here (no entry decoding).
  CREATE TABLE IF NOT EXISTS batch_keys (
    first_idx INTEGER PRIMARY KEY,
    recv_ms   INTEGER NOT NULL,
    keys      BLOB NOT NULL
  );
  -- The follower's lookup index, as sorted runs (LSM): a listed run covers leaves [lo, hi).
  -- Only listed runs are read; rows of an unlisted run are garbage (a merge cut short).
  CREATE TABLE IF NOT EXISTS lookup_runs (
    run   INTEGER PRIMARY KEY,
    level INTEGER NOT NULL,
    lo    INTEGER NOT NULL,
    hi    INTEGER NOT NULL
  );
  -- key >= 0: the 52-bit key of an id; key < 0: -1 - the 52-bit key of a leaf hash. A run is
  -- written in (key, idx) order under a run id larger than any before: appends only.
  CREATE TABLE IF NOT EXISTS lookup_keys (
    run INTEGER NOT NULL,
    key INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (run, key, idx)
  ) WITHOUT ROWID;
  -- A resend that slipped past the dedup window (a new leaf), flagged by the indexer as a
  -- duplicate of the first leaf of that event.
  CREATE TABLE IF NOT EXISTS late_duplicates (
    idx       INTEGER PRIMARY KEY,
    first_idx INTEGER NOT NULL
  );
  -- The indexer's durable cursor (one row): leaves [0, indexed_to) are indexed. Leaves below
  -- legacy_size were keyed in ids (schema 5), which stays as a read-only legacy run; the
  -- indexer starts after them. New commits never write ids. (A table of its own rather than
  -- meta rows: meta holds the log's identity, which tools read whole.)
  CREATE TABLE IF NOT EXISTS lookup_cursor (
    one         INTEGER PRIMARY KEY CHECK (one = 0),
    indexed_to  INTEGER NOT NULL,
    legacy_size INTEGER NOT NULL
  );
  INSERT OR IGNORE INTO lookup_cursor (one, indexed_to, legacy_size)
    SELECT 0, coalesce(max(idx) + 1, 0), coalesce(max(idx) + 1, 0) FROM entries;
  `,
  BUNDLE_BLOBS_MIGRATION, // entry_bundles (src/store/bundle-blobs.ts)
  `
  -- The Bloom filter of each listed lookup run's id keys (src/store/lookup-index.ts KeyBloom),
  -- written with the run (or when a merge lists it) and deleted when it is unlisted, so a start
  -- loads ~1.25 bytes per leaf instead of reading every key of every run.
  CREATE TABLE IF NOT EXISTS lookup_blooms (
    run  INTEGER PRIMARY KEY,
    bits BLOB NOT NULL
  );
  `,
  PAYLOAD_BUNDLES_MIGRATION, // payload_bundles (src/store/payload-bundles.ts)
  BUNDLE_ENCODING_MIGRATION, // entry_bundle_encoding: which entry_bundles blobs are gzip (src/store/bundle-blobs.ts)
  BLOB_FILE_MIGRATION, // tile_places, bundle_places, blob_file: full tiles and bundles in <db>-blobs (src/store/blob-file.ts)
  LOOKUP_BLOCKS_MIGRATION, // lookup_blocks: lookup runs as blocks of pairs (src/store/lookup-blocks.ts)
];

/** Number of migrations this build knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Makes the database file and its `-wal`/`-shm` companions readable by the owner only (0600):
 * they hold private payloads. The file is created 0600 before SQLite opens it, because SQLite
 * creates the WAL and shared-memory files with the database file's mode; files left 0644 by
 * older builds are tightened.
 */
function restrictFileModes(path: string): void {
  if (path === ':memory:' || path === '') return;
  try {
    if (!existsSync(path)) closeSync(openSync(path, 'wx', 0o600));
    for (const f of [path, `${path}-wal`, `${path}-shm`]) {
      if (existsSync(f) && (statSync(f).mode & 0o777) !== 0o600) chmodSync(f, 0o600);
    }
  } catch {
    // A read-only directory or someone else's file: SQLite's open decides what works (a
    // read-only database still serves reads).
  }
}

/**
 * Opens (creating if needed) and migrates the database at `path`, owner-only (0600). Writable
 * connections run with `secure_delete = ON`: SQLite overwrites deleted rows and freed pages
 * with zeros, so an erased payload's bytes do not linger in free space (see
 * {@link LogStore.scrubWal} for the WAL's copies).
 */
export function openDatabase(path: string, opts: OpenOptions = {}): Db {
  if (!opts.readonly) restrictFileModes(path);
  const db = new Database(path, { readonly: opts.readonly ?? false });
  db.pragma('busy_timeout = 5000');
  if (!opts.readonly) {
    db.pragma('secure_delete = ON');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
    restrictFileModes(path);
  }
  db.pragma(`cache_size = ${-1024 * (opts.cacheMiB ?? DEFAULT_CACHE_MIB)}`);
  db.pragma('temp_store = MEMORY');
  if (!opts.readonly) migrate(db, MIGRATIONS.slice(0, opts.schemaVersion ?? MIGRATIONS.length));
  else requireSchemaVersion(db, MIGRATIONS);
  return db;
}
