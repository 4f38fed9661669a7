/**
 * Full entry bundles stored as one blob each (SQLite engine): written once, in the commit
 * transaction that fills the bundle, so `/tile/entries/<N>` is one point read instead of a
 * 256-row range scan and an encode. The blob is exactly the tlog-tiles bundle bytes
 * (core/bundle.ts). Partial bundles are still assembled from `entries`, and so are the full
 * bundles of a log written before this table existed (no backfill: they are read as before).
 */
import { encodeEntryBundle } from '../core/bundle.js';
import { TILE_WIDTH } from '../core/tiles.js';
import type { Db } from './db.js';

/**
 * The migration that adds the table (appended to db.ts's MIGRATIONS). One row per full bundle,
 * keyed by the bundle index; never updated or deleted (entries are public and never erased).
 */
export const BUNDLE_BLOBS_MIGRATION = `
  -- Full entry bundles (C2SP tlog-tiles tile/entries/<N>), exactly the bundle bytes, written in
  -- the transaction that appends their 256th entry (src/store/bundle-blobs.ts). Bundles filled
  -- before this migration have no row and are assembled from entries.
  CREATE TABLE IF NOT EXISTS entry_bundles (
    idx  INTEGER PRIMARY KEY,
    data BLOB NOT NULL
  );
  `;

/** Reads entries [lo, hi) in index order (the store's own query). */
export type EntryRangeReader = (lo: number, hi: number) => Uint8Array[];

/** The entry_bundles table: writes a bundle's blob when it fills, reads it back. */
export class BundleBlobs {
  readonly #entries: EntryRangeReader;
  readonly #insert;
  readonly #get;

  constructor(db: Db, entries: EntryRangeReader) {
    this.#entries = entries;
    this.#insert = db.prepare('INSERT INTO entry_bundles (idx, data) VALUES (?, ?)');
    this.#get = db.prepare('SELECT data FROM entry_bundles WHERE idx = ?').pluck();
  }

  /**
   * Stores the blob of every bundle the tree filled while growing from `from` to `to` leaves.
   * Call inside the transaction that appended leaves [from, to), after their entries were
   * inserted: a bundle's entries are read back (written by this transaction or earlier ones),
   * so the blob commits or rolls back with the leaf that filled it.
   */
  completed(from: number, to: number): void {
    for (let b = Math.floor(from / TILE_WIDTH); (b + 1) * TILE_WIDTH <= to; b++) {
      const entries = this.#entries(b * TILE_WIDTH, (b + 1) * TILE_WIDTH);
      if (entries.length !== TILE_WIDTH)
        throw new Error(`bundle ${b} has ${entries.length} entries, not 256`);
      this.#insert.run(b, encodeEntryBundle(entries));
    }
  }

  /** The stored bytes of full bundle `index`, or undefined (not full yet, or filled before blobs). */
  get(index: number): Uint8Array | undefined {
    return (this.#get.get(index) as Buffer | undefined) ?? undefined;
  }
}
