/**
 * The crash loop: OPA-style uploaders and /v1/entries appenders against the real server, which
 * is SIGKILLed at random moments (a random delay; right after a large upload was sent, i.e.
 * mid-batch; right after a new checkpoint appeared with a 10 ms signer, i.e. around signing)
 * and restarted, N times. An upload or append whose answer did not arrive is retried after the
 * restart with the same bytes (as OPA does), so retries across crashes are exercised too.
 */
import Database from 'better-sqlite3';
import { fromBase64 } from '../../src/core/bytes.js';
import { STORED_ENTRIES_SQL } from '../helpers/sqlite.js';
import {
  internalErrors,
  launch,
  makeUpload,
  OPA_HEADERS,
  rng,
  type Server,
  send,
  sleep,
  stats,
  tempDir,
  type Upload,
} from './harness.js';
import { fetchCheckpoint, LogMirror, leafKey } from './mirror.js';

export interface CrashParams {
  kills: number;
  uploaders: number;
  appenders: number;
  /** Most events in one ordinary upload. */
  maxEvents: number;
  /** Events in the large uploads used to kill mid-batch. */
  bigEvents: number;
  minKillMs: number;
  maxKillMs: number;
  /** Pause between an uploader's requests, ms (0..this). */
  paceMs: number;
  /** Lookups (GET /v1/decisions/{id}?source=) of newly acknowledged decisions per restart. */
  lookupsPerRound: number;
  /** Lookups at the end (Infinity: every acknowledged decision). */
  finalLookups: number;
  seed: number;
  signIntervalMs: number;
}

export interface CrashResult {
  kills: number;
  strategies: Record<string, number>;
  acknowledgedDecisions: number;
  acknowledgedEntries: number;
  leaves: number;
  checkpointsObserved: number;
  lookups: number;
  resent: number;
  /** Answers that are neither 2xx nor 503 (always a failure). */
  unexpected: string[];
  /** Retries of acknowledged requests that did not return the same indices as duplicates. */
  badResends: string[];
  /** Rows in the database after the final SIGTERM vs. the tree size. */
  rowsAfter: number;
  lost: number;
  duplicated: number;
  forks: number;
  problems: string[];
  crashed: boolean;
  finalExit: number | null;
}

interface Append {
  readonly key: string;
  readonly body: string;
  readonly n: number;
  acked?: number[];
}

const APPEND_HEADERS = { 'content-type': 'application/json' };

export async function crashLoop(p: CrashParams): Promise<CrashResult> {
  const data = tempDir('opa-tlog-rel-crash-');
  const rand = rng(p.seed);
  let mirror: LogMirror | undefined;
  const uploads: Upload[] = [];
  const appends: Append[] = [];
  const pendingUploads = new Map<string, Upload>();
  const pendingAppends = new Map<string, Append>();
  const unexpected: string[] = [];
  const strategies: Record<string, number> = {};
  let lookups = 0;
  let kills = 0;
  const servers: Server[] = [];
  let recentAcked: string[] = [];

  const ackUpload = (m: LogMirror, up: Upload, indices: number[]) => {
    up.acked = indices;
    uploads.push(up);
    up.ids.forEach((id, i) => {
      m.ack(leafKey(up.source, id), indices[i]!);
      recentAcked.push(leafKey(up.source, id));
    });
  };
  const ackAppend = (m: LogMirror, a: Append, indices: number[]) => {
    a.acked = indices;
    appends.push(a);
    for (let i = 0; i < a.n; i++) m.ack(leafKey('api', `${a.key}/${i}`), indices[i]!);
  };

  /**
   * A refused request: 503 is retried (backpressure); a 500 is recorded and retried with the
   * same bytes, as OPA does; anything else is recorded and dropped. True = done with it.
   */
  const settle = (what: string, srv: Server, status: number, text: string): boolean => {
    if (status === 503) return false;
    const line = `${what}: ${status} ${text.slice(0, 300)}`;
    unexpected.push(`${line}${internalErrors(srv)}`);
    return status !== 500;
  };

  /** Sends one upload; true once acknowledged. Throws on a transport error. */
  const postUpload = async (srv: Server, m: LogMirror, up: Upload): Promise<boolean> => {
    const res = await send(`${srv.url}/logs`, { method: 'POST', headers: OPA_HEADERS, body: up.body });
    const text = await res.text();
    if (res.status === 200) {
      const body = JSON.parse(text) as { accepted: number; indices: number[] };
      if (body.accepted !== up.ids.length || body.indices.length !== up.ids.length) {
        unexpected.push(`upload of ${up.ids.length}: ${text.slice(0, 200)}`);
        return true;
      }
      ackUpload(m, up, body.indices);
      return true;
    }
    return settle('POST /logs', srv, res.status, text);
  };
  const postAppend = async (srv: Server, m: LogMirror, a: Append): Promise<boolean> => {
    const res = await send(`${srv.url}/v1/entries`, {
      method: 'POST',
      headers: { ...APPEND_HEADERS, 'idempotency-key': a.key },
      body: a.body,
    });
    const text = await res.text();
    if (res.status === 200) {
      const body = JSON.parse(text) as { indices: number[] };
      ackAppend(m, a, body.indices);
      return true;
    }
    return settle('POST /v1/entries', srv, res.status, text);
  };

  /** Looks decisions up by (id, source) and compares index and entry bytes with the mirror. */
  const lookup = async (srv: Server, m: LogMirror, keys: string[]) => {
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        const [source, id] = key.split('\0') as [string, string];
        const idx = m.ackedIndex(key)!;
        const res = await send(
          `${srv.url}/v1/decisions/${encodeURIComponent(id)}?source=${encodeURIComponent(source)}`,
        );
        const text = await res.text();
        lookups++;
        let ok = false;
        if (res.status === 200) {
          const body = JSON.parse(text) as { index: number; entry: string };
          const entry = fromBase64(body.entry);
          ok = body.index === idx && entry !== undefined && Buffer.from(entry).equals(m.entries[idx]!);
        }
        if (!ok) {
          m.lost++;
          stats.lost++;
          m.problems.push(
            `lookup of ${JSON.stringify(key)} (acked at ${idx}): ${res.status} ${text.slice(0, 200)}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  };

  const sample = <T>(xs: T[], k: number): T[] => {
    if (xs.length <= k) return xs;
    const out: T[] = [];
    const picked = new Set<number>();
    while (out.length < k) {
      const i = Math.floor(rand() * xs.length);
      if (!picked.has(i)) {
        picked.add(i);
        out.push(xs[i]!);
      }
    }
    return out;
  };

  let upSeq = 0;
  let apSeq = 0;
  let srv: Server | undefined;
  for (let round = 0; ; round++) {
    srv = await launch(data, ['--sign-interval-ms', String(p.signIntervalMs)]);
    servers.push(srv);
    const m: LogMirror = mirror ?? new LogMirror(srv.vkey);
    mirror = m;
    await m.sync(srv.url, { recheck: 2, rand });
    await lookup(srv, m, sample(recentAcked, p.lookupsPerRound));
    recentAcked = [];
    if (round === p.kills) break;

    const s: Server = srv;
    let stop = false;
    let bigSent: (() => void) | undefined;
    let newCheckpoint: (() => void) | undefined;
    const uploader = async (u: number) => {
      const source = `reliability-uploader-${u}`;
      while (!stop) {
        let up = pendingUploads.get(source);
        if (!up) {
          up = makeUpload(source, 1 + Math.floor(rand() * p.maxEvents), upSeq);
          upSeq += up.ids.length;
          pendingUploads.set(source, up);
        }
        try {
          if (await postUpload(s, m, up)) pendingUploads.delete(source);
        } catch {
          return; // killed: the upload stays pending and is resent after the restart
        }
        await sleep(rand() * p.paceMs);
      }
    };
    const bigUploader = async () => {
      const source = 'reliability-big';
      while (!stop) {
        let up = pendingUploads.get(source);
        if (!up) {
          up = makeUpload(source, p.bigEvents, upSeq);
          upSeq += up.ids.length;
          pendingUploads.set(source, up);
        }
        try {
          const sent = postUpload(s, m, up);
          bigSent?.();
          if (await sent) pendingUploads.delete(source);
        } catch {
          return;
        }
        await sleep(5 + rand() * 20);
      }
    };
    const appender = async (w: number) => {
      const name = `appender-${w}`;
      while (!stop) {
        let a = pendingAppends.get(name);
        if (!a) {
          const n = 1 + Math.floor(rand() * 4);
          const key = `rel-${w}-${apSeq++}`;
          const body = JSON.stringify(Array.from({ length: n }, (_, j) => ({ key, j, round })));
          a = { key, body, n };
          pendingAppends.set(name, a);
        }
        try {
          if (await postAppend(s, m, a)) pendingAppends.delete(name);
        } catch {
          return;
        }
        await sleep(rand() * p.paceMs);
      }
    };
    const poller = async () => {
      let last = -1;
      while (!stop) {
        try {
          const cp = await fetchCheckpoint(s.url, s.vkey);
          m.observe(cp);
          if (cp.size !== last) newCheckpoint?.();
          last = cp.size;
        } catch {
          return;
        }
        await sleep(2);
      }
    };
    const workers = [
      ...Array.from({ length: p.uploaders }, (_, u) => uploader(u)),
      ...Array.from({ length: p.appenders }, (_, w) => appender(w)),
      bigUploader(),
      poller(),
    ];
    // When to kill.
    const strategy = (['random', 'mid-batch', 'mid-signing'] as const)[round % 3]!;
    strategies[strategy] = (strategies[strategy] ?? 0) + 1;
    const warmup = p.minKillMs + rand() * (p.maxKillMs - p.minKillMs);
    await sleep(strategy === 'random' ? warmup : warmup / 2);
    if (strategy !== 'random') {
      // Wait (bounded) for the moment: a large upload just went out, or a checkpoint just
      // appeared (the next signing is due within one interval); then a short random delay.
      await Promise.race([
        new Promise<void>((r) => {
          if (strategy === 'mid-batch') bigSent = r;
          else newCheckpoint = r;
        }),
        sleep(2_000),
      ]);
      await sleep(strategy === 'mid-batch' ? rand() * 40 : rand() * p.signIntervalMs);
    }
    kills++;
    await s.kill();
    stop = true;
    await Promise.all(workers);
  }

  // Final restart: settle what is still pending (retrying with the same bytes), then check
  // everything from scratch, look every acknowledged decision up, and resend every
  // acknowledged request: none may add a leaf.
  const m = mirror!;
  const s = srv!;
  for (const [source, up] of pendingUploads) {
    for (let i = 0; i < 50 && !(await postUpload(s, m, up)); i++) await sleep(50);
    pendingUploads.delete(source);
  }
  for (const [name, a] of pendingAppends) {
    for (let i = 0; i < 50 && !(await postAppend(s, m, a)); i++) await sleep(50);
    pendingAppends.delete(name);
  }
  await waitCovered(s, m.acknowledged === 0 ? 0 : maxIndex(uploads, appends) + 1);
  await m.sync(s.url, { full: true, rand });
  const decisionKeys = uploads.flatMap((u) => u.ids.map((id) => leafKey(u.source, id)));
  await lookup(
    s,
    m,
    Number.isFinite(p.finalLookups) ? sample(decisionKeys, p.finalLookups) : decisionKeys.slice(),
  );
  const badResends: string[] = [];
  let resent = 0;
  const sizeBefore = m.size;
  const resendUploads = async (list: Upload[]) => {
    for (const up of list) {
      const res = await send(`${s.url}/logs`, { method: 'POST', headers: OPA_HEADERS, body: up.body });
      const text = await res.text();
      resent++;
      const body =
        res.status === 200 ? (JSON.parse(text) as { appended: number; indices: number[] }) : undefined;
      const same =
        body !== undefined &&
        body.appended === 0 &&
        JSON.stringify(body.indices) === JSON.stringify(up.acked);
      if (!same) {
        badResends.push(`upload ${up.source}/${up.ids[0]}: ${res.status} ${text.slice(0, 200)}`);
      }
    }
  };
  const resendAppends = async (list: Append[]) => {
    for (const a of list) {
      const res = await send(`${s.url}/v1/entries`, {
        method: 'POST',
        headers: { ...APPEND_HEADERS, 'idempotency-key': a.key },
        body: a.body,
      });
      const text = await res.text();
      resent++;
      const body =
        res.status === 200 ? (JSON.parse(text) as { indices: number[]; duplicates: boolean[] }) : undefined;
      const same =
        body?.duplicates.every(Boolean) === true && JSON.stringify(body.indices) === JSON.stringify(a.acked);
      if (!same) {
        badResends.push(`append ${a.key}: ${res.status} ${text.slice(0, 200)}`);
      }
    }
  };
  const chunks = 4;
  await Promise.all(
    Array.from({ length: chunks }, (_, c) =>
      Promise.all([
        resendUploads(uploads.filter((_, i) => i % chunks === c)),
        resendAppends(appends.filter((_, i) => i % chunks === c)),
      ]),
    ),
  );
  // Give the signer several intervals: the tree must not have grown.
  await sleep(Math.max(100, p.signIntervalMs * 10));
  const after = await fetchCheckpoint(s.url, s.vkey);
  m.observe(after);
  if (after.size !== sizeBefore)
    badResends.push(`the tree grew from ${sizeBefore} to ${after.size} on resend`);
  const finalExit = await s.stop();
  const db = new Database(`${data}/log.db`, { readonly: true });
  let rowsAfter: number;
  try {
    rowsAfter = db.prepare(STORED_ENTRIES_SQL).pluck().get() as number;
  } finally {
    db.close();
  }
  m.finish();
  return {
    kills,
    strategies,
    acknowledgedDecisions: decisionKeys.length,
    acknowledgedEntries: appends.reduce((n, a) => n + a.n, 0),
    leaves: m.size,
    checkpointsObserved: m.observedCount,
    lookups,
    resent,
    unexpected,
    badResends,
    rowsAfter,
    lost: m.lost,
    duplicated: m.duplicated,
    forks: m.forks,
    problems: m.problems,
    crashed: servers.some((x) => x.crashed()),
    finalExit,
  };
}

function maxIndex(uploads: Upload[], appends: Append[]): number {
  let mx = -1;
  for (const u of uploads) for (const i of u.acked ?? []) mx = Math.max(mx, i);
  for (const a of appends) for (const i of a.acked ?? []) mx = Math.max(mx, i);
  return mx;
}

/** Waits (bounded, 10 s) until a signed checkpoint covers `size` leaves. */
async function waitCovered(s: Server, size: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await fetchCheckpoint(s.url, s.vkey)).size >= size) return;
    await sleep(50);
  }
  throw new Error(`no checkpoint covered ${size} leaves within 10 s`);
}
