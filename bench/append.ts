/**
 * Append in-process: decision events/s through the sequencer (encode + commit + tiles) at
 * commit batch sizes 1..10k, next to raw better-sqlite3 inserts of each leaf's entry and payload
 * rows (the floor of what a commit must write; the server writes fewer entry rows, bundle blobs,
 * and more besides: metadata, tiles, batch keys) in transactions of the same size, in the same
 * run. (Before issue 11 the raw rows included a random-keyed dedup id per leaf, as the server
 * then wrote.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { CborValue } from '../src/core/cbor.js';
import { encodeEntry, makeCommitment } from '../src/core/entry.js';
import { ed25519SignerFromSeed, newEd25519Verifier } from '../src/core/note.js';
import { TransparencyLog } from '../src/log/log.js';
import { QUICK, type Result, randomId, result, sampleEvents, seconds, writeResults } from './lib.js';

const ORIGIN = 'bench.opa-tlog.dev/log';
const signer = ed25519SignerFromSeed(ORIGIN, new Uint8Array(32).fill(1));

function makeEvents(n: number) {
  const base = sampleEvents();
  return Array.from({ length: n }, (_, i) => {
    const e = { ...base[i % base.length]!, decision_id: randomId() } as Record<string, unknown>;
    const labels = e.labels as { id: string };
    return {
      kind: 'opa.decision',
      source: labels.id,
      id: e.decision_id as string,
      ts: e.timestamp as string,
      event: e as CborValue,
    };
  });
}

/** Raw baseline: the same three inserts per event, precomputed bytes, no hashing or tiles. */
function rawInserts(dir: string, events: ReturnType<typeof makeEvents>, batch: number): number {
  const rows = events.map((e, i) => {
    const { salt, payload, commitment } = makeCommitment(e.event);
    const entry = encodeEntry({
      v: 1,
      kind: e.kind,
      src: e.source,
      id: e.id,
      ts: e.ts,
      recv: 0,
      c: commitment,
    });
    return { i, entry, salt, payload };
  });
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('cache_size = -65536');
  db.exec(`CREATE TABLE entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL);
    CREATE TABLE payloads (idx INTEGER PRIMARY KEY, salt BLOB NOT NULL, payload BLOB NOT NULL);`);
  const e = db.prepare('INSERT INTO entries VALUES (?, ?)');
  const p = db.prepare('INSERT INTO payloads VALUES (?, ?, ?)');
  const tx = db.transaction((slice: typeof rows) => {
    for (const r of slice) {
      e.run(r.i, r.entry);
      p.run(r.i, r.salt, r.payload);
    }
  });
  const t = process.hrtime.bigint();
  for (let o = 0; o < rows.length; o += batch) tx(rows.slice(o, o + batch));
  const s = seconds(t);
  db.close();
  return rows.length / s;
}

async function sequenced(dir: string, events: ReturnType<typeof makeEvents>, batch: number): Promise<number> {
  const log = await TransparencyLog.open({
    dbPath: join(dir, 'log.db'),
    origin: ORIGIN,
    signer,
    verifier: newEd25519Verifier(signer.vkey),
    signIntervalMs: 1000,
    sequencer: {
      maxBatch: batch,
      maxDelayMs: 1,
      maxQueue: events.length + 1,
      maxQueueBytes: Number.POSITIVE_INFINITY,
    },
  });
  await log.start();
  // Requests of one event each, all in flight: the sequencer forms commits of `batch`.
  const t = process.hrtime.bigint();
  await Promise.all(events.map((e) => log.appendEvents([e])));
  const s = seconds(t);
  await log.close();
  return events.length / s;
}

export async function run(): Promise<Result[]> {
  const sizes: [number, number][] = [
    [1, 3_000],
    [10, 20_000],
    [100, 100_000],
    [1000, 200_000],
    [10_000, 200_000],
  ];
  const results: Result[] = [];
  for (const [batch, full] of sizes) {
    const n = QUICK ? Math.max(1000, Math.floor(full / 10)) : full;
    const events = makeEvents(n);
    const dir = mkdtempSync(join(tmpdir(), 'opa-tlog-bench-'));
    try {
      const raw = rawInserts(dir, events, batch);
      const ours = await sequenced(dir, events, batch);
      results.push(
        result(
          `append_entries_per_s_batch_${batch}`,
          ours,
          'entries/s',
          `raw_sqlite_inserts_per_s_batch_${batch}`,
          raw,
        ),
      );
      console.log(`batch ${batch}: ${n} events, ours ${Math.round(ours)}/s, raw ${Math.round(raw)}/s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const headline = results.find((r) => r.metric === 'append_entries_per_s_batch_10000')!;
  results.unshift({ ...headline, metric: 'append_entries_per_s' });
  writeResults('append', results, { command: `npm run bench${QUICK ? ':quick' : ''}` });
  return results;
}
