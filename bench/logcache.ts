/**
 * Big logs for the growth and read benchmarks, generated once and cached in bench/.cache/
 * (ignored by git): `log-<size>/` holds a server data directory (log.db, log.key, log.vkey)
 * and `meta.json` (size, schema fingerprint, generation time).
 *
 * Generation goes through the real append path in-process: a worker thread builds the leaves
 * exactly like TransparencyLog.appendEvents (gen-worker.ts) while the main thread commits them
 * with TransparencyLog.appendItems (sequencer + LogStore.appendBatch: dedup probe, entries,
 * payloads, ids, search metadata, tiles), 10,000 leaves per commit, synchronous=NORMAL and a
 * 1 GiB page cache (generation only; the measurements run the server with its defaults).
 * Each size starts from a copy of the largest cached smaller size. A cache whose schema
 * differs from the current build's is regenerated.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { generateEd25519Key, newEd25519Signer, newEd25519Verifier } from '../src/core/note.js';
import { TransparencyLog } from '../src/log/log.js';
import { openDatabase } from '../src/store/db.js';
import { type AppendItem, LogStore } from '../src/store/log-store.js';
import { nodeSha256 } from '../src/store/node-hash.js';
import type { GenRequest } from './gen-worker.js';
import { seconds } from './lib.js';
import { CACHE_DIR } from './opa.js';

const ORIGIN = 'bench.opa-tlog.dev/growth';
const CHUNK = 10_000;

export interface CachedLog {
  readonly dir: string;
  readonly size: number;
  /** Seconds the generation of this size took (from the previous size), when generated now. */
  readonly generatedSeconds?: number;
  /** How this cached size was made (from meta.json): from which size, in how many seconds. */
  readonly generation?: { readonly from: number; readonly seconds: number; readonly at: string };
}

interface CacheMeta {
  size: number;
  schema: string;
  generated_seconds: number;
  generated_at: string;
  /** The cached size it was grown from (0: a new log); absent in caches made before it was recorded. */
  generated_from?: number;
}

function generationOf(size: number): CachedLog['generation'] {
  const m = JSON.parse(readFileSync(join(dirOf(size), 'meta.json'), 'utf8')) as CacheMeta;
  return m.generated_from === undefined
    ? undefined
    : { from: m.generated_from, seconds: m.generated_seconds, at: m.generated_at };
}

/** Fingerprint of the schema the current build creates (sqlite_master + user_version). */
export function schemaFingerprint(): string {
  const db = openDatabase(':memory:');
  const rows = db
    .prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
    .all();
  const v = db.pragma('user_version', { simple: true });
  db.close();
  return createHash('sha256')
    .update(JSON.stringify([v, rows]))
    .digest('hex')
    .slice(0, 16);
}

const dirOf = (size: number) => join(CACHE_DIR, `log-${size}`);

function valid(size: number, schema: string): boolean {
  const f = join(dirOf(size), 'meta.json');
  if (!existsSync(f) || !existsSync(join(dirOf(size), 'log.db'))) return false;
  const m = JSON.parse(readFileSync(f, 'utf8')) as CacheMeta;
  return m.size === size && m.schema === schema;
}

/** Copies a data directory (files only) and fsyncs the copies, so no writeback follows. */
export function copyDataDir(from: string, to: string): number {
  const t = process.hrtime.bigint();
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) {
    if (f === 'meta.json') continue;
    copyFileSync(join(from, f), join(to, f));
    const fd = openSync(join(to, f), 'r');
    fsyncSync(fd);
    closeSync(fd);
  }
  return seconds(t);
}

/** Bytes of the SQLite files of a data directory. */
export function dbBytes(dir: string): number {
  let n = 0;
  // The blob file (src/store/blob-file.ts) holds the full tiles and bundles.
  for (const f of ['log.db', 'log.db-wal', 'log.db-blobs'])
    if (existsSync(join(dir, f))) n += statSync(join(dir, f)).size;
  return n;
}

async function grow(dir: string, from: number, to: number): Promise<void> {
  const skey = readFileSync(join(dir, 'log.key'), 'utf8').trim();
  const signer = newEd25519Signer(skey);
  const log = await TransparencyLog.open({
    dbPath: join(dir, 'log.db'),
    origin: signer.name,
    signer,
    verifier: newEd25519Verifier(signer.vkey),
    signIntervalMs: 60_000,
    synchronous: 'NORMAL',
    cacheMiB: 1024,
    sequencer: { maxBatch: CHUNK, maxDelayMs: 0, maxQueue: 4 * CHUNK },
  });
  await log.start();
  if (log.committedSize !== from)
    throw new Error(`cache at ${dir} holds ${log.committedSize} leaves, want ${from}`);
  const worker = new Worker(new URL('./gen-worker.js', import.meta.url));
  const pending: ((items: AppendItem[]) => void)[] = [];
  worker.on('message', (items: AppendItem[]) => pending.shift()!(items));
  const build = (start: number, count: number) =>
    new Promise<AppendItem[]>((resolve) => {
      pending.push(resolve);
      const req: GenRequest = { start, count, recv: Date.now() };
      worker.postMessage(req);
    });
  const t = process.hrtime.bigint();
  let next = from;
  // Two chunks in flight in the worker while the main thread commits the previous one.
  const inFlight: Promise<AppendItem[]>[] = [];
  const request = () => {
    if (next >= to) return;
    const n = Math.min(CHUNK, to - next);
    inFlight.push(build(next, n));
    next += n;
  };
  request();
  request();
  let done = from;
  let lastReport = Date.now();
  while (inFlight.length > 0) {
    const items = await inFlight.shift()!;
    request();
    await log.appendItems(items);
    done += items.length;
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      const s = seconds(t);
      console.log(`  generating ${dir}: ${done} / ${to} leaves, ${Math.round((done - from) / s)}/s`);
    }
  }
  await worker.terminate();
  await log.signNow();
  await log.close();
  mergeAll(join(dir, 'log.db'));
}

/**
 * Finishes the lookup index's merges, so the cached log is what a server that kept up with
 * its merges would leave (the measurements then start from no merge debt).
 */
export function mergeAll(dbPath: string): void {
  const db = openDatabase(dbPath, { synchronous: 'NORMAL', cacheMiB: 1024 });
  try {
    new LogStore(db, nodeSha256).maintainAll();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/**
 * Cached logs of each of `sizes` leaves (ascending), generating what is missing. Each missing
 * size starts from a copy of the largest valid cached size below it.
 */
export async function ensureLogs(sizes: readonly number[]): Promise<CachedLog[]> {
  const schema = schemaFingerprint();
  const out: CachedLog[] = [];
  const sorted = [...sizes].sort((a, b) => a - b);
  for (const size of sorted) {
    if (valid(size, schema)) {
      const generation = generationOf(size);
      out.push({ dir: dirOf(size), size, ...(generation ? { generation } : {}) });
      continue;
    }
    const dir = dirOf(size);
    rmSync(dir, { recursive: true, force: true });
    const existing = readdirSync(CACHE_DIR)
      .map((f) => /^log-(\d+)$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .filter((s) => s < size && valid(s, schema))
      .sort((a, b) => b - a);
    const from = existing[0] ?? 0;
    console.log(`generating a ${size}-leaf log in ${dir} (from ${from}) ...`);
    const t = process.hrtime.bigint();
    if (from > 0) copyDataDir(dirOf(from), dir);
    else {
      mkdirSync(dir, { recursive: true });
      const pair = generateEd25519Key(ORIGIN);
      writeFileSync(join(dir, 'log.key'), `${pair.skey}\n`, { mode: 0o600 });
      writeFileSync(join(dir, 'log.vkey'), `${pair.vkey}\n`);
    }
    await grow(dir, from, size);
    const s = seconds(t);
    const at = new Date().toISOString();
    const meta: CacheMeta = { size, schema, generated_seconds: s, generated_at: at, generated_from: from };
    writeFileSync(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    console.log(
      `  ${size} leaves in ${s.toFixed(0)} s (${Math.round((size - from) / s)} leaves/s from ${from}; ${dbBytes(dir)} bytes)`,
    );
    out.push({ dir, size, generatedSeconds: s, generation: { from, seconds: s, at } });
  }
  return out;
}
