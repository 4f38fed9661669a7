/**
 * `opa-tlog serve --store postgres://…`: the shared OPA samples in, lookups and proofs out,
 * a restart keeps the tree, and another key or origin on the same database is refused. And
 * /metrics reports the database's size (and the WAL's when the role may read it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { fromBase64 } from '../../src/core/bytes.js';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { leafHash, verifyInclusion } from '../../src/core/merkle.js';
import { newEd25519Verifier } from '../../src/core/note.js';
import { postgresAvailable, postgresCluster } from '../helpers/postgres.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'opa');
const running: RunningServer[] = [];
afterAll(async () => {
  for (const s of running.splice(0)) await s.kill();
});

async function upload(url: string): Promise<{ appended: number; duplicates: number; indices: number[] }> {
  const res = await fetch(`${url}/logs`, {
    method: 'POST',
    body: readFileSync(join(FIXTURES, 'upload-batch.json.gz')),
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { appended: number; duplicates: number; indices: number[] };
}

describe.skipIf(!postgresAvailable())('serve --store postgres://', () => {
  test('ingest, lookups, proofs; restart; another key is refused', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const data = tempDir();
    const args = ['--store', url, '--sign-interval-ms', '100', '--origin', 'pg.example/log'];
    const s = await startServer(data, args);
    running.push(s);
    const verifier = newEd25519Verifier(s.vkey);
    expect((await upload(s.url)).appended).toBe(50);
    const again = await upload(s.url);
    expect(again).toMatchObject({ appended: 0, duplicates: 50 });
    const events = JSON.parse(readFileSync(join(FIXTURES, 'upload-batch.json'), 'utf8')) as {
      decision_id: string;
    }[];
    // Wait for a checkpoint covering the upload, then look a decision up and verify it.
    let body: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${s.url}/v1/decisions/${events[7]!.decision_id}`);
      if (res.status === 200) {
        body = (await res.json()) as Record<string, unknown>;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const cp = openCheckpoint(body.checkpoint as string, verifier).checkpoint;
    const entry = fromBase64(body.entry as string)!;
    verifyInclusion(
      body.index as number,
      cp.size,
      leafHash(entry),
      (body.proof as string[]).map((p) => fromBase64(p)!),
      cp.rootHash,
    );
    expect(body.index).toBe(again.indices[7]);
    await s.stop();
    running.pop();
    // The same key restarts on the same database and keeps the tree.
    const back = await startServer(data, args);
    running.push(back);
    const note = await (await fetch(`${back.url}/checkpoint`)).text();
    expect(openCheckpoint(note, verifier).checkpoint.size).toBe(50);
    // Another key (another --data) for the same database refuses to start.
    await expect(startServer(tempDir(), ['--store', url, '--origin', 'pg.example/log'])).rejects.toThrow(
      /was signed by key|refusing to start/,
    );
    await expect(startServer(tempDir(), ['--store', url, '--origin', 'other.example/log'])).rejects.toThrow(
      /belongs to origin/,
    );
  });

  test('/metrics: database bytes from PostgreSQL; the WAL gauge absent without pg_monitor', async () => {
    const cluster = await postgresCluster();
    const gauges = async (s: RunningServer) => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      const read = (name: string) => {
        const m = new RegExp(`^opa_tlog_${name} (\\S+)$`, 'm').exec(text);
        return m ? Number(m[1]) : undefined;
      };
      return { db: read('database_bytes'), wal: read('database_wal_bytes') };
    };
    // The superuser reads both.
    const su = await startServer(tempDir(), ['--store', await cluster.createDatabase()]);
    running.push(su);
    const a = await gauges(su);
    expect(a.db).toBeGreaterThan(1_000_000);
    expect(a.wal).toBeGreaterThan(0);
    // A plain role owning its database: the size, and no WAL gauge rather than a false 0.
    const admin = new pg.Client({ connectionString: cluster.url('postgres') });
    await admin.connect();
    try {
      await admin.query('CREATE ROLE tlog_app LOGIN');
      await admin.query('CREATE DATABASE tlog_app_db OWNER tlog_app');
    } finally {
      await admin.end();
    }
    const url = cluster.url('tlog_app_db').replace('//postgres@', '//tlog_app@');
    const plain = await startServer(tempDir(), ['--store', url]);
    running.push(plain);
    const b = await gauges(plain);
    expect(b.db).toBeGreaterThan(1_000_000);
    expect(b.wal).toBeUndefined();
  });
});
