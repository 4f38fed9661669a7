/**
 * The witness tables live in migrations now: databases written before that (tables created
 * with CREATE TABLE IF NOT EXISTS at every start, user_version 0 for the witness, 3 for the
 * log) must open and migrate without losing a row, and the pusher state reads them back.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { openDatabase, SCHEMA_VERSION } from '../../src/store/db.js';
import { SqliteWitnessPushState } from '../../src/store/witness-push-state.js';
import { WitnessStore } from '../../src/store/witness-store.js';
import { tempDir } from '../helpers/log.js';

// The schema the witness used to create itself (src/witness/store.ts before migrations).
const OLD_WITNESS_SCHEMA = `
CREATE TABLE IF NOT EXISTS witness_logs (
  origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS witness_evidence (
  id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE, origin TEXT NOT NULL, kind TEXT NOT NULL,
  source TEXT NOT NULL, detected_at INTEGER NOT NULL, ours TEXT, theirs TEXT NOT NULL,
  from_size INTEGER, proof TEXT NOT NULL, proof_source TEXT, detail TEXT NOT NULL);
`;

// The table the pusher used to create itself in the log database (log schema version 3).
const OLD_WITNESS_STATE = `
CREATE TABLE IF NOT EXISTS witness_state (
  witness TEXT PRIMARY KEY, url TEXT NOT NULL, size INTEGER NOT NULL, updated_at INTEGER NOT NULL)`;

describe('witness database', () => {
  test('a database from before the migrations opens with its state and evidence', () => {
    const path = join(tempDir('opa-tlog-witness-schema-'), 'witness.db');
    const old = new Database(path);
    old.exec(OLD_WITNESS_SCHEMA);
    old
      .prepare('INSERT INTO witness_logs VALUES (?, ?, ?, ?, ?)')
      .run('example.org/log', 7, Buffer.alloc(32, 1), 'note\n', 1000);
    old
      .prepare(
        "INSERT INTO witness_evidence VALUES (1, 'd', 'example.org/log', 'inconsistent_proof', 'gossip x', 5, NULL, 'theirs', 3, 'AA==', NULL, 'why')",
      )
      .run();
    old.close();

    const store = WitnessStore.open(path);
    expect(store.get('example.org/log')).toMatchObject({ size: 7, note: 'note\n', updatedAt: 1000 });
    expect(store.evidence()).toHaveLength(1);
    expect(store.evidence()[0]).toMatchObject({ kind: 'inconsistent_proof', fromSize: 3, proof: ['AA=='] });
    store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(1);
    raw.close();
  });

  test('a new database is created at the current version and reopens unchanged', () => {
    const path = join(tempDir('opa-tlog-witness-schema-'), 'witness.db');
    const store = WitnessStore.open(path);
    store.exclusive(() => store.put('example.org/log', 2, new Uint8Array(32), 'n\n'));
    store.close();
    const again = WitnessStore.open(path);
    expect(again.get('example.org/log')?.size).toBe(2);
    again.close();
  });
});

describe('log database: witness_state', () => {
  test('a version-3 database whose pusher created witness_state migrates with its rows', async () => {
    const path = join(tempDir('opa-tlog-witness-schema-'), 'log.db');
    // Make a version-3 database the way the previous build left it.
    const fresh = openDatabase(path);
    fresh.exec('DROP TABLE witness_state');
    fresh.pragma('user_version = 3');
    fresh.exec(OLD_WITNESS_STATE);
    fresh.prepare('INSERT INTO witness_state VALUES (?, ?, ?, ?)').run('w1', 'http://w1', 42, 1);
    fresh.close();

    const db = openDatabase(path);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const state = new SqliteWitnessPushState(db);
    expect(await state.loadWitnessSizes()).toEqual(new Map([['w1', 42]]));
    await state.setWitnessSize('w1', 'http://w1', 43, 2);
    await state.setWitnessSize('w2', 'http://w2', 5, 2);
    expect(await state.loadWitnessSizes()).toEqual(
      new Map([
        ['w1', 43],
        ['w2', 5],
      ]),
    );
    db.close();
  });

  test('cosigned checkpoints come back newest first, only those whose checkpoint is stored', async () => {
    const db = openDatabase(join(tempDir('opa-tlog-witness-schema-'), 'log.db'));
    const state = new SqliteWitnessPushState(db);
    const put = db.prepare('INSERT INTO checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, 0)');
    put.run(3, Buffer.alloc(32), 'three\n');
    put.run(5, Buffer.alloc(32), 'five\n');
    await state.saveCosignature(3, 'w1', '— w1 AAAA', 1n);
    await state.saveCosignature(5, 'w2', '— w2 BBBB', 2n);
    await state.saveCosignature(5, 'w1', '— w1 CCCC', 2n);
    await state.saveCosignature(5, 'w1', '— w1 CCCC', 2n); // stored once
    await state.saveCosignature(9, 'w1', '— w1 DDDD', 3n); // no checkpoint 9 stored
    expect(await state.loadCosignedCheckpoints(32)).toEqual([
      {
        size: 5,
        note: 'five\n',
        cosignatures: [
          { witness: 'w1', line: '— w1 CCCC' },
          { witness: 'w2', line: '— w2 BBBB' },
        ],
      },
      { size: 3, note: 'three\n', cosignatures: [{ witness: 'w1', line: '— w1 AAAA' }] },
    ]);
    expect(await state.loadCosignedCheckpoints(1)).toEqual([]); // the newest size, 9, has no checkpoint
    db.close();
  });
});
