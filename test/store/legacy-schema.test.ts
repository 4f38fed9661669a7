/**
 * Issue 11's migration path: a log written by schema 5 (every leaf keyed in `ids` under a
 * random 52-bit key, with linear probing) opens with this build, passes the fork guard, keeps
 * `ids` as a read-only legacy run for lookups, dedups against its newest leaves, and never
 * writes `ids` again. The legacy log is made here with schema 5's SQL (migrations 1-5 only, and
 * the append path of that release), so the test does not depend on an old build.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, test, vi } from 'vitest';
import { utf8 } from '../../src/core/bytes.js';
import { signCheckpoint } from '../../src/core/checkpoint.js';
import { TileBuilder } from '../../src/core/tiles.js';
import { eventLeaf } from '../../src/log/leaf.js';
import { nodeSha256, TransparencyLog } from '../../src/log/log.js';
import { openDatabase } from '../../src/store/db.js';
import { key52 } from '../../src/store/log-store.js';
import { TEST_ORIGIN, TEST_SIGNER, tempDir, testConfig } from '../helpers/log.js';

const OLD = 600;
const ev = (id: string, n = 1) => ({ kind: 'event', source: 'opa-1', id, event: { n } });
const T0 = Date.UTC(2026, 0, 1);

/** Writes `n` events the way schema 5's appendBatch did, signs the tree, records the identity. */
function writeSchema5Log(dbPath: string, n: number): Uint8Array[] {
  const db = openDatabase(dbPath, { schemaVersion: 5 });
  const q = (sql: string) => db.prepare(sql);
  const idAt = q('SELECT idx FROM ids WHERE key = ?').pluck();
  const insertId = q('INSERT INTO ids (key, idx) VALUES (?, ?)');
  const freeSlot = (key: number) => {
    let k = key;
    while (idAt.get(k) !== undefined) k = (k + 1) % 2 ** 52;
    return k;
  };
  const builder = new TileBuilder(0, [], nodeSha256);
  const leaves: Uint8Array[] = [];
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const item = eventLeaf(ev(`old-${i}`), T0 + i, nodeSha256);
      insertId.run(freeSlot(key52(nodeSha256(utf8(item.id!)))), i);
      insertId.run(freeSlot(key52(item.leafHash!)), i);
      q('INSERT INTO entries (idx, data) VALUES (?, ?)').run(i, item.entry);
      q('INSERT INTO payloads (idx, salt, payload) VALUES (?, ?, ?)').run(i, item.salt, item.payload);
      const m = item.meta!;
      q(
        'INSERT INTO leaf_meta (idx, kind, source, recv_ms, ts_ms, path, result) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(i, m.kind, m.source, m.recvMs, m.tsMs, m.path, m.result);
      leaves.push(item.leafHash!);
    }
    for (const t of builder.append(leaves)) {
      q('INSERT INTO tiles (tile_key, data, interior) VALUES (?, ?, ?)').run(
        t.index * 64 + t.level,
        t.data,
        t.interior ?? null,
      );
    }
    const note = signCheckpoint({ origin: TEST_ORIGIN, size: n, rootHash: builder.root() }, TEST_SIGNER);
    q('INSERT INTO checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, ?)').run(
      n,
      builder.root(),
      note,
      T0,
    );
    for (const [k, v] of [
      ['origin', TEST_ORIGIN],
      ['vkey', TEST_SIGNER.vkey],
    ])
      q('INSERT INTO meta (key, value) VALUES (?, ?)').run(k, v);
  })();
  db.close();
  return leaves;
}

function count(dbPath: string, sql: string): number {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('a log written by schema 5', () => {
  test('opens, passes the fork guard, looks up old and new leaves and dedups; ids is never written', async () => {
    const dbPath = join(tempDir(), 'log.db');
    const leaves = writeSchema5Log(dbPath, OLD);
    const idsBefore = count(dbPath, 'SELECT count(*) FROM ids');
    expect(idsBefore).toBe(2 * OLD);
    const log = await TransparencyLog.open(testConfig(dbPath, { now: () => T0 + 60_000 }));
    try {
      await log.start();
      expect(await log.findById('opa-1', 'old-0')).toBe(0);
      expect(await log.findById('opa-1', 'old-599')).toBe(599);
      expect(await log.findByIdAnySource('old-17')).toEqual([17]);
      expect(await log.findLeaf(leaves[123]!, OLD)).toBe(123);
      expect(await log.findById('opa-1', 'never')).toBeUndefined();
      // Resends of old leaves: the window was rebuilt from the legacy tail.
      expect(await log.appendEvents([ev('old-599'), ev('old-3')])).toEqual([
        { index: 599, duplicate: true },
        { index: 3, duplicate: true },
      ]);
      const [fresh] = await log.appendEvents([ev('new-1')]);
      expect(fresh).toEqual({ index: OLD, duplicate: false });
      expect(await log.findById('opa-1', 'new-1')).toBe(OLD);
      expect(await log.appendEvents([ev('new-1')])).toEqual([{ index: OLD, duplicate: true }]);
      expect(count(dbPath, 'SELECT count(*) FROM ids')).toBe(idsBefore);
      expect(count(dbPath, 'SELECT indexed_to FROM lookup_cursor')).toBeGreaterThanOrEqual(OLD);
    } finally {
      await log.close();
    }
  });

  test('a resend of a legacy leaf beyond the window is flagged against the legacy ids', async () => {
    const dbPath = join(tempDir(), 'log.db');
    writeSchema5Log(dbPath, OLD);
    const log = await TransparencyLog.open(
      testConfig(dbPath, { dedupWindowEntries: 100, now: () => T0 + 60_000 }),
    );
    try {
      await log.start();
      expect(await log.appendEvents([ev('old-550')])).toEqual([{ index: 550, duplicate: true }]);
      const [late] = await log.appendEvents([ev('old-3')]);
      expect(late).toEqual({ index: OLD, duplicate: false });
      await vi.waitFor(() => expect(count(dbPath, 'SELECT count(*) FROM late_duplicates')).toBe(1), {
        timeout: 5000,
      });
      expect(count(dbPath, 'SELECT first_idx FROM late_duplicates')).toBe(3);
      expect(await log.findAllById('opa-1', 'old-3')).toEqual([3]);
    } finally {
      await log.close();
    }
  });
});
