/**
 * Full entry bundles as blobs (src/store/bundle-blobs.ts, spec/storage.md "Entry bundle
 * blobs"): the commit that fills a bundle stores one gzip member of exactly its tlog-tiles
 * bytes, whether it fills in one batch, across batches, or several bundles at once; partial
 * bundles get none; the log serves the blob; a log whose full bundles have no blob (written
 * before the table existed) serves them assembled, byte for byte the same, and one whose blobs
 * are raw (written before BUNDLE_ENCODING_MIGRATION) serves them and their entries as before.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';
import { decodeEntryBundle, encodeEntryBundle } from '../../src/core/bundle.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { numberedEvents as events, openTestLog, tempDir } from '../helpers/log.js';
import { storedBundleBlobs, toSchemaBeforeBlobFile } from '../helpers/sqlite.js';

const logs: TransparencyLog[] = [];
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close();
});
async function open(path: string): Promise<TransparencyLog> {
  const log = await openTestLog(path);
  logs.push(log);
  return log;
}

interface Blob {
  data: Buffer;
  /** The stored form the schema gives the row: gzip from entry_bundle_encoding.gzip_from on. */
  gzip: boolean;
}

function storedBlobs(path: string): Map<number, Blob> {
  const db = new Database(path, { readonly: true });
  let from: number;
  try {
    from = db.prepare('SELECT gzip_from FROM entry_bundle_encoding').pluck().get() as number;
  } finally {
    db.close();
  }
  return new Map([...storedBundleBlobs(path)].map(([idx, data]) => [idx, { data, gzip: idx >= from }]));
}

/** The raw bundle bytes of every blob (inflated when stored as gzip). */
function blobs(path: string): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const [b, { data, gzip }] of storedBlobs(path)) out.set(b, gzip ? gunzipSync(data) : data);
  return out;
}

/** Sets the database back to the schema before BUNDLE_ENCODING_MIGRATION: every blob raw. */
function rawBlobsBeforeEncoding(path: string): void {
  toSchemaBeforeBlobFile(path);
  const raw = blobs(path);
  const db = new Database(path);
  const update = db.prepare('UPDATE entry_bundles SET data = ? WHERE idx = ?');
  for (const [b, data] of raw) update.run(data, b);
  db.exec('DROP TABLE entry_bundle_encoding');
  db.pragma('user_version = 9'); // schema 9: before migration 10 (BUNDLE_ENCODING_MIGRATION)
  db.close();
}

const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

describe('entry bundle blobs', () => {
  test('written by the commit that fills a bundle, exactly the bundle bytes; partial ones not', async () => {
    const path = `${tempDir()}/log.db`;
    const log = await open(path);
    await log.appendEvents(events(0, 200));
    expect(blobs(path).size).toBe(0);
    await log.appendEvents(events(200, 100)); // fills bundle 0 across two batches
    expect([...blobs(path).keys()]).toEqual([0]);
    await log.appendEvents(events(300, 600)); // fills bundles 1 and 2 in one batch, 3 stays partial
    expect([...blobs(path).keys()]).toEqual([0, 1, 2]);
    await log.signNow();
    const stored = storedBlobs(path);
    for (const [b, data] of blobs(path)) {
      const entries = await log.storage.entries(b * 256, b * 256 + 256);
      expect(hex(data)).toBe(hex(encodeEntryBundle(entries)));
      expect(hex(await log.entryBundle(b, 256))).toBe(hex(data));
      // Stored as one gzip member of exactly those bytes, at level 1: the bytes tiles.ts used
      // to compress on demand, so a client's cached gzip ETag stays valid.
      const { data: member, gzip } = stored.get(b)!;
      expect(gzip).toBe(true);
      expect(member.subarray(0, 3).toString('hex')).toBe('1f8b08');
      expect(hex(member)).toBe(hex(gzipSync(data, { level: 1 })));
      const served = await log.entryBundleStored(b, 256);
      expect(served?.gzip).toBe(true);
      expect(hex(served?.bytes)).toBe(hex(member));
    }
    expect((await log.entryBundleStored(3, 132))?.gzip).toBe(false);
    expect((await log.entryBundle(3, 132))?.length).toBeGreaterThan(0);
    expect(await log.entryBundle(3, 256)).toBeUndefined();
  });

  test('a log from the schema before blobs migrates and serves its full bundles assembled; a stored blob is served as is', async () => {
    const path = `${tempDir()}/log.db`;
    let log = await open(path);
    await log.appendEvents(events(0, 512));
    await log.signNow();
    const served = [hex(await log.entryBundle(0, 256)), hex(await log.entryBundle(1, 256))];
    await log.close();
    logs.length = 0;
    // The database as the schema before this table left it (every entry a row of entries,
    // no blobs), then migrated by the next open: bundles 0 and 1 have no blob.
    toSchemaBeforeBlobFile(path);
    const db = new Database(path);
    const insert = db.prepare('INSERT INTO entries (idx, data) VALUES (?, ?)');
    for (const [b, data] of blobs(path)) {
      for (const [i, e] of decodeEntryBundle(data).entries()) insert.run(b * 256 + i, e);
    }
    db.exec('DROP TABLE entry_bundles');
    db.pragma('user_version = 6'); // schema 6: before migration 7 (entry_bundles)
    db.close();
    log = await open(path);
    expect(blobs(path).size).toBe(0);
    expect(hex(await log.entryBundle(0, 256))).toBe(served[0]);
    expect(hex(await log.entryBundle(1, 256))).toBe(served[1]);
    await log.close();
    logs.length = 0;
    // A stored blob is what the log serves (bundle 1's row marked to tell it from the entries;
    // a blob written after BUNDLE_ENCODING_MIGRATION is a gzip member).
    const db2 = new Database(path);
    db2.prepare('INSERT INTO entry_bundles (idx, data) VALUES (1, ?)').run(gzipSync('blob'));
    db2.close();
    log = await open(path);
    expect(Buffer.from((await log.entryBundle(1, 256))!).toString()).toBe('blob');
    // Appending goes on as before: the next bundle gets its blob and keeps no rows.
    await log.appendEvents(events(512, 256));
    expect([...blobs(path).keys()]).toEqual([1, 2]);
    const rows = new Database(path, { readonly: true });
    expect(rows.prepare('SELECT count(*) FROM entries WHERE idx >= 512').pluck().get()).toBe(0);
    rows.close();
    expect(served[1]).not.toBe(served[0]);
  });

  test('raw blobs written before the encoding migration are read as before; new bundles are gzip', async () => {
    const path = `${tempDir()}/log.db`;
    let log = await open(path);
    await log.appendEvents(events(0, 600));
    await log.signNow();
    const bundles = [0, 1].map(async (b) => hex(await log.entryBundle(b, 256)));
    const want = {
      bundles: await Promise.all(bundles),
      entries: (await log.storage.entries(0, 600)).map(hex),
    };
    const gzipForm = hex((await log.entryBundleStored(0, 256))?.bytes);
    await log.close();
    logs.length = 0;
    // The database as the schema before BUNDLE_ENCODING_MIGRATION left it: raw blobs.
    rawBlobsBeforeEncoding(path);
    log = await open(path);
    expect([...storedBlobs(path).values()].map((r) => r.gzip)).toEqual([false, false]);
    expect(storedBlobs(path).get(0)?.data.toString('hex')).toBe(want.bundles[0]);
    for (const b of [0, 1]) {
      expect(hex(await log.entryBundle(b, 256))).toBe(want.bundles[b]);
      const stored = await log.entryBundleStored(b, 256);
      expect(stored?.gzip).toBe(false);
      expect(hex(stored?.bytes)).toBe(want.bundles[b]);
    }
    for (let i = 0; i < 600; i++) expect(hex(await log.entry(i)), `entry ${i}`).toBe(want.entries[i]);
    expect((await log.storage.entries(0, 600)).map(hex)).toEqual(want.entries);
    // Level 1 on demand (tiles.ts) gives the bytes a stored member would have had.
    expect(hex(gzipSync((await log.entryBundle(0, 256))!, { level: 1 }))).toBe(gzipForm);
    // The next bundle filled is stored gzip; the old ones stay raw (no backfill).
    await log.appendEvents(events(600, 200));
    expect([...storedBlobs(path).values()].map((r) => r.gzip)).toEqual([false, false, true]);
    expect(storedBlobs(path).get(2)?.data.subarray(0, 3).toString('hex')).toBe('1f8b08');
    await log.signNow();
    expect(hex(await log.entryBundle(2, 256))).toBe(
      hex(encodeEntryBundle(await log.storage.entries(512, 768))),
    );
  });
});
