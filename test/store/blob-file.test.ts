/**
 * Full tiles and bundles in the blob file (src/store/blob-file.ts, spec/storage.md "Blob
 * file"): the commit that completes them appends them and records their places; partial ones
 * stay rows; what the file serves is what the entries hash to; bytes past the recorded end (a
 * crash between fdatasync and commit, or a failed transaction) are cut off or written over; a
 * lost or cut file is refused at open; a log of the schema before the file keeps its rows and
 * puts what it completes next in the file. With and without the writer thread.
 */
import { appendFileSync, statSync, truncateSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';
import { encodeEntryBundle } from '../../src/core/bundle.js';
import { leafHash } from '../../src/core/merkle.js';
import { TILE_WIDTH, tileInterior } from '../../src/core/tiles.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { nodeSha256 } from '../../src/log/log.js';
import { numberedEvents as events, openTestLog, tempDir } from '../helpers/log.js';
import { storedBundleBlobs, toSchemaBeforeBlobFile } from '../helpers/sqlite.js';

const logs: TransparencyLog[] = [];
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close();
});
const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

function sql<T>(path: string, statement: string): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(statement).all() as T[];
  } finally {
    db.close();
  }
}
/** Bytes the places cover: the file holds them and nothing else (no stray or doubled blob). */
const placedBytes = (path: string) =>
  sql<{ n: number }>(
    path,
    'SELECT (SELECT coalesce(sum(len), 0) FROM tile_places) + (SELECT coalesce(sum(len), 0) FROM bundle_places) AS n',
  )[0]!.n;
const recordedEnd = (path: string) => sql<{ end: number }>(path, 'SELECT end FROM blob_file')[0]!.end;
const tileKeys = (path: string, table: 'tiles' | 'tile_places') =>
  sql<{ k: number }>(path, `SELECT tile_key AS k FROM ${table} ORDER BY tile_key`).map((r) => r.k);

/** Checks every full tile and bundle below `size` against the entries themselves. */
async function expectServedFromEntries(log: TransparencyLog, size: number): Promise<void> {
  const entries = await log.storage.entries(0, size);
  const leaves = entries.map((e) => leafHash(e, nodeSha256));
  for (let t = 0; (t + 1) * TILE_WIDTH <= size; t++) {
    const row = leaves.slice(t * TILE_WIDTH, (t + 1) * TILE_WIDTH);
    const stored = await log.storage.tile(0, t);
    expect(hex(stored?.data), `tile 0/${t}`).toBe(hex(Buffer.concat(row)));
    expect(hex(stored?.interior), `interior of 0/${t}`).toBe(hex(tileInterior(row, nodeSha256)));
    expect(hex(await log.hashTile(0, t, TILE_WIDTH))).toBe(hex(Buffer.concat(row)));
    const bundle = entries.slice(t * TILE_WIDTH, (t + 1) * TILE_WIDTH);
    expect(hex(await log.entryBundle(t, TILE_WIDTH)), `bundle ${t}`).toBe(hex(encodeEntryBundle(bundle)));
  }
}

describe.each([false, true])('blob file (writer thread: %s)', (writerThread) => {
  async function open(path: string): Promise<TransparencyLog> {
    const log = await openTestLog(path, { writerThread });
    logs.push(log);
    return log;
  }
  /** A closed log of `n` leaves in a fresh folder (signed if `sign`); returns its path. */
  async function closedLog(n: number, sign: boolean): Promise<string> {
    const path = `${tempDir()}/log.db`;
    const log = await open(path);
    await log.appendEvents(events(0, n));
    if (sign) await log.signNow();
    await log.close();
    logs.length = 0;
    return path;
  }
  async function reopen(log: TransparencyLog, path: string): Promise<TransparencyLog> {
    await log.close();
    logs.splice(logs.indexOf(log), 1);
    return open(path);
  }

  test('full tiles and bundles go to the file when completed; partial ones stay rows', async () => {
    const path = `${tempDir()}/log.db`;
    const log = await open(path);
    await log.appendEvents(events(0, 200));
    expect(tileKeys(path, 'tile_places')).toEqual([]);
    expect(recordedEnd(path)).toBe(0);
    await log.appendEvents(events(200, 400)); // completes tile 0 and bundle 0 across batches, then tile 1
    expect(tileKeys(path, 'tile_places')).toEqual([0, 64]);
    // The rows left: the partial level-0 tile 2 and the partial level-1 tile 0.
    expect(tileKeys(path, 'tiles')).toEqual([1, 128]);
    expect([...storedBundleBlobs(path).keys()]).toEqual([0, 1]);
    expect(sql(path, 'SELECT idx FROM entry_bundles')).toEqual([]);
    expect(statSync(`${path}-blobs`).size).toBe(recordedEnd(path));
    expect(placedBytes(path)).toBe(recordedEnd(path));
    expect(statSync(`${path}-blobs`).mode & 0o777).toBe(0o600);
    await log.signNow();
    await expectServedFromEntries(log, 600);
  });

  test('a tile and a bundle read while partial are served in full once a commit completes them', async () => {
    const path = `${tempDir()}/log.db`;
    const log = await open(path);
    await log.appendEvents(events(0, 200));
    await log.signNow();
    // Reads the places of tiles and bundles 0-63 (none yet) and the partial rows.
    expect((await log.storage.tile(0, 0))?.data.length).toBe(200 * 32);
    expect(await log.storage.fullBundleStored?.(0)).toBeUndefined();
    expect((await log.hashTile(0, 0, 200))?.length).toBe(200 * 32);
    await log.appendEvents(events(200, 100));
    await log.signNow();
    expect(tileKeys(path, 'tile_places')).toEqual([0]);
    await expectServedFromEntries(log, 300);
  });

  test('bytes past the recorded end are cut off at open; appends go on from there', async () => {
    const path = await closedLog(300, true);
    const end = recordedEnd(path);
    // A crash between the file's fdatasync and the commit leaves bytes no place points to.
    appendFileSync(`${path}-blobs`, Buffer.alloc(20_000, 0xee));
    let log = await open(path);
    await log.appendEvents(events(300, 300));
    await log.signNow();
    // Appended from the recorded end: the stray bytes are gone, not kept before the new ones.
    expect(recordedEnd(path)).toBeGreaterThan(end);
    expect(statSync(`${path}-blobs`).size).toBe(recordedEnd(path));
    expect(placedBytes(path)).toBe(recordedEnd(path));
    await expectServedFromEntries(log, 600);
    log = await reopen(log, path); // the fork guard checks the stored tiles against the signed root
    await expectServedFromEntries(log, 600);
  });

  test('a failed commit leaves the file as recorded; the retry writes over its bytes', async () => {
    const path = await closedLog(200, false);
    // Make the next commit fail after it appended bundle 0's bytes (at its place's insert).
    const db = new Database(path);
    db.exec(`CREATE TRIGGER fail_place BEFORE INSERT ON bundle_places
             BEGIN SELECT RAISE(ABORT, 'disk trouble'); END`);
    db.close();
    const log = await open(path);
    await expect(log.appendEvents(events(200, 100))).rejects.toThrow();
    expect(recordedEnd(path)).toBe(0);
    expect(log.committedSize).toBe(200);
    const db2 = new Database(path);
    db2.exec('DROP TRIGGER fail_place');
    db2.close();
    await log.appendEvents(events(200, 100));
    await log.signNow();
    expect(statSync(`${path}-blobs`).size).toBe(recordedEnd(path));
    expect(placedBytes(path)).toBe(recordedEnd(path));
    await expectServedFromEntries(log, 300);
  });

  test('a file shorter than the database recorded is refused at open', async () => {
    const path = await closedLog(256, false);
    truncateSync(`${path}-blobs`, recordedEnd(path) - 1);
    await expect(open(path)).rejects.toThrow(/log\.db-blobs holds \d+ bytes; the database recorded \d+/);
  });

  test('a log of the schema before the file keeps its rows and files what it completes next', async () => {
    const path = await closedLog(600, true);
    toSchemaBeforeBlobFile(path);
    let log = await open(path); // migrates; the fork guard passes on the rows
    expect(tileKeys(path, 'tile_places')).toEqual([]);
    await expectServedFromEntries(log, 600);
    await log.appendEvents(events(600, 200)); // completes tile 2 and bundle 2
    await log.signNow();
    expect(tileKeys(path, 'tile_places')).toEqual([128]);
    expect(tileKeys(path, 'tiles')).toEqual([0, 1, 64, 192]);
    await expectServedFromEntries(log, 800);
    log = await reopen(log, path);
    await expectServedFromEntries(log, 800);
  });
});
