/**
 * The load generator, run as its own process (so the server keeps the second core to
 * itself as far as possible): `node loadgen.js '<LoadConfig JSON>'`, prints one LoadReport
 * JSON line. Keep-alive node:http agent, `concurrency` requests in flight, each answer read
 * fully before the next request on that connection. POST bodies are read from the cached
 * body file and each is sent at most once (a resend would be a duplicate, not a new
 * decision) unless `wrap` is set; GET paths are taken round-robin.
 *
 * With `pollCheckpoint`, a separate connection polls GET /checkpoint every POLL_PAUSE_MS
 * after the last answer and records when each new tree size was first seen; every 2xx ack of
 * an upload records its time and highest leaf index, and ack-to-checkpoint is the time from
 * the ack to the first poll that saw a checkpoint covering that index. Resolution: one pause
 * plus one round trip (~6 ms), by which the figure can only come out late, never early.
 */

import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

/**
 * Pause between checkpoint polls. At 1 ms (session 9 and before) the ~450 polls a second cost
 * the server's main thread ~10 % of its CPU under full ingest (c=8, alternated runs with and
 * without the poller: main thread 22.8 against 20.8 us a decision at best, 27.5 against 22.3
 * median): the measurement slowed what it measured. 5 ms keeps the resolution far inside the
 * goal's 100 ms of slack.
 */
const POLL_PAUSE_MS = 5;

export interface LoadConfig {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  /** POST: the cached length-prefixed body file, and which bodies to use. */
  readonly bodiesFile?: string;
  readonly bodyOffset?: number;
  readonly bodyCount?: number;
  /** POST: reuse bodies when they run out (only for servers that do not deduplicate). */
  readonly wrap?: boolean;
  /** Request paths (round-robin); POST uses the first one. */
  readonly paths: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
  readonly concurrency: number;
  readonly durationMs: number;
  /** Not measured: requests sent during the first warmupMs. */
  readonly warmupMs: number;
  /** Parse `{"indices": [...]}` answers and poll /checkpoint (ack-to-checkpoint). */
  readonly pollCheckpoint?: boolean;
}

export interface LoadReport {
  readonly requests: number;
  readonly ok: number;
  readonly statuses: Record<string, number>;
  readonly errors: number;
  readonly seconds: number;
  readonly reqPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly exhausted: boolean;
  readonly bytesSent: number;
  readonly ackToCheckpoint?: {
    readonly samples: number;
    readonly uncovered: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
    readonly signIntervalMs: number;
    readonly pollRttMs: number;
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function readBodies(file: string, offset: number, count: number): Buffer[] {
  const buf = readFileSync(file);
  const out: Buffer[] = [];
  let i = 0;
  for (let o = 0; o < buf.length && out.length < count; i++) {
    const n = buf.readUInt32BE(o);
    if (i >= offset) out.push(buf.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  return out;
}

const now = () => performance.now();

async function main(cfg: LoadConfig): Promise<LoadReport> {
  const u = new URL(cfg.url);
  const agent = new Agent({
    keepAlive: true,
    maxSockets: cfg.concurrency + 1,
    maxFreeSockets: cfg.concurrency + 1,
  });
  const bodies =
    cfg.method === 'POST'
      ? readBodies(cfg.bodiesFile!, cfg.bodyOffset ?? 0, cfg.bodyCount ?? Number.MAX_SAFE_INTEGER)
      : [];
  let nextBody = 0;
  let nextPath = 0;
  let exhausted = false;
  const start = now();
  const measureFrom = start + cfg.warmupMs;
  const end = measureFrom + cfg.durationMs;
  const lat: number[] = [];
  const statuses: Record<string, number> = {};
  const acks: { t: number; maxIndex: number }[] = [];
  let ok = 0;
  let errors = 0;
  let bytesSent = 0;

  const once = (method: string, path: string, body: Buffer | undefined, parse: boolean) =>
    new Promise<{ status: number; text?: string }>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...cfg.headers };
      if (body) headers['Content-Length'] = body.length;
      const req = request({ host: u.hostname, port: u.port, method, path, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          if (parse) chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ...(parse ? { text: Buffer.concat(chunks).toString() } : {}),
          }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });

  const worker = async () => {
    for (;;) {
      const t0 = now();
      if (t0 >= end) return;
      let body: Buffer | undefined;
      if (cfg.method === 'POST') {
        if (nextBody >= bodies.length) {
          if (!cfg.wrap) {
            exhausted = true;
            return;
          }
          nextBody = 0;
        }
        body = bodies[nextBody++];
      }
      const path = cfg.method === 'POST' ? cfg.paths[0]! : cfg.paths[nextPath++ % cfg.paths.length]!;
      try {
        const parse = cfg.pollCheckpoint === true;
        const r = await once(cfg.method, path, body, parse);
        const t1 = now();
        if (t1 >= measureFrom && t1 <= end) {
          lat.push(t1 - t0);
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          if (body) bytesSent += body.length;
          if (r.status >= 200 && r.status < 300) ok++;
        }
        if (parse && r.status >= 200 && r.status < 300 && r.text && t1 >= measureFrom) {
          const m = /"indices":\[([^\]]*)\]/.exec(r.text);
          if (m?.[1]) {
            let max = -1;
            for (const s of m[1].split(',')) max = Math.max(max, Number(s));
            acks.push({ t: t1, maxIndex: max });
          }
        }
      } catch {
        if (now() >= measureFrom) errors++;
      }
    }
  };

  // Checkpoint poller: the first time each tree size was seen.
  const seen: { t: number; size: number }[] = [];
  const rtts: number[] = [];
  let polling = cfg.pollCheckpoint === true;
  const poller = async () => {
    let last = -1;
    while (polling) {
      const t0 = now();
      try {
        const r = await once('GET', '/checkpoint', undefined, true);
        const t1 = now();
        rtts.push(t1 - t0);
        const size = Number(r.text?.split('\n')[1]);
        if (size !== last) {
          seen.push({ t: t1, size });
          last = size;
        }
      } catch {
        // ignore: the server may be busy
      }
      await new Promise((res) => setTimeout(res, POLL_PAUSE_MS));
    }
  };
  const pollDone = poller();
  await Promise.all(Array.from({ length: cfg.concurrency }, worker));
  const stoppedAt = now();
  let ack: LoadReport['ackToCheckpoint'];
  if (cfg.pollCheckpoint) {
    // Keep polling until the last ack is covered (at most 5 s).
    const lastIndex = acks.reduce((m, a) => Math.max(m, a.maxIndex), -1);
    while (now() - stoppedAt < 5000 && (seen.at(-1)?.size ?? 0) <= lastIndex) {
      await new Promise((res) => setTimeout(res, 5));
    }
    polling = false;
    await pollDone;
    const deltas: number[] = [];
    let uncovered = 0;
    for (const a of acks) {
      const c = seen.find((s) => s.size > a.maxIndex && s.t >= a.t);
      if (c) deltas.push(c.t - a.t);
      else uncovered++;
    }
    deltas.sort((a, b) => a - b);
    const gaps: number[] = [];
    for (let i = 2; i < seen.length; i++) gaps.push(seen[i]!.t - seen[i - 1]!.t);
    gaps.sort((a, b) => a - b);
    rtts.sort((a, b) => a - b);
    ack = {
      samples: deltas.length,
      uncovered,
      p50Ms: percentile(deltas, 50),
      p99Ms: percentile(deltas, 99),
      maxMs: deltas.at(-1) ?? Number.NaN,
      signIntervalMs: percentile(gaps, 50),
      pollRttMs: percentile(rtts, 50),
    };
  }
  agent.destroy();
  const secs = (Math.min(stoppedAt, end) - measureFrom) / 1000;
  lat.sort((a, b) => a - b);
  return {
    requests: lat.length,
    ok,
    statuses,
    errors,
    seconds: secs,
    reqPerS: ok / secs,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    exhausted,
    bytesSent,
    ...(ack ? { ackToCheckpoint: ack } : {}),
  };
}

if (process.argv[1]?.endsWith('loadgen.js') && process.argv[2]) {
  const report = await main(JSON.parse(readFileSync(process.argv[2], 'utf8')) as LoadConfig);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
