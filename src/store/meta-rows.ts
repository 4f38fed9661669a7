/**
 * A commit's private search metadata (`leaf_meta` and `leaf_revisions` rows, SQLite), gathered
 * while the commit runs and inserted many rows per statement at its end. Why: one statement
 * per row costs the writer thread a JS-to-SQLite round trip each (~13 % of its time under full
 * ingest, measured); 64 rows per statement pay it once. Readers inside the same transaction
 * (dedup of a withheld id reads `leaf_meta.source`, an erasure deletes rows) call
 * {@link MetaRows.flush} first, so nothing reads or deletes around a buffered row.
 */
import type { Db } from './db.js';
import type { LeafMeta } from './log-storage.js';

const META_ROWS = 64;
const REVISION_ROWS = 128;
const META_SQL = 'INSERT INTO leaf_meta (idx, kind, source, recv_ms, ts_ms, path, result) VALUES ';
const REVISION_SQL = 'INSERT OR IGNORE INTO leaf_revisions (revision, idx) VALUES ';

type Statement = ReturnType<Db['prepare']>;

/** Buffered leaf_meta / leaf_revisions rows of one commit. */
export class MetaRows {
  readonly #db: Db;
  readonly #statements = new Map<string, Statement>();
  #meta: (string | number | null)[] = [];
  #revisions: (string | number)[] = [];

  constructor(db: Db) {
    this.#db = db;
  }

  /** Buffers leaf `index`'s metadata row and its revision rows. */
  add(index: number, m: LeafMeta): void {
    this.#meta.push(index, m.kind, m.source, m.recvMs, m.tsMs, m.path, m.result);
    for (const r of m.revisions) this.#revisions.push(r, index);
    if (this.#meta.length >= META_ROWS * 7) this.#insert(META_SQL, 7, META_ROWS, this.#meta);
    if (this.#revisions.length >= REVISION_ROWS * 2)
      this.#insert(REVISION_SQL, 2, REVISION_ROWS, this.#revisions);
  }

  /** Inserts every buffered row (inside the caller's transaction). */
  flush(): void {
    this.#insert(META_SQL, 7, META_ROWS, this.#meta);
    this.#insert(REVISION_SQL, 2, REVISION_ROWS, this.#revisions);
  }

  /** Drops the buffered rows (the transaction rolled back). */
  discard(): void {
    this.#meta = [];
    this.#revisions = [];
  }

  /** Inserts `args` (`width` values a row) by statements of up to `rows` rows; empties it. */
  #insert(sql: string, width: number, rows: number, args: (string | number | null)[]): void {
    for (let at = 0; at < args.length; ) {
      const n = Math.min(rows, (args.length - at) / width);
      this.#statement(sql, width, n).run(args.slice(at, at + n * width));
      at += n * width;
    }
    args.length = 0;
  }

  /** The prepared statement inserting `n` rows of `width` values (kept per size). */
  #statement(sql: string, width: number, n: number): Statement {
    const key = `${sql}${n}`;
    let st = this.#statements.get(key);
    if (!st) {
      const row = `(${new Array(width).fill('?').join(', ')})`;
      st = this.#db.prepare(sql + new Array(n).fill(row).join(', '));
      this.#statements.set(key, st);
    }
    return st;
  }
}
