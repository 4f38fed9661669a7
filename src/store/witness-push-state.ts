/**
 * What the witness pusher (src/witness/pusher.ts) keeps in the log's database: every verified
 * cosignature (`cosignatures`, migration 1) and each witness's last known cosigned size
 * (`witness_state`, migration 4), so that after a restart it sends the right consistency proof
 * and re-publishes the newest checkpoint whose stored cosignatures still meet the quorum.
 *
 * {@link WitnessPushState} is the seam (async, so a network database fits behind it);
 * {@link SqliteWitnessPushState} implements it on the log's SQLite handle.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

/** One stored cosignature line of a witness (a note signature line, no trailing newline). */
export interface StoredCosignatureLine {
  /** The policy name of the witness. */
  witness: string;
  line: string;
}

/** A checkpoint the log signed, with the cosignature lines stored for its size. */
export interface CosignedCheckpoint {
  size: number;
  /** The log-signed note, as stored in `checkpoints`. */
  note: string;
  /** Every stored line for this size, ordered by witness then line. */
  cosignatures: StoredCosignatureLine[];
}

/** The pusher's persistent state (see the module comment). */
export interface WitnessPushState {
  /** Each witness's last known cosigned size, keyed by policy witness name. */
  loadWitnessSizes(): Promise<Map<string, number>>;
  /** Records that `witness` (at `url`) has cosigned size `size` (`updatedAt`: ms timestamp). */
  setWitnessSize(witness: string, url: string, size: number, updatedAt: number): Promise<void>;
  /** Stores a verified cosignature line (a line already stored for this size is kept once). */
  saveCosignature(size: number, witness: string, line: string, timestamp: bigint): Promise<void>;
  /**
   * The newest `limit` sizes having stored cosignatures, newest first, each with the log's
   * stored checkpoint note and its lines; sizes whose checkpoint is not stored are left out.
   */
  loadCosignedCheckpoints(limit: number): Promise<CosignedCheckpoint[]>;
}

/** {@link WitnessPushState} on the log's SQLite database (opened by `openDatabase`). */
export class SqliteWitnessPushState implements WitnessPushState {
  readonly #sizes: Statement<[], { witness: string; size: number }>;
  readonly #setSize: Statement<[string, string, number, number]>;
  readonly #saveLine: Statement<[number, string, string, bigint]>;
  readonly #cosignedSizes: Statement<[number], { size: number }>;
  readonly #note: Statement<[number], { note: string }>;
  readonly #lines: Statement<[number], StoredCosignatureLine>;

  constructor(db: Db) {
    this.#sizes = db.prepare('SELECT witness, size FROM witness_state');
    this.#setSize = db.prepare(
      'INSERT INTO witness_state (witness, url, size, updated_at) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT(witness) DO UPDATE SET url = excluded.url, size = excluded.size, updated_at = excluded.updated_at',
    );
    this.#saveLine = db.prepare(
      'INSERT OR IGNORE INTO cosignatures (size, witness, line, timestamp) VALUES (?, ?, ?, ?)',
    );
    this.#cosignedSizes = db.prepare('SELECT DISTINCT size FROM cosignatures ORDER BY size DESC LIMIT ?');
    this.#note = db.prepare('SELECT note FROM checkpoints WHERE size = ?');
    this.#lines = db.prepare('SELECT witness, line FROM cosignatures WHERE size = ? ORDER BY witness, line');
  }

  async loadWitnessSizes(): Promise<Map<string, number>> {
    return new Map(this.#sizes.all().map((r) => [r.witness, r.size]));
  }

  async setWitnessSize(witness: string, url: string, size: number, updatedAt: number): Promise<void> {
    this.#setSize.run(witness, url, size, updatedAt);
  }

  async saveCosignature(size: number, witness: string, line: string, timestamp: bigint): Promise<void> {
    this.#saveLine.run(size, witness, line, timestamp);
  }

  async loadCosignedCheckpoints(limit: number): Promise<CosignedCheckpoint[]> {
    const out: CosignedCheckpoint[] = [];
    for (const { size } of this.#cosignedSizes.all(limit)) {
      const row = this.#note.get(size);
      if (row !== undefined) out.push({ size, note: row.note, cosignatures: this.#lines.all(size) });
    }
    return out;
  }
}
