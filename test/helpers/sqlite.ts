/**
 * A SQLite log database as tests read it directly (src/store/bundle-blobs.ts and
 * src/store/blob-file.ts layouts), and the layout of the schema before the blob file.
 */
import { closeSync, existsSync, openSync, readSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { listedIndexPairs } from '../../src/store/lookup-index.js';

/**
 * How many entries the database stores: rows of the partial bundle (and of a log from before
 * bundle blobs) plus 256 per full bundle, as a blob row or a place in the blob file. Equals
 * the tree size when nothing is stored twice or lost.
 */
/**
 * Leaf indices with other than their two pairs (id key, leaf-hash key) in the listed lookup
 * runs: empty when no leaf is indexed twice or missing.
 */
export function leavesWithoutTwoPairs(db: Database.Database): number[] {
  const n = new Map<number, number>();
  for (const p of listedIndexPairs(db)) n.set(p.idx, (n.get(p.idx) ?? 0) + 1);
  return [...n].filter(([, c]) => c !== 2).map(([idx]) => idx);
}

export const STORED_ENTRIES_SQL =
  'SELECT (SELECT count(*) FROM entries) + 256 * ((SELECT count(*) FROM entry_bundles) + (SELECT count(*) FROM bundle_places))';

/** The bytes of a place in the blob file of the database at `dbPath`. */
export function readPlace(dbPath: string, place: { off: number; len: number }): Buffer {
  const fd = openSync(`${dbPath}-blobs`, 'r');
  try {
    const out = Buffer.alloc(place.len);
    if (readSync(fd, out, 0, place.len, place.off) !== place.len) throw new Error('short blob file');
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Every full bundle's stored blob, by bundle index: rows of entry_bundles and places in the blob file. */
export function storedBundleBlobs(dbPath: string): Map<number, Buffer> {
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = db.prepare('SELECT idx, data FROM entry_bundles').all() as { idx: number; data: Buffer }[];
    // A log of the schema before the blob file has no places.
    const hasPlaces = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'bundle_places'").get();
    const places = (hasPlaces ? db.prepare('SELECT idx, off, len FROM bundle_places').all() : []) as {
      idx: number;
      off: number;
      len: number;
    }[];
    const all: [number, Buffer][] = [
      ...rows.map((r): [number, Buffer] => [r.idx, r.data]),
      ...places.map((p): [number, Buffer] => [p.idx, readPlace(dbPath, p)]),
    ];
    return new Map(all.sort((a, b) => a[0] - b[0]));
  } finally {
    db.close();
  }
}

/**
 * Rewrites a log written by this build as the schema before the blob file left logs
 * (BLOB_FILE_MIGRATION's predecessor): every full tile and bundle back as a row, the places
 * and the file gone, user_version one lower. What a log written by the previous release is.
 */
export function toSchemaBeforeBlobFile(dbPath: string): void {
  const db = new Database(dbPath);
  try {
    const tiles = db.prepare('SELECT tile_key, off, len FROM tile_places').all() as {
      tile_key: number;
      off: number;
      len: number;
    }[];
    const putTile = db.prepare('INSERT INTO tiles (tile_key, data, interior) VALUES (?, ?, ?)');
    const bundles = db.prepare('SELECT idx, off, len FROM bundle_places').all() as {
      idx: number;
      off: number;
      len: number;
    }[];
    const putBundle = db.prepare('INSERT INTO entry_bundles (idx, data) VALUES (?, ?)');
    db.transaction(() => {
      for (const t of tiles) {
        const both = readPlace(dbPath, t);
        putTile.run(t.tile_key, both.subarray(0, 8192), both.subarray(8192));
      }
      for (const b of bundles) putBundle.run(b.idx, readPlace(dbPath, b));
      db.exec('DROP TABLE tile_places; DROP TABLE bundle_places; DROP TABLE blob_file;');
      db.pragma('user_version = 10'); // schema 10: before migration 11 (BLOB_FILE_MIGRATION)
    })();
  } finally {
    db.close();
  }
  if (existsSync(`${dbPath}-blobs`)) rmSync(`${dbPath}-blobs`);
}
