/**
 * The PostgreSQL engine's elected sequencer: a lease row with a fencing token (`epoch`), the
 * integration of committed entries into hash tiles, and the fenced, compare-and-swap
 * checkpoint insert. Every write here runs in a transaction that re-reads the lease under a
 * share lock and refuses (LeaseLostError) unless this server still holds the epoch it was
 * elected with; a server paused past its lease therefore cannot write when it wakes up.
 * Its work goes through its own connections, so it never waits behind a queue of appends;
 * the lease has one of its own, so renewing it never waits behind a long integration either.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { Sha256 } from '../core/hash.js';
import type { Logger } from '../core/logger.js';
import { TileBuilder, type TileWrite } from '../core/tiles.js';
import { edgeFromTiles, edgeTiles } from './edge.js';
import {
  type CommittedTree,
  LeaseLostError,
  type SharedLogStorage,
  type StoredCheckpoint,
} from './log-storage.js';
import { openPool } from './postgres-query.js';
// The engines share the error the log maps to its start-up refusal.
import { DamagedTilesError } from './sqlite-storage.js';

/**
 * Most leaves integrated in one transaction: a long backlog goes in several short ones (each
 * holds the integration row only while its tiles are written).
 */
const INTEGRATE_CHUNK = 8_192;

const tileKey = (level: number, index: number): number => index * 64 + level;

/**
 * The integrated tree as stored: the integration row's size (capped by the entries present,
 * so a database that lost entries shows it) and its right edge from the tiles.
 */
async function loadIntegrated(q: pg.Pool, sha: Sha256): Promise<{ row: number; builder: TileBuilder }> {
  const r = (
    await q.query(
      'SELECT i.size, (SELECT max(idx) FROM entries) AS max_idx FROM integration i WHERE i.id = 1',
    )
  ).rows[0] as { size: number; max_idx: number | null };
  const size = Math.min(r.size, r.max_idx === null ? 0 : r.max_idx + 1);
  const keys = edgeTiles(size)
    .filter((t) => t.width > 0)
    .map((t) => tileKey(t.level, t.index));
  const rows = (await q.query('SELECT tile_key, data FROM tiles WHERE tile_key = ANY($1::bigint[])', [keys]))
    .rows as { tile_key: number; data: Buffer }[];
  const tiles = new Map(rows.map((t) => [t.tile_key, t.data]));
  try {
    const edge = edgeFromTiles(size, (level, index) => tiles.get(tileKey(level, index)));
    return { row: r.size, builder: new TileBuilder(size, edge, sha) };
  } catch (err) {
    throw new DamagedTilesError((err as Error).message);
  }
}

/** Upserts hash tiles: partial tiles grow in place, a full tile is written once with its interior. */
async function writeTiles(c: pg.PoolClient, writes: readonly TileWrite[]): Promise<void> {
  await c.query(
    `INSERT INTO tiles (tile_key, data, interior)
     SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])
     ON CONFLICT (tile_key) DO UPDATE SET data = excluded.data, interior = excluded.interior`,
    [
      writes.map((t) => tileKey(t.level, t.index)),
      writes.map((t) => t.data),
      writes.map((t) => t.interior ?? null),
    ],
  );
}

/**
 * One server's side of the election and of the sequencer's work (the engine's
 * {@link SharedLogStorage}): its lease term, the integrated tree it holds in memory, and the
 * fenced writes. Integration, checkpoint writes and reloads run one at a time; lease calls on
 * their own connection and chain.
 */
export class PgSequencer implements SharedLogStorage {
  readonly #q: pg.Pool;
  /** The lease's own connection. */
  readonly #leaseQ: pg.Pool;
  readonly #sha: Sha256;
  readonly #holder = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  #builder: TileBuilder;
  /** The integration row's size as this server last read or wrote it (the CAS's expectation). */
  #row: number;
  #epoch: number | undefined;
  #reload = false;
  #root: { size: number; root: Uint8Array } | undefined;
  /** Lease, integration and checkpoint writes run one at a time, in call order. */
  #serial: Promise<unknown> = Promise.resolve();

  private constructor(
    q: pg.Pool,
    leaseQ: pg.Pool,
    sha: Sha256,
    state: { row: number; builder: TileBuilder },
  ) {
    this.#q = q;
    this.#leaseQ = leaseQ;
    this.#sha = sha;
    this.#row = state.row;
    this.#builder = state.builder;
  }

  /** Connects its own connections (work, lease) and loads the integrated tree. */
  static async open(url: string, sha: Sha256, logger?: Logger): Promise<PgSequencer> {
    const q = openPool(url, 1, logger);
    const leaseQ = openPool(url, 1, logger);
    try {
      return new PgSequencer(q, leaseQ, sha, await loadIntegrated(q, sha));
    } catch (err) {
      await Promise.all([q.end(), leaseQ.end()]);
      throw err;
    }
  }

  /** The integrated tree (as opened, or as this server last integrated it). */
  tree(): CommittedTree {
    const b = this.#builder;
    if (this.#root?.size !== b.size) this.#root = { size: b.size, root: b.root() };
    return this.#root;
  }

  #inTurn<T>(f: () => Promise<T>): Promise<T> {
    const p = this.#serial.then(f, f);
    this.#serial = p.catch(() => undefined);
    return p;
  }

  /** Lease calls run one at a time too, on their own chain: never behind an integration. */
  #leaseTurn: Promise<unknown> = Promise.resolve();
  #inLeaseTurn<T>(f: () => Promise<T>): Promise<T> {
    const p = this.#leaseTurn.then(f, f);
    this.#leaseTurn = p.catch(() => undefined);
    return p;
  }

  lead(ttlMs: number): Promise<'elected' | 'renewed' | 'follower'> {
    return this.#inLeaseTurn(() => this.#lead(ttlMs));
  }

  async #lead(ttlMs: number): Promise<'elected' | 'renewed' | 'follower'> {
    const r = await this.#leaseQ.query(
      `UPDATE lease SET holder = $1,
         epoch = CASE WHEN holder = $1 AND epoch = $2 THEN epoch ELSE epoch + 1 END,
         expires_at = clock_timestamp() + make_interval(secs => $3::float8 / 1000)
       WHERE id = 1 AND ((holder = $1 AND epoch = $2) OR expires_at < clock_timestamp())
       RETURNING epoch`,
      [this.#holder, this.#epoch ?? -1, ttlMs],
    );
    const row = r.rows[0] as { epoch: number } | undefined;
    if (!row) {
      this.#epoch = undefined;
      return 'follower';
    }
    if (row.epoch === this.#epoch) return 'renewed';
    this.#epoch = row.epoch;
    this.#reload = true;
    return 'elected';
  }

  /**
   * A follower's view of the integrated tree, re-read from the database (the sequencer's own
   * state is authoritative and is left alone). Called when a checkpoint beyond the tree in
   * memory is seen, so the tree a reader holds always covers the newest checkpoint it read.
   */
  refresh(): Promise<void> {
    return this.#inTurn(async () => {
      if (this.#epoch !== undefined) return;
      const state = await loadIntegrated(this.#q, this.#sha);
      this.#row = state.row;
      this.#builder = state.builder;
    });
  }

  resign(): Promise<void> {
    return this.#inLeaseTurn(() => this.#resign());
  }

  get leading(): boolean {
    return this.#epoch !== undefined;
  }

  async #resign(): Promise<void> {
    const epoch = this.#epoch;
    this.#epoch = undefined;
    if (epoch === undefined) return;
    await this.#leaseQ.query(
      "UPDATE lease SET expires_at = '-infinity' WHERE id = 1 AND holder = $1 AND epoch = $2",
      [this.#holder, epoch],
    );
  }

  integrate(): Promise<CommittedTree> {
    return this.#inTurn(() => this.#integrate());
  }

  async #integrate(): Promise<CommittedTree> {
    if (this.#epoch === undefined) throw new LeaseLostError('this server is not the sequencer');
    if (this.#reload) {
      const state = await loadIntegrated(this.#q, this.#sha);
      this.#row = state.row;
      this.#builder = state.builder;
      this.#reload = false;
    }
    const head = (await this.#q.query('SELECT next_idx FROM tree_head WHERE id = 1')).rows[0] as {
      next_idx: number;
    };
    while (this.#builder.size < head.next_idx) {
      await this.#integrateChunk(Math.min(head.next_idx, this.#builder.size + INTEGRATE_CHUNK));
    }
    return this.tree();
  }

  /** Integrates the leaves up to `to` in one fenced transaction; memory follows only on commit. */
  async #integrateChunk(to: number): Promise<void> {
    const from = this.#builder.size;
    const rows = (
      await this.#q.query('SELECT leaf FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx', [from, to])
    ).rows as { leaf: Buffer }[];
    if (rows.length !== to - from) throw new Error(`entries ${from}..${to} are missing while integrating`);
    const next = new TileBuilder(from, this.#builder.edge(), this.#sha);
    const writes = next.append(rows.map((r) => r.leaf));
    await this.#fenced(async (c) => {
      await writeTiles(c, writes);
      await c.query('UPDATE integration SET size = $1 WHERE id = 1', [to]);
    });
    this.#builder = next;
    this.#row = to;
  }

  /**
   * Runs `write` in a transaction that holds the integration row and a share lock on the
   * lease, after checking this server still holds its epoch and the integration row is where
   * it left it. Otherwise rolls back, steps down and throws LeaseLostError.
   */
  async #fenced<T>(write: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const epoch = this.#epoch;
    if (epoch === undefined) throw new LeaseLostError('this server is not the sequencer');
    const c = await this.#q.connect();
    try {
      await c.query('BEGIN');
      const r = (
        await c.query(
          `SELECT i.size, l.epoch FROM integration i, lease l WHERE i.id = 1 AND l.id = 1
           FOR UPDATE OF i FOR SHARE OF l`,
        )
      ).rows[0] as { size: number; epoch: number };
      if (r.epoch !== epoch || r.size !== this.#row) {
        // Another term wrote in between: a lost lease is final; a lease re-taken since (the
        // epoch matches, the row moved) only needs the state reloaded before the next try.
        if (r.epoch !== epoch) this.#epoch = undefined;
        else this.#reload = true;
        throw new LeaseLostError(
          `the sequencer lease moved on (epoch ${r.epoch}, ours ${epoch}; integrated ${r.size}, ours ${this.#row})`,
        );
      }
      const out = await write(c);
      await c.query('COMMIT');
      c.release();
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      c.release();
      throw err;
    }
  }

  /**
   * Stores a checkpoint, fenced by the lease, as a compare-and-swap: only if the newest stored
   * checkpoint is still `prevSize` (what this server read or wrote last) and the tiles are
   * integrated up to its size. Two sequencers can therefore never store two checkpoints
   * after the same one, and the size's primary key forbids a second root for a size.
   */
  insertCheckpoint(cp: StoredCheckpoint, prevSize: number | undefined): Promise<void> {
    return this.#inTurn(() => this.#insertCheckpoint(cp, prevSize));
  }

  async #insertCheckpoint(cp: StoredCheckpoint, prevSize: number | undefined): Promise<void> {
    await this.#fenced(async (c) => {
      const m = (await c.query('SELECT max(size) AS m FROM checkpoints')).rows[0] as { m: number | null };
      if ((m.m ?? undefined) !== prevSize) {
        throw new LeaseLostError(
          `the newest checkpoint is ${m.m}, not ${prevSize}: another sequencer signed`,
        );
      }
      if (cp.size > this.#row)
        throw new Error(`checkpoint ${cp.size} is beyond the integrated size ${this.#row}`);
      await c.query('INSERT INTO checkpoints (size, root, note, signed_at) VALUES ($1, $2, $3, $4)', [
        cp.size,
        cp.root,
        cp.note,
        cp.signedAt,
      ]);
    });
  }

  async close(): Promise<void> {
    try {
      await this.resign();
    } catch {
      // The lease expires by itself.
    }
    await Promise.all([this.#q.end(), this.#leaseQ.end()]);
  }
}
