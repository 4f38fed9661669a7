/**
 * The machine's ingest floor (issue 11's baseline for `opa_ingest_decisions_per_s`): the same
 * OPA upload bodies gunzipped and `JSON.parse`d on the main thread while a worker thread
 * inserts each decision's JSON bytes as one row of an index-free table (`CREATE TABLE d (j
 * BLOB)`, WAL, synchronous=FULL) in 10,000-row transactions, both at once. The two threads
 * work through the same decisions side by side and compete for the machine's cores exactly as
 * a server's decode thread and writer thread do; the figure is decisions / wall time until
 * both are done, i.e. bounded by the slower of the two.
 *
 * The per-decision JSON rows are cut from the bodies before the clock starts (they are the
 * writer's input, not part of its work), and handed to the worker as one buffer per body.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { gunzipSync } from 'node:zlib';

export interface FloorReport {
  /** Decisions per second through both threads (wall time until both finished). */
  readonly decisionsPerS: number;
  readonly decisions: number;
  /** Each thread alone, measured while the other ran: decisions/s of its own busy time. */
  readonly parseDecisionsPerS: number;
  readonly insertDecisionsPerS: number;
}

/** What the insert worker gets: each body's decisions as one buffer plus row end offsets. */
export interface FloorWorkerData {
  readonly dbPath: string;
  readonly rows: readonly { readonly bytes: Uint8Array; readonly ends: readonly number[] }[];
  readonly txRows: number;
}

/** Rows of `TX_ROWS` decisions per transaction (the server's default max batch). */
const TX_ROWS = 10_000;

/** Each decision's own JSON bytes, per body: stringify of each parsed element (untimed). */
function decisionRows(bodies: readonly Buffer[]): FloorWorkerData['rows'] {
  return bodies.map((b) => {
    const events = JSON.parse(gunzipSync(b).toString('utf8')) as unknown[];
    const parts = events.map((e) => Buffer.from(JSON.stringify(e)));
    const ends: number[] = [];
    let o = 0;
    for (const p of parts) {
      o += p.length;
      ends.push(o);
    }
    return { bytes: Buffer.concat(parts), ends };
  });
}

/**
 * Runs the floor on `bodies`: the main thread gunzips and `JSON.parse`s every body while the
 * worker (floor-worker.ts) inserts the decisions' rows; resolves with the combined rate and
 * each thread's own rate.
 */
export async function floor(bodies: readonly Buffer[]): Promise<FloorReport> {
  const dir = mkdtempSync(join(tmpdir(), 'opa-tlog-floor-'));
  const rows = decisionRows(bodies);
  const decisions = rows.reduce((n, r) => n + r.ends.length, 0);
  const data: FloorWorkerData = { dbPath: join(dir, 'floor.db'), rows, txRows: TX_ROWS };
  const worker = new Worker(new URL('./floor-worker.js', import.meta.url), { workerData: data });
  try {
    await new Promise<void>((res, rej) => {
      worker.once('message', () => res());
      worker.once('error', rej);
    });
    const done = new Promise<number>((res, rej) => {
      worker.once('message', (ms: number) => res(ms));
      worker.once('error', rej);
    });
    const start = performance.now();
    worker.postMessage('go');
    let parsed = 0;
    for (const b of bodies) {
      const events = JSON.parse(gunzipSync(b).toString('utf8')) as unknown[];
      parsed += events.length;
    }
    const parseMs = performance.now() - start;
    const insertMs = await done;
    const wallMs = performance.now() - start;
    if (parsed !== decisions) throw new Error(`floor: parsed ${parsed} decisions, want ${decisions}`);
    return {
      decisionsPerS: decisions / (wallMs / 1000),
      decisions,
      parseDecisionsPerS: decisions / (parseMs / 1000),
      insertDecisionsPerS: decisions / (insertMs / 1000),
    };
  } finally {
    await worker.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
}
