/**
 * Where the SQLite engine keeps what never changes once complete: full hash tiles (with their
 * interior nodes) and full entry bundles, appended to one file beside the database
 * (`<db>-blobs`) in commit order, each read back with one `pread`. The commit that completes
 * them appends their bytes, `fdatasync`s the file and then, in its transaction, records where
 * each one lies (`tile_places`, `bundle_places`: small rows in index order) and where the file
 * ends (`blob_file`). So a place is durable only after its bytes are, and a crash between the
 * two leaves bytes past the recorded end, cut off by the first append after the next open. A
 * failed transaction leaves its bytes there too; the next append writes over them.
 *
 * Why not rows: a full tile (8 KiB of hashes and 8 KiB of interior nodes) as a SQLite row is
 * a B-tree lookup plus a chain of four overflow pages, ~44 us a random read at 10M leaves;
 * from the file it is one place lookup and one `pread`, ~10 us (spec/storage.md "Blob file").
 *
 * Logs written before this file existed keep their full tiles and bundles as rows (read as
 * before, no backfill: start-up stays constant time); everything completed after the
 * migration goes to the file. An in-memory database has no file and keeps rows.
 */
import {
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import type { Db } from './db.js';

/** The migration that adds the places and the file's recorded end (in db.ts's MIGRATIONS). */
export const BLOB_FILE_MIGRATION = `
  -- Full hash tiles and full entry bundles completed from this migration on live in the
  -- append-only file <db>-blobs (src/store/blob-file.ts); these rows say where. tile_key is
  -- the tiles table's key (index * 64 + level); a place's bytes are the tile's 8,192 bytes of
  -- hashes followed by its 8,160 bytes of interior nodes. A bundle's bytes are its blob as
  -- entry_bundles would hold it (one gzip member of the tlog-tiles bundle bytes).
  CREATE TABLE IF NOT EXISTS tile_places (
    tile_key INTEGER PRIMARY KEY,
    off      INTEGER NOT NULL,
    len      INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS bundle_places (
    idx INTEGER PRIMARY KEY,
    off INTEGER NOT NULL,
    len INTEGER NOT NULL
  );
  -- Where the durable part of <db>-blobs ends: every place lies below it, and bytes past it
  -- (an append whose transaction failed, or a crash between fdatasync and commit) are cut off
  -- when the committing connection opens the file. One row.
  CREATE TABLE IF NOT EXISTS blob_file (
    one INTEGER PRIMARY KEY CHECK (one = 0),
    end INTEGER NOT NULL
  );
  INSERT OR IGNORE INTO blob_file (one, end) VALUES (0, 0);
  `;

/** A place in the blob file: `len` bytes from offset `off`. */
export interface BlobPlace {
  readonly off: number;
  readonly len: number;
}

/**
 * What a read of a row table and its places in one statement returns: the row's bytes, or
 * (data null) the place of the blob in the file.
 */
export interface RowOrPlace {
  readonly data: Buffer | null;
  readonly off: number | null;
  readonly len: number | null;
}

/**
 * The bytes a {@link RowOrPlace} read found: the row's, or (at most `len` of) the place's,
 * read from `file`. Undefined only for a place without a file (which no write makes).
 */
export function rowOrPlaceBytes(r: RowOrPlace, file: BlobFile | undefined, len?: number): Buffer | undefined {
  return (
    r.data ?? (r.off === null || r.len === null ? undefined : file?.read({ off: r.off, len: r.len }, len))
  );
}

/** The blob file is shorter than the database says it was written: a damaged or lost file. */
export class BlobFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobFileError';
  }
}

/** The blob file of a database, or undefined for one that has no file (in memory). */
export function blobFileOf(db: Db): BlobFile | undefined {
  return db.memory ? undefined : new BlobFile(db, `${db.name}-blobs`);
}

/**
 * One database's blob file: appends (the committing connection) and reads (any connection).
 * Reads open the file on first use, read-only; appends open it for writing on first use
 * ({@link openForAppend}).
 */
export class BlobFile {
  readonly path: string;
  readonly #q;
  #readFd: number | undefined;
  #writeFd: number | undefined;
  /** Where the file ends as recorded in the database (committed). */
  #recorded = 0;
  /** Where the next append goes: #recorded plus what the open transaction appended. */
  #end = 0;

  constructor(db: Db, path: string) {
    this.path = path;
    this.#q = {
      end: db.prepare('SELECT end FROM blob_file').pluck(),
      setEnd: db.prepare('UPDATE blob_file SET end = ?'),
      maxBundle: db.prepare('SELECT max(idx) FROM bundle_places').pluck(),
      insertTile: db.prepare('INSERT INTO tile_places (tile_key, off, len) VALUES (?, ?, ?)'),
      insertBundle: db.prepare('INSERT INTO bundle_places (idx, off, len) VALUES (?, ?, ?)'),
    };
  }

  /**
   * Throws {@link BlobFileError} if the file is shorter than the database recorded (lost, or
   * cut by hand): places would point past its end. At open, before anything is read.
   */
  checkLength(): void {
    const size = existsSync(this.path) ? statSync(this.path).size : 0;
    this.#shorterThanRecorded(size, this.#q.end.get() as number);
  }

  #shorterThanRecorded(size: number, recorded: number): void {
    if (size < recorded)
      throw new BlobFileError(`${this.path} holds ${size} bytes; the database recorded ${recorded}`);
  }

  /**
   * Opens the file for appending (creating it, owner-only) and cuts it to the recorded end.
   * Throws {@link BlobFileError} if it is shorter than that. Done by the first append, inside
   * its transaction, so a directory that cannot be written fails that commit (with the
   * system's code, EACCES or EROFS) and not the start of a server that can still serve reads.
   */
  openForAppend(): void {
    if (this.#writeFd !== undefined) return;
    // Read-write, created owner-only if missing; not O_APPEND, which would ignore positions.
    const fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      const recorded = this.#q.end.get() as number;
      const size = fstatSync(fd).size;
      this.#shorterThanRecorded(size, recorded);
      if (size > recorded) {
        ftruncateSync(fd, recorded);
        fdatasyncSync(fd);
      }
      this.#recorded = recorded;
      this.#end = recorded;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.#writeFd = fd;
  }

  /** Appends `parts` as one blob (inside the commit transaction); returns its place. */
  #append(parts: readonly Uint8Array[]): BlobPlace {
    if (this.#writeFd === undefined) this.openForAppend();
    const fd = this.#writeFd!;
    const off = this.#end;
    let at = off;
    for (const p of parts) {
      let done = 0;
      while (done < p.length) done += writeSync(fd, p, done, p.length - done, at + done);
      at += p.length;
    }
    this.#end = at;
    return { off, len: at - off };
  }

  /** Appends a full tile (hashes, then interior nodes) and records its place. */
  appendTile(tileKey: number, data: Uint8Array, interior: Uint8Array): void {
    const p = this.#append([data, interior]);
    this.#q.insertTile.run(tileKey, p.off, p.len);
  }

  /** Appends a full bundle's blob and records its place. */
  appendBundle(index: number, blob: Uint8Array): void {
    const p = this.#append([blob]);
    this.#q.insertBundle.run(index, p.off, p.len);
  }

  /**
   * Last step of a commit transaction that appended: makes the appended bytes durable, then
   * records the new end (in the transaction, so the places and the end commit together).
   */
  syncAppended(): void {
    if (this.#writeFd === undefined || this.#end === this.#recorded) return;
    fdatasyncSync(this.#writeFd);
    this.#q.setEnd.run(this.#end);
  }

  /** After the commit: what was appended is recorded. */
  committed(): void {
    this.#recorded = this.#end;
  }

  /** After a failed transaction: its bytes are past the recorded end, to be written over. */
  rolledBack(): void {
    this.#end = this.#recorded;
  }

  /** The highest bundle index with a place, or -1. */
  maxBundle(): number {
    return (this.#q.maxBundle.get() as number | null) ?? -1;
  }

  /** `len` bytes (at most the place's) of a place, read with one pread. */
  read(place: BlobPlace, len = place.len): Buffer {
    this.#readFd ??= openSync(this.path, 'r');
    const out = Buffer.allocUnsafe(Math.min(len, place.len));
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.#readFd, out, done, out.length - done, place.off + done);
      if (n === 0) throw new BlobFileError(`${this.path} ends inside the blob at ${place.off}`);
      done += n;
    }
    return out;
  }

  close(): void {
    for (const fd of [this.#readFd, this.#writeFd]) if (fd !== undefined) closeSync(fd);
    this.#readFd = undefined;
    this.#writeFd = undefined;
  }
}
