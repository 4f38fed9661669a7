/**
 * The insert half of the ingest floor (floor.ts): opens an index-free SQLite table (WAL,
 * synchronous=FULL), says it is ready, waits for "go", inserts every decision's JSON bytes as
 * one row in transactions of `txRows` rows, and answers with the milliseconds it took.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { FloorWorkerData } from './floor.js';

const data = workerData as FloorWorkerData;
const db = new Database(data.dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE d (j BLOB NOT NULL)');
const insert = db.prepare('INSERT INTO d (j) VALUES (?)');
const commit = db.transaction((rows: Uint8Array[]) => {
  for (const r of rows) insert.run(r);
});

parentPort!.once('message', () => {
  const start = performance.now();
  let pending: Uint8Array[] = [];
  for (const body of data.rows) {
    let from = 0;
    for (const end of body.ends) {
      pending.push(body.bytes.subarray(from, end));
      from = end;
      if (pending.length >= data.txRows) {
        commit(pending);
        pending = [];
      }
    }
  }
  if (pending.length > 0) commit(pending);
  const ms = performance.now() - start;
  db.close();
  parentPort!.postMessage(ms);
});
parentPort!.postMessage('ready');
