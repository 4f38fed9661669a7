/**
 * The witness pusher's state on the PostgreSQL engine: the same `witness_state` and
 * `cosignatures` tables as SQLite's (PostgreSQL migration 3), in the database every server
 * shares. The pusher runs on the elected sequencer only; when the lease moves, the new
 * sequencer reads here what each witness last cosigned (so its first push carries the right
 * old size and consistency proof), and followers read here which checkpoint met the quorum.
 */

import type { Queryable } from './postgres-query.js';
import type { CosignedCheckpoint, StoredCosignatureLine, WitnessPushState } from './witness-push-state.js';

/** {@link WitnessPushState} on a PostgreSQL pool (or any {@link Queryable}). */
export class PgWitnessPushState implements WitnessPushState {
  readonly #q: Queryable;

  constructor(q: Queryable) {
    this.#q = q;
  }

  async loadWitnessSizes(): Promise<Map<string, number>> {
    const r = await this.#q.query('SELECT witness, size FROM witness_state');
    return new Map((r.rows as { witness: string; size: number }[]).map((x) => [x.witness, x.size]));
  }

  /**
   * Records the witness's size. A witness's cosigned size only grows, so a late write by a
   * server that lost the lease (an older size) never moves it back.
   */
  async setWitnessSize(witness: string, url: string, size: number, updatedAt: number): Promise<void> {
    await this.#q.query(
      `INSERT INTO witness_state (witness, url, size, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (witness) DO UPDATE SET url = excluded.url, size = excluded.size, updated_at = excluded.updated_at
       WHERE witness_state.size <= excluded.size OR witness_state.url <> excluded.url`,
      [witness, url, size, updatedAt],
    );
  }

  async saveCosignature(size: number, witness: string, line: string, timestamp: bigint): Promise<void> {
    await this.#q.query(
      'INSERT INTO cosignatures (size, witness, line, timestamp) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [size, witness, line, timestamp.toString()],
    );
  }

  /** One query: the newest cosigned sizes having a stored checkpoint, with their lines. */
  async loadCosignedCheckpoints(limit: number): Promise<CosignedCheckpoint[]> {
    const r = await this.#q.query(
      `WITH s AS (SELECT DISTINCT size FROM cosignatures ORDER BY size DESC LIMIT $1)
       SELECT k.size, k.note, c.witness, c.line
       FROM s JOIN checkpoints k ON k.size = s.size JOIN cosignatures c ON c.size = s.size
       ORDER BY k.size DESC, c.witness COLLATE "C", c.line COLLATE "C"`,
      [limit],
    );
    const out: CosignedCheckpoint[] = [];
    for (const row of r.rows as ({ size: number; note: string } & StoredCosignatureLine)[]) {
      let last = out.at(-1);
      if (last?.size !== row.size) {
        last = { size: row.size, note: row.note, cosignatures: [] };
        out.push(last);
      }
      last.cosignatures.push({ witness: row.witness, line: row.line });
    }
    return out;
  }
}
