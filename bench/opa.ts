/**
 * OPA-shaped decision events and upload bodies for the benchmarks.
 *
 * Events are the 50 synthetic decisions of test/fixtures/opa/upload-batch.json (EventV1 shape,
 * one OPA instance), each copy with a fresh random decision_id (UUIDv4, like OPA's), an
 * increasing timestamp and req_id. An upload body is what OPA's decision_logs plugin sends:
 * `[e,e,...]` gzip-compressed (Go's level 6, OS byte 0xff), filled with as many events as fit
 * in OPA's default upload_size_limit_bytes (32768 compressed).
 *
 * Bodies are generated once and cached in bench/.cache/bodies-<count>.bin (length-prefixed), so
 * the load generator only reads bytes and writes them to a socket.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type CborObject, encodeDeterministic } from '../src/core/cbor.js';
import { parseJson } from '../src/core/json.js';
import { deriveOpaDecision } from '../src/core/opa.js';
import { ROOT } from './lib.js';

export const CACHE_DIR = join(ROOT, 'bench', '.cache');
/** OPA's default decision_logs.reporting.upload_size_limit_bytes (compressed). */
export const OPA_UPLOAD_LIMIT = 32768;
/** What OPA's REST client sends on every upload (plus Authorization and Content-Length). */
export const OPA_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'application/json',
  'Content-Encoding': 'gzip',
  'Accept-Encoding': 'gzip',
  'User-Agent': 'Open Policy Agent/1.4.2 (linux, amd64)',
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

let templatesCache: JsonObject[] | undefined;
function templates(): JsonObject[] {
  templatesCache ??= JSON.parse(
    readFileSync(join(ROOT, 'test', 'fixtures', 'opa', 'upload-batch.json'), 'utf8'),
  ) as JsonObject[];
  return templatesCache;
}

const T0 = Date.UTC(2025, 5, 10, 14, 0, 0);
const rnd = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

/** The i-th event of a generated stream: a fixture template with a fresh id, time and req_id. */
export function makeEvent(i: number): JsonObject {
  const t = templates();
  const base = t[i % t.length]!;
  const ms = T0 + Math.floor(i / 4); // ~4 decisions per ms: plausible for a busy fleet
  const ns = String((i * 7919) % 1_000_000).padStart(6, '0');
  const e: JsonObject = { ...base, decision_id: randomUUID() };
  e.timestamp = `${new Date(ms).toISOString().slice(0, 23)}${ns}Z`;
  e.req_id = 18_000 + i;
  // Per-decision entropy as in real uploads (timings, client ports, trace ids), so that gzip
  // compresses like OPA's (~400 decisions per 32 KiB) rather than like 50 repeated templates.
  const metrics = base.metrics;
  if (metrics !== null && typeof metrics === 'object' && !Array.isArray(metrics)) {
    const m: JsonObject = {};
    for (const [k, v] of Object.entries(metrics))
      m[k] = typeof v === 'number' && v > 1 ? rnd(10_000, 900_000) : v;
    e.metrics = m;
  }
  if (typeof base.requested_by === 'string') {
    e.requested_by = base.requested_by.replace(/:\d+$/, `:${rnd(32_768, 60_999)}`);
  }
  if (typeof base.trace_id === 'string') e.trace_id = randomUUID().replaceAll('-', '');
  if (typeof base.span_id === 'string') e.span_id = randomUUID().replaceAll('-', '').slice(0, 16);
  const input = base.input;
  if (
    input !== null &&
    typeof input === 'object' &&
    !Array.isArray(input) &&
    typeof input.path === 'string'
  ) {
    e.input = { ...input, path: input.path.replace(/\d{6}/, String(rnd(100_000, 999_999))) };
  }
  return e;
}

function gzipGo(raw: Buffer): Buffer {
  const gz = gzipSync(raw, { level: 6 });
  gz[9] = 0xff; // Go's gzip writer leaves the OS byte "unknown"
  return gz;
}

/** Events per body so that the gzip of one body stays just below OPA's 32 KiB upload limit. */
function eventsPerBody(): number {
  let n = 400;
  for (let k = 0; k < 6; k++) {
    const raw = Buffer.from(JSON.stringify(Array.from({ length: n }, (_, i) => makeEvent(i))));
    const gz = gzipGo(raw).length;
    const next = Math.floor((n * (OPA_UPLOAD_LIMIT - 600)) / gz);
    if (Math.abs(next - n) <= 2) return Math.min(n, next);
    n = next;
  }
  return n;
}

export interface BodySet {
  readonly bodies: Buffer[];
  readonly eventsPerBody: number;
  /** Mean uncompressed JSON bytes per decision. */
  readonly rawBytesPerEvent: number;
  /** Mean gzip bytes per body. */
  readonly gzBytesPerBody: number;
}

/**
 * `count` distinct gzip bodies (every decision_id unique across all of them), cached on disk.
 * A body must never be sent twice to the same log (a resend is a duplicate: cheaper, not
 * a new decision), so a run uses each body at most once.
 */
export function loadBodies(count: number): BodySet {
  mkdirSync(CACHE_DIR, { recursive: true });
  const file = join(CACHE_DIR, `bodies-${count}.bin`);
  const metaFile = `${file}.json`;
  if (existsSync(file) && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Omit<BodySet, 'bodies'>;
    const buf = readFileSync(file);
    const bodies: Buffer[] = [];
    for (let o = 0; o < buf.length; ) {
      const n = buf.readUInt32BE(o);
      bodies.push(buf.subarray(o + 4, o + 4 + n));
      o += 4 + n;
    }
    if (bodies.length === count) return { ...meta, bodies };
  }
  const per = eventsPerBody();
  const bodies: Buffer[] = [];
  let raw = 0;
  let gz = 0;
  for (let b = 0; b < count; b++) {
    const events = Array.from({ length: per }, (_, i) => makeEvent(b * per + i));
    const json = Buffer.from(JSON.stringify(events));
    raw += json.length;
    const z = gzipGo(json);
    gz += z.length;
    bodies.push(z);
  }
  const meta = { eventsPerBody: per, rawBytesPerEvent: raw / (count * per), gzBytesPerBody: gz / count };
  const parts: Buffer[] = [];
  for (const z of bodies) {
    const h = Buffer.alloc(4);
    h.writeUInt32BE(z.length);
    parts.push(h, z);
  }
  writeFileSync(`${file}.tmp`, Buffer.concat(parts));
  renameSync(`${file}.tmp`, file);
  writeFileSync(metaFile, JSON.stringify(meta));
  return { ...meta, bodies };
}

/** Path of the cached body file of `count` bodies (after {@link loadBodies}). */
export function bodiesFile(count: number): string {
  return join(CACHE_DIR, `bodies-${count}.bin`);
}

/**
 * Mean bytes per decision of the deterministic CBOR payload the log commits to (and stores):
 * each body parsed losslessly (src/core/json.ts), each event derived as an OPA decision and
 * encoded (src/core/opa.ts, src/core/cbor.ts), as the ingestion route does.
 */
export function cborBytesPerDecision(bodies: readonly Buffer[]): number {
  let bytes = 0;
  let n = 0;
  for (const b of bodies) {
    const events = parseJson(gunzipSync(b).toString('utf8'), { maxDepth: 128 }) as CborObject[];
    for (const e of events) {
      bytes += encodeDeterministic(deriveOpaDecision(e).event).length;
      n++;
    }
  }
  return bytes / n;
}
