/**
 * The in-process pipeline limit: what one thread does per OPA upload with no HTTP server, no
 * sequencer, no dedup probes and no tiles — gunzip, UTF-8 decode, lossless JSON parse
 * (src/core/json.ts), derive source/id/flags and search fields (src/core/opa.ts),
 * deterministic CBOR + salted commitment + entry + leaf hash (the log's own leaf builder,
 * src/log/leaf.ts, node:crypto), then raw better-sqlite3 inserts into the server's own schema
 * (src/store/db.ts: entries, payloads, leaf_meta, leaf_revisions: the per-leaf rows of the commit;
 * no dedup window, no lookup index, no tiles, no bundle blobs, no payload compression),
 * synchronous=FULL, ~10,000 rows per transaction (the server's default max batch). Reports
 * decisions/s and the time share of each stage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { CborObject, CborValue } from '../src/core/cbor.js';
import { parseJson } from '../src/core/json.js';
import { eventLeaf, opaDecisionInput } from '../src/log/leaf.js';
import { openDatabase } from '../src/store/db.js';
import { nodeSha256 } from '../src/store/node-hash.js';

export interface PipelineReport {
  readonly decisionsPerS: number;
  readonly decisions: number;
  /** Share of the time per stage (0..1). */
  readonly shares: Record<'gunzip' | 'parse' | 'encode_hash' | 'insert', number>;
}

interface Row {
  entry: Uint8Array;
  salt: Uint8Array;
  payload: Uint8Array;
  source: string;
  tsMs: number | null;
  path: string | null;
  result: string;
  revisions: string[];
}

export function pipeline(bodies: readonly Buffer[]): PipelineReport {
  const dir = mkdtempSync(join(tmpdir(), 'opa-tlog-pipeline-'));
  const db = openDatabase(join(dir, 'log.db'), { synchronous: 'FULL', cacheMiB: 64 });
  const q = {
    entry: db.prepare('INSERT INTO entries (idx, data) VALUES (?, ?)'),
    payload: db.prepare('INSERT INTO payloads (idx, salt, payload) VALUES (?, ?, ?)'),
    meta: db.prepare(
      'INSERT INTO leaf_meta (idx, kind, source, recv_ms, ts_ms, path, result) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    rev: db.prepare('INSERT OR IGNORE INTO leaf_revisions (revision, idx) VALUES (?, ?)'),
  };
  let next = 0;
  const recv = Date.now();
  const insert = db.transaction((rows: Row[]) => {
    for (const r of rows) {
      q.entry.run(next, r.entry);
      q.payload.run(next, r.salt, r.payload);
      q.meta.run(next, 'opa.decision', r.source, recv, r.tsMs, r.path, r.result);
      for (const v of r.revisions) q.rev.run(v, next);
      next++;
    }
  });
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const t = { gunzip: 0, parse: 0, encode_hash: 0, insert: 0 };
  let pending: Row[] = [];
  let a = performance.now();
  const lap = (k: keyof typeof t) => {
    const b = performance.now();
    t[k] += b - a;
    a = b;
  };
  const start = performance.now();
  for (const body of bodies) {
    a = performance.now();
    const raw = gunzipSync(body);
    lap('gunzip');
    const events = parseJson(decoder.decode(raw), { maxDepth: 128 }) as CborValue[];
    lap('parse');
    for (const ev of events) {
      const it = eventLeaf(opaDecisionInput(ev as CborObject, nodeSha256), recv, nodeSha256);
      const m = it.meta!;
      pending.push({
        entry: it.entry,
        salt: it.salt!,
        payload: it.payload!,
        source: m.source,
        tsMs: m.tsMs,
        path: m.path,
        result: m.result ?? 'undefined',
        revisions: [...m.revisions],
      });
    }
    lap('encode_hash');
    if (pending.length >= 10_000) {
      insert(pending);
      pending = [];
      lap('insert');
    }
  }
  a = performance.now();
  if (pending.length) insert(pending);
  lap('insert');
  const secs = (performance.now() - start) / 1000;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  const total = t.gunzip + t.parse + t.encode_hash + t.insert;
  return {
    decisionsPerS: next / secs,
    decisions: next,
    shares: {
      gunzip: t.gunzip / total,
      parse: t.parse / total,
      encode_hash: t.encode_hash / total,
      insert: t.insert / total,
    },
  };
}
