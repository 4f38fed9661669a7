/**
 * The witness's SQLite state (its own database, `<data>/witness.db`, used by src/witness/): one
 * row per log origin holding the latest cosigned (size, root, note), and the evidence of
 * misbehaviour it saw (requests that failed consistency, and inconsistent checkpoints learnt by
 * gossip). Its schema comes from its own migration list, run by ./migrate.ts.
 *
 * Compare-and-swap: {@link WitnessStore.exclusive} runs a function in a BEGIN IMMEDIATE
 * transaction, so reading the old size and storing the new checkpoint is atomic even across
 * processes sharing the file (within one process better-sqlite3 is synchronous anyway).
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { migrate } from './migrate.js';

/** The latest checkpoint a witness cosigned for one origin. */
export interface WitnessLogState {
  origin: string;
  size: number;
  root: Uint8Array;
  /** The log's verified signature line(s) plus our cosignature, as a signed note. */
  note: string;
  /** ms since the epoch. */
  updatedAt: number;
}

/** What kind of inconsistency a piece of evidence shows. */
export type EvidenceKind =
  /** Two log-signed checkpoints with the same size and different roots: proof of a fork. */
  | 'same_size_different_root'
  /** A consistency proof between two log-signed checkpoints did not verify. */
  | 'inconsistent_proof';

/** A recorded piece of evidence (see spec/witness.md, "Evidence"). */
export interface WitnessEvidence {
  id: number;
  origin: string;
  kind: EvidenceKind;
  /** `add-checkpoint` or `gossip <peer url>`. */
  source: string;
  /** ms since the epoch. */
  detectedAt: number;
  /** Our cosigned note at the time (undefined if we had none). */
  ours: string | undefined;
  /** The signed note that disagrees with ours. */
  theirs: string;
  /** The old size of the request, or the smaller size of the failed proof. */
  fromSize: number | undefined;
  /** The proof that failed (base64 hashes), if any. */
  proof: string[];
  /** Where the proof came from (a URL), if it was fetched. */
  proofSource: string | undefined;
  /** Human-readable explanation. */
  detail: string;
}

/** Input of {@link WitnessStore.addEvidence}. */
export type NewEvidence = Omit<WitnessEvidence, 'id' | 'detectedAt'>;

/**
 * Migrations of the witness database (see ./migrate.ts). The first one keeps IF NOT EXISTS:
 * witnesses before it created these tables themselves at every start, with this exact shape,
 * so their databases (user_version 0) migrate to version 1 without a change.
 */
const WITNESS_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE IF NOT EXISTS witness_logs (
    origin     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS witness_evidence (
    id           INTEGER PRIMARY KEY,
    digest       TEXT NOT NULL UNIQUE,
    origin       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    source       TEXT NOT NULL,
    detected_at  INTEGER NOT NULL,
    ours         TEXT,
    theirs       TEXT NOT NULL,
    from_size    INTEGER,
    proof        TEXT NOT NULL,
    proof_source TEXT,
    detail       TEXT NOT NULL
  );
  `,
];

interface LogRow {
  origin: string;
  size: number;
  root: Buffer;
  note: string;
  updated_at: number;
}

interface EvidenceRow {
  id: number;
  origin: string;
  kind: EvidenceKind;
  source: string;
  detected_at: number;
  ours: string | null;
  theirs: string;
  from_size: number | null;
  proof: string;
  proof_source: string | null;
  detail: string;
}

/** The witness database. */
export class WitnessStore {
  readonly #db: Database.Database;
  readonly #now: () => number;

  private constructor(db: Database.Database, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  /** Opens (creating if needed) the database at `path` (':memory:' for tests); WAL, fsync on commit. */
  static open(path: string, now: () => number = Date.now): WitnessStore {
    const db = new Database(path);
    db.pragma('busy_timeout = 5000');
    if (path !== ':memory:') db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    migrate(db, WITNESS_MIGRATIONS);
    return new WitnessStore(db, now);
  }

  /** Runs `fn` in a BEGIN IMMEDIATE transaction (the write lock is taken before reading). */
  exclusive<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  /** The latest cosigned checkpoint of `origin`, if any. */
  get(origin: string): WitnessLogState | undefined {
    const r = this.#db.prepare('SELECT * FROM witness_logs WHERE origin = ?').get(origin) as
      | LogRow
      | undefined;
    if (r === undefined) return undefined;
    return {
      origin: r.origin,
      size: r.size,
      root: new Uint8Array(r.root),
      note: r.note,
      updatedAt: r.updated_at,
    };
  }

  /** Stores the latest cosigned checkpoint of `origin` (call inside {@link exclusive}). */
  put(origin: string, size: number, root: Uint8Array, note: string): void {
    this.#db
      .prepare(
        'INSERT INTO witness_logs (origin, size, root, note, updated_at) VALUES (?, ?, ?, ?, ?) ' +
          'ON CONFLICT(origin) DO UPDATE SET size = excluded.size, root = excluded.root, ' +
          'note = excluded.note, updated_at = excluded.updated_at',
      )
      .run(origin, size, Buffer.from(root), note, this.#now());
  }

  /**
   * Records evidence once (the same offending note, and for failed proofs the same proof, is
   * stored once); true if it was new.
   */
  addEvidence(e: NewEvidence): boolean {
    // Identity of a piece of evidence: the offending note, plus the proof when it is the proof
    // that failed. Our own note is left out: re-cosigning refreshes its timestamp.
    const identity =
      e.kind === 'same_size_different_root'
        ? [e.origin, e.kind, e.theirs]
        : [e.origin, e.kind, e.theirs, e.fromSize ?? -1, e.proof];
    const digest = createHash('sha256').update(JSON.stringify(identity)).digest('hex');
    const info = this.#db
      .prepare(
        'INSERT OR IGNORE INTO witness_evidence (digest, origin, kind, source, detected_at, ours, theirs, ' +
          'from_size, proof, proof_source, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        digest,
        e.origin,
        e.kind,
        e.source,
        this.#now(),
        e.ours ?? null,
        e.theirs,
        e.fromSize ?? null,
        e.proof.join('\n'),
        e.proofSource ?? null,
        e.detail,
      );
    return info.changes > 0;
  }

  /** Every recorded piece of evidence, oldest first. */
  evidence(): WitnessEvidence[] {
    const rows = this.#db.prepare('SELECT * FROM witness_evidence ORDER BY id').all() as EvidenceRow[];
    return rows.map((r) => ({
      id: r.id,
      origin: r.origin,
      kind: r.kind,
      source: r.source,
      detectedAt: r.detected_at,
      ours: r.ours ?? undefined,
      theirs: r.theirs,
      fromSize: r.from_size ?? undefined,
      proof: r.proof === '' ? [] : r.proof.split('\n'),
      proofSource: r.proof_source ?? undefined,
      detail: r.detail,
    }));
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}
