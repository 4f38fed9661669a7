/**
 * Full entry bundles as blobs (src/store/bundle-blobs.ts, spec/storage.md "Entry bundle
 * blobs"): the commit that fills a bundle stores exactly its tlog-tiles bytes, whether it
 * fills in one batch, across batches, or several bundles at once; partial bundles get none; the
 * log serves the blob; a log whose full bundles have no blob (written before the table
 * existed) serves them assembled, byte for byte the same.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';
import { decodeEntryBundle, encodeEntryBundle } from '../../src/core/bundle.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { openTestLog, tempDir } from '../helpers/log.js';

const logs: TransparencyLog[] = [];
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close();
});
async function open(path: string): Promise<TransparencyLog> {
  const log = await openTestLog(path);
  logs.push(log);
  return log;
}
const events = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    kind: 'event',
    source: 's',
    id: `e${from + i}`,
    event: { i: from + i },
  }));

function blobs(path: string): Map<number, Buffer> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT idx, data FROM entry_bundles ORDER BY idx').all() as {
      idx: number;
      data: Buffer;
    }[];
    return new Map(rows.map((r) => [r.idx, r.data]));
  } finally {
    db.close();
  }
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
    for (const [b, data] of blobs(path)) {
      const entries = await log.storage.entries(b * 256, b * 256 + 256);
      expect(hex(data)).toBe(hex(encodeEntryBundle(entries)));
      expect(hex(await log.entryBundle(b, 256))).toBe(hex(data));
    }
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
    // A stored blob is what the log serves (bundle 1's row marked to tell it from the entries).
    const db2 = new Database(path);
    db2.prepare('INSERT INTO entry_bundles (idx, data) VALUES (1, ?)').run(Buffer.from('blob'));
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
});
