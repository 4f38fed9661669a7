/**
 * The PostgreSQL engine behind {@link LogStorage}, for one server or many on one database
 * (spec/scale-out.md). Appends take their final indices in one short transaction
 * (postgres-append.ts); tiles and checkpoints are written only by the elected sequencer
 * (postgres-sequencer.ts), exposed as `shared`. Reads go through a pool. Every line of its
 * SQL is in these postgres-*.ts modules.
 */
import type pg from 'pg';
import type { Sha256 } from '../core/hash.js';
import type { Logger } from '../core/logger.js';
import type { StoredTile } from '../core/tiles.js';
import type {
  AppendCommit,
  AppendItem,
  CommittedTree,
  ErasureRecord,
  LogIdentity,
  LogStorage,
  SearchFilter,
  StorageBytes,
  StoredCheckpoint,
  StoredPayload,
} from './log-storage.js';
import { identityFromMeta, identityMetaRows, key52 } from './log-store.js';
import { decodeStoredPayload } from './payload-codec.js';
import { appendPostgres } from './postgres-append.js';
import { entriesByIdKeys, idKey } from './postgres-ids.js';
import { migratePostgres } from './postgres-migrations.js';
import { openPool } from './postgres-query.js';
import { PgSequencer } from './postgres-sequencer.js';
import { PgStorageSize } from './postgres-size.js';
import { PgWitnessPushState } from './postgres-witness-state.js';
import type { WitnessPushState } from './witness-push-state.js';

export interface PostgresStorageOptions {
  /** postgres://user:password@host:port/database */
  readonly url: string;
  /** Connections for reads and appends (default 10). */
  readonly poolSize?: number;
  readonly sha: Sha256;
  /** Where connection errors are reported (default: dropped). */
  readonly logger?: Logger;
}

/** The meta keys that record the identity (log-store.ts identityMetaRows). */
const IDENTITY_KEYS = ['origin', 'vkey', 'vkeys', 'retired_vkeys'];
/** An arbitrary constant: the advisory lock key that serializes identity writes. */
const IDENTITY_LOCK = 0x6f70746c6f69;
/** Identity rows as one comparable string (key order). */
const rowsText = (rows: readonly { key: string; value: string }[]): string =>
  JSON.stringify([...rows].sort((a, b) => (a.key < b.key ? -1 : 1)).map((r) => [r.key, r.value]));

type CheckpointRow = { size: number; root: Buffer; note: string; signed_at: number };
const toCheckpoint = (r: CheckpointRow | undefined): StoredCheckpoint | undefined =>
  r ? { size: r.size, root: r.root, note: r.note, signedAt: r.signed_at } : undefined;

/**
 * Connects, migrates (once, whichever server comes first) and loads the integrated tree.
 * Rejects with the driver's error when the database cannot be reached, and with
 * DamagedTilesError when the tiles cannot give the integrated tree's right edge.
 */
export async function openPostgresStorage(opts: PostgresStorageOptions): Promise<PostgresLogStorage> {
  const pool = openPool(opts.url, opts.poolSize ?? 10, opts.logger);
  try {
    const c = await pool.connect();
    try {
      await migratePostgres(c);
    } finally {
      c.release();
    }
    return new PostgresLogStorage(pool, await PgSequencer.open(opts.url, opts.sha, opts.logger), opts.sha);
  } catch (err) {
    await pool.end();
    throw err;
  }
}

/**
 * The PostgreSQL {@link LogStorage}: appends and reads through a pool, the integrated tree
 * and every tile or checkpoint write through the sequencer ({@link PgSequencer}, `shared`).
 */
export class PostgresLogStorage implements LogStorage {
  readonly #pool: pg.Pool;
  readonly #seq: PgSequencer;
  readonly #sha: Sha256;
  /** The newest checkpoint size this server read or stored: the checkpoint CAS's expectation. */
  #head: number | undefined;
  /** The identity rows as this server's last identity() read them: setIdentity's expectation. */
  #identityRows: string | undefined;
  readonly #size: PgStorageSize;
  /** The witness pusher's state, in the database every server shares. */
  readonly witnessPushState: WitnessPushState;

  constructor(pool: pg.Pool, seq: PgSequencer, sha: Sha256) {
    this.#pool = pool;
    this.#seq = seq;
    this.#sha = sha;
    this.#size = new PgStorageSize(pool);
    this.witnessPushState = new PgWitnessPushState(pool);
  }

  get shared(): PgSequencer {
    return this.#seq;
  }

  /** The database's size and the cluster's WAL (if readable), re-read at most every 5 s. */
  storageBytes(): Promise<StorageBytes> {
    return this.#size.read();
  }

  async append(items: AppendItem[]): Promise<AppendCommit> {
    const c = await this.#pool.connect();
    try {
      const out = await appendPostgres(c, items, this.#sha);
      c.release();
      return out;
    } catch (err) {
      // Not reused: it may have failed mid-transaction (refused batches are rare).
      c.release(err as Error);
      throw err;
    }
  }

  committedTree(): CommittedTree {
    return this.#seq.tree();
  }

  async #one<T>(sql: string, args: unknown[]): Promise<T | undefined> {
    return (await this.#pool.query(sql, args)).rows[0] as T | undefined;
  }

  async entry(index: number): Promise<Uint8Array | undefined> {
    return (await this.#one<{ data: Buffer }>('SELECT data FROM entries WHERE idx = $1', [index]))?.data;
  }
  async entries(lo: number, hi: number): Promise<Uint8Array[]> {
    const r = await this.#pool.query('SELECT data FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx', [
      lo,
      hi,
    ]);
    return (r.rows as { data: Buffer }[]).map((x) => x.data);
  }
  async payload(index: number): Promise<StoredPayload | undefined> {
    const r = await this.#one<StoredPayload>('SELECT salt, payload FROM payloads WHERE idx = $1', [index]);
    return r ? { salt: r.salt, payload: decodeStoredPayload(r.payload) } : undefined;
  }
  async erasure(index: number): Promise<ErasureRecord | undefined> {
    const r = await this.#one<{ erasure_idx: number; reason: string; erased_at: number }>(
      'SELECT erasure_idx, reason, erased_at FROM erasures WHERE idx = $1',
      [index],
    );
    return r ? { erasureIndex: r.erasure_idx, reason: r.reason, erasedAt: r.erased_at } : undefined;
  }
  async tile(level: number, index: number): Promise<StoredTile | undefined> {
    const r = await this.#one<{ data: Buffer; interior: Buffer | null }>(
      'SELECT data, interior FROM tiles WHERE tile_key = $1',
      [index * 64 + level],
    );
    return r ? { data: r.data, interior: r.interior ?? undefined } : undefined;
  }

  /** Entries appended with id `id` (confirmed against each entry), in index order, with their source. */
  async #withId(id: string): Promise<{ idx: number; src: string }[]> {
    return (await entriesByIdKeys(this.#pool, [idKey(id, this.#sha)])).filter((h) => h.id === id);
  }
  async findById(source: string, id: string): Promise<number | undefined> {
    return (await this.findAllById(source, id))[0];
  }
  async findAllById(source: string, id: string): Promise<number[]> {
    return (await this.#withId(id)).filter((x) => x.src === source).map((x) => x.idx);
  }
  async findByIdAnySource(id: string): Promise<number[]> {
    return (await this.#withId(id)).map((x) => x.idx);
  }
  async findLeaf(leaf: Uint8Array, size: number): Promise<number | undefined> {
    const r = await this.#one<{ m: number | null }>(
      'SELECT min(idx) AS m FROM entries WHERE leaf_key = $1 AND leaf = $2 AND idx < $3',
      [key52(leaf), leaf, size],
    );
    return r?.m ?? undefined;
  }

  async search(f: SearchFilter, cursor: number, limit: number): Promise<number[]> {
    const args: unknown[] = [cursor];
    const where = ['m.idx > $1'];
    const add = (column: string, op: string, value: string | number | undefined) => {
      if (value === undefined) return;
      args.push(value);
      where.push(`m.${column} ${op} $${args.length}`);
    };
    add('kind', '=', f.kind);
    add('ts_ms', '>=', f.sinceMs);
    add('ts_ms', '<', f.untilMs);
    add('path', '=', f.path);
    add('result', '=', f.result);
    add('source', '=', f.source);
    if (f.revision !== undefined) {
      args.push(f.revision);
      where.push(
        `EXISTS (SELECT 1 FROM leaf_revisions r WHERE r.idx = m.idx AND r.revision = $${args.length})`,
      );
    }
    args.push(limit);
    const sql = `SELECT m.idx FROM leaf_meta m WHERE ${where.join(' AND ')} ORDER BY m.idx LIMIT $${args.length}`;
    return ((await this.#pool.query(sql, args)).rows as { idx: number }[]).map((r) => r.idx);
  }

  /**
   * Payload-holding leaves received before `recvMs`, oldest first, stopping at the first
   * younger one (receive times grow with the index, within the clock skew of the servers).
   */
  async expiredPayloads(recvMs: number, limit: number): Promise<number[]> {
    const r = await this.#pool.query(
      'SELECT p.idx, m.recv_ms FROM payloads p JOIN leaf_meta m ON m.idx = p.idx ORDER BY p.idx LIMIT $1',
      [limit],
    );
    const out: number[] = [];
    for (const row of r.rows as { idx: number; recv_ms: number }[]) {
      if (row.recv_ms >= recvMs) break;
      out.push(row.idx);
    }
    return out;
  }

  async insertCheckpoint(cp: StoredCheckpoint): Promise<void> {
    await this.#seq.insertCheckpoint(cp, this.#head);
    this.#head = cp.size;
  }
  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const cp = toCheckpoint(
      await this.#one<CheckpointRow>(
        'SELECT size, root, note, signed_at FROM checkpoints ORDER BY size DESC LIMIT 1',
        [],
      ),
    );
    this.#head = cp?.size;
    // Checkpoints are stored only once integrated: re-reading the tree after the checkpoint
    // keeps committedTree() at or beyond it (the fork guard compares the two at start-up,
    // while the sequencer on another server keeps going).
    if (cp && cp.size > this.#seq.tree().size) await this.#seq.refresh();
    return cp;
  }
  async checkpointAt(size: number): Promise<StoredCheckpoint | undefined> {
    return toCheckpoint(
      await this.#one<CheckpointRow>('SELECT size, root, note, signed_at FROM checkpoints WHERE size = $1', [
        size,
      ]),
    );
  }

  async identity(): Promise<LogIdentity> {
    const r = await this.#pool.query('SELECT key, value FROM meta WHERE key = ANY($1::text[])', [
      IDENTITY_KEYS,
    ]);
    const rows = r.rows as { key: string; value: string }[];
    this.#identityRows = rowsText(rows);
    const m = new Map(rows.map((x) => [x.key, x.value]));
    return identityFromMeta((k) => m.get(k));
  }

  /**
   * Records origin, current and retired keys together, replacing what was recorded, as a
   * compare-and-swap on what this server's last {@link identity} read: if another server
   * recorded another identity meanwhile (two servers starting on a fresh database with other
   * keys), this one refuses instead of overwriting it (one log per database).
   */
  async setIdentity(
    origin: string,
    vkeys: readonly string[],
    retiredVkeys: readonly string[],
  ): Promise<void> {
    const rows = identityMetaRows(origin, vkeys, retiredVkeys);
    const c = await this.#pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock($1)', [IDENTITY_LOCK]);
      const now = (await c.query('SELECT key, value FROM meta WHERE key = ANY($1::text[])', [IDENTITY_KEYS]))
        .rows as { key: string; value: string }[];
      const recorded = rowsText(now);
      const wanted = rowsText(rows.map(([key, value]) => ({ key, value })));
      if (this.#identityRows !== undefined && recorded !== this.#identityRows && recorded !== wanted) {
        const m = new Map(now.map((x) => [x.key, x.value]));
        const got = identityFromMeta((k) => m.get(k));
        throw new Error(
          `another server recorded origin "${got.origin}" and keys ${got.vkeys?.join(', ')} in this database first`,
        );
      }
      await c.query(
        'INSERT INTO meta (key, value) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
        [rows.map((x) => x[0]), rows.map((x) => x[1])],
      );
      await c.query('COMMIT');
      this.#identityRows = undefined;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  /**
   * Replaces the note of checkpoint `size` if its root is `root` (the same checkpoint with more
   * signatures). Not fenced by the lease: it never changes what a size commits to.
   */
  async addCheckpointSignatures(size: number, root: Uint8Array, note: string): Promise<void> {
    const r = await this.#pool.query('UPDATE checkpoints SET note = $1 WHERE size = $2 AND root = $3', [
      note,
      size,
      root,
    ]);
    if (r.rowCount !== 1) throw new Error(`no checkpoint of size ${size} with that root is stored`);
  }

  /** A tiny durable write that changes nothing the log reads (a meta row), as on SQLite. */
  async probeWritable(): Promise<void> {
    await this.#pool.query(
      "INSERT INTO meta (key, value) VALUES ('write_probe', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      [String(Date.now())],
    );
  }

  async close(): Promise<void> {
    try {
      await this.#seq.close();
    } finally {
      await this.#pool.end();
    }
  }
}
