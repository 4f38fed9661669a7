/**
 * Shared machinery of the reliability suite: the run mode (short / quick / long), the real
 * server process with RSS sampling and crash accounting, the run-wide counters behind the
 * summary line, OPA-shaped uploads, and plain HTTP helpers. Everything talks to 127.0.0.1 only.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type RunningServer, startServer } from '../helpers/server.js';

// ---------------------------------------------------------------------------------------------
// Mode

export type Mode = 'short' | 'quick' | 'long';

/** OPA_TLOG_RELIABILITY=long|quick selects the longer runs; anything else is the short run. */
export const MODE: Mode = ((): Mode => {
  const v = (process.env.OPA_TLOG_RELIABILITY ?? '').trim().toLowerCase();
  return v === 'long' || v === 'quick' ? v : 'short';
})();

/** Picks the value for the current mode. */
export function byMode<T>(v: Record<Mode, T>): T {
  return v[MODE];
}

/** Base seed for every pseudo-random choice; override with OPA_TLOG_RELIABILITY_SEED. */
export const SEED = Number(process.env.OPA_TLOG_RELIABILITY_SEED ?? 20250610) >>> 0;

/** A small deterministic PRNG, so a run can be replayed from its seed. */
export { prng as rng } from '../helpers/prng.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Run-wide counters for the summary line

export const stats = {
  /** HTTP requests the suite sent to servers. */
  loaded: 0,
  /** SIGKILLs sent. */
  killed: 0,
  /** Decisions and entries acknowledged with a 2xx (each counted once). */
  acknowledged: 0,
  /** Acknowledged leaves missing or changed after a restart (computed). */
  lost: 0,
  /** (source, id) pairs found more than once in a tree (computed). */
  duplicated: 0,
  /** Observed checkpoints that disagree with another of the same size or with the final tree. */
  forks: 0,
  /** Hostile requests sent (each expected to be refused). */
  malformed: 0,
  /** Server processes that died without being killed by the suite. */
  crashes: 0,
  /** Largest VmRSS of any server process, bytes. */
  rssPeak: 0,
};

export function summaryLine(): string {
  const mb = (stats.rssPeak / (1024 * 1024)).toFixed(1);
  return (
    `reliability: loaded=${stats.loaded} killed=${stats.killed} acknowledged=${stats.acknowledged} ` +
    `lost=${stats.lost} duplicated=${stats.duplicated} forks=${stats.forks} malformed=${stats.malformed} ` +
    `crashes=${stats.crashes} rss_peak_mb=${mb}`
  );
}

// ---------------------------------------------------------------------------------------------
// Temporary directories

/** The suite-wide helper (test/helpers/tmp.ts), re-exported for the reliability modules. */
export { removeTempDirs, tempDir } from '../helpers/tmp.js';

// ---------------------------------------------------------------------------------------------
// The server process

/** Reads VmRSS of a process in bytes (0 if it is gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface Server {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly vkey: string;
  readonly data: string;
  /** Peak VmRSS of this process so far, bytes. */
  rssPeak(): number;
  /** True while the process runs. */
  alive(): boolean;
  /** True if the process exited without kill()/stop() from the suite. */
  crashed(): boolean;
  output(): string;
  /** SIGKILL (counted in `killed`). */
  kill(): Promise<void>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const running = new Set<Server>();

/** Starts the real server (dist/cli/main.js) on a free loopback port, sampling its RSS. */
export async function launch(data: string, args: string[] = []): Promise<Server> {
  const srv: RunningServer = await startServer(data, ['--host', '127.0.0.1', ...args]);
  const pid = srv.proc.pid!;
  const u = new URL(srv.url);
  let peak = 0;
  let byUs = false;
  let exited = false;
  let crashed = false;
  const sample = () => {
    const r = rssBytes(pid);
    if (r > peak) peak = r;
    if (r > stats.rssPeak) stats.rssPeak = r;
  };
  sample();
  const timer = setInterval(sample, 20);
  const server: Server = {
    url: srv.url,
    host: u.hostname,
    port: Number(u.port),
    pid,
    vkey: srv.vkey,
    data,
    rssPeak: () => peak,
    alive: () => !exited,
    crashed: () => crashed,
    output: () => srv.output(),
    kill: async () => {
      byUs = true;
      if (!exited) stats.killed++;
      await srv.kill();
    },
    stop: async () => {
      byUs = true;
      return srv.stop();
    },
  };
  srv.proc.on('exit', () => {
    exited = true;
    clearInterval(timer);
    running.delete(server);
    if (!byUs) {
      crashed = true;
      stats.crashes++;
      console.error(`reliability: server ${pid} died on its own:\n${srv.output().slice(-4000)}`);
    }
  });
  running.add(server);
  return server;
}

/** The server's logged internal errors (500s), for failure messages; '' if none. */
export function internalErrors(srv: Server): string {
  const out = srv.output();
  const i = out.indexOf('internal error');
  return i < 0 ? '' : `\n--- server log ---\n${out.slice(Math.max(0, i - 200), i + 3000)}`;
}

/** SIGKILLs every server the suite started that still runs (teardown). */
export async function killAll(): Promise<void> {
  for (const s of [...running]) {
    if (s.alive()) await s.stop().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RawRequest {
  method: string;
  /** Sent verbatim (no normalization), must start with '/'. */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Uint8Array;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
}

/**
 * One request on a fresh connection with node:http, so paths and headers go out exactly as
 * given. Rejects on a transport error (e.g. the server died) or after 60 s.
 */
export function rawRequest(srv: { host: string; port: number }, req: RawRequest): Promise<RawResponse> {
  stats.loaded++;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[] | number> = { ...(req.headers ?? {}) };
    const hasBody = req.body !== undefined;
    if (hasBody && !req.chunked) headers['content-length'] = req.body!.length;
    const r = http.request(
      {
        host: srv.host,
        port: srv.port,
        method: req.method,
        path: req.path,
        headers,
        agent: false,
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error('request timed out')));
    r.on('error', reject);
    if (hasBody) {
      if (req.chunked) {
        // Several chunks, so the server really streams it.
        const b = req.body!;
        const step = Math.max(1, Math.ceil(b.length / 4));
        for (let o = 0; o < b.length; o += step) r.write(b.subarray(o, o + step));
      } else r.write(req.body);
    }
    r.end();
  });
}

/** fetch() that counts the request. */
export function send(url: string, init?: RequestInit): Promise<Response> {
  stats.loaded++;
  return fetch(url, init);
}

/** Parses a JSON error body; undefined unless it is exactly `{error: string, detail: string}`. */
export function errorBody(body: Buffer | string): { error: string; detail: string } | undefined {
  try {
    const v = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    const o = v as Record<string, unknown>;
    if (typeof o.error !== 'string' || typeof o.detail !== 'string') return undefined;
    return { error: o.error, detail: o.detail };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// OPA-shaped uploads

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'opa', 'upload-batch.json');
const TEMPLATES = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, Json>[];
export const FIXTURE_EVENTS: readonly Record<string, Json>[] = TEMPLATES;

/** Headers exactly as OPA's decision_logs plugin sends them (Go's client adds Accept-Encoding). */
export const OPA_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  'content-encoding': 'gzip',
  'user-agent': 'Open Policy Agent/1.4.2 (linux, amd64)',
  'accept-encoding': 'gzip',
};

/** One upload as OPA sends it: a gzip JSON array of decision events. */
export interface Upload {
  readonly source: string;
  readonly ids: readonly string[];
  readonly body: Buffer;
  /** Indices from the 2xx answer, once acknowledged. */
  acked?: number[];
}

/** A decision event shaped like the fixture, with the given labels.id and decision_id. */
export function decisionEvent(source: string, decisionId: string, n: number): Record<string, Json> {
  const t = structuredClone(TEMPLATES[n % TEMPLATES.length]!);
  const labels = (t.labels ?? {}) as Record<string, Json>;
  t.labels = { ...labels, id: source };
  t.decision_id = decisionId;
  t.req_id = n;
  const ns = String(n % 1_000_000_000).padStart(9, '0');
  t.timestamp = `2025-06-10T14:${String(Math.floor(n / 60) % 60).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}.${ns}Z`;
  return t;
}

/** An OPA upload of `count` fresh decisions from `source` (OPA's framing: a bare JSON array). */
export function makeUpload(source: string, count: number, seq = 0): Upload {
  const ids: string[] = [];
  const events: Record<string, Json>[] = [];
  for (let i = 0; i < count; i++) {
    const id = randomUUID();
    ids.push(id);
    events.push(decisionEvent(source, id, seq + i));
  }
  return { source, ids, body: gzipSync(Buffer.from(JSON.stringify(events))) };
}

/** The answer to POST /logs. */
export interface UploadAnswer {
  accepted: number;
  appended: number;
  duplicates: number;
  indices: number[];
}

export function isUploadAnswer(v: unknown, n: number): v is UploadAnswer {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return (
    o.accepted === n &&
    typeof o.appended === 'number' &&
    typeof o.duplicates === 'number' &&
    Array.isArray(o.indices) &&
    o.indices.length === n &&
    o.indices.every((x) => Number.isSafeInteger(x))
  );
}
