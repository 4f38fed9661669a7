/**
 * Overload: many concurrent OPA uploaders against a server with a small append queue
 * (--max-queue) and a slow-ish group commit, so it must refuse work.
 *
 * Phase A (no retries): every answer is 200 or 503 + Retry-After + JSON `overloaded`; some
 * are 503; the server's RSS is sampled throughout. Then the load drops: once the queue drained,
 * the tree holds exactly the acknowledged decisions (so a 503 applied nothing).
 * Phase B: a client that retries every refused upload (backing off) gets all of them in; at the
 * end every decision ever sent is in the tree exactly once.
 */
import {
  internalErrors,
  launch,
  makeUpload,
  OPA_HEADERS,
  rng,
  type Server,
  send,
  sleep,
  tempDir,
  type Upload,
} from './harness.js';
import { fetchCheckpoint, LogMirror, leafKey } from './mirror.js';

export interface OverloadParams {
  uploaders: number;
  uploadsEach: number;
  eventsPerUpload: number;
  maxQueue: number;
  /** Most attempts per upload in phase B before giving up (a failure). */
  maxAttempts: number;
  seed: number;
}

export interface OverloadResult {
  sent: number;
  ok: number;
  refused503: number;
  /** 503s without Retry-After or without the JSON `overloaded` body. */
  bad503: string[];
  /** Answers other than 200 / 503, and transport errors. */
  unexpected: string[];
  /** Leaves after phase A vs. decisions acknowledged in phase A. */
  sizeAfterA: number;
  ackedAfterA: number;
  /** Uploads still not in after phase B (must be 0). */
  givenUp: number;
  retries503: number;
  decisions: number;
  leaves: number;
  lost: number;
  duplicated: number;
  forks: number;
  problems: string[];
  rssPeakMb: number;
  crashed: boolean;
}

export async function overload(p: OverloadParams): Promise<OverloadResult> {
  const rand = rng(p.seed);
  const data = tempDir('opa-tlog-rel-overload-');
  const srv: Server = await launch(data, [
    '--max-queue',
    String(p.maxQueue),
    '--max-delay-ms',
    '25',
    '--sign-interval-ms',
    '100',
  ]);
  const m = new LogMirror(srv.vkey);
  const r: OverloadResult = {
    sent: 0,
    ok: 0,
    refused503: 0,
    bad503: [],
    unexpected: [],
    sizeAfterA: 0,
    ackedAfterA: 0,
    givenUp: 0,
    retries503: 0,
    decisions: 0,
    leaves: 0,
    lost: 0,
    duplicated: 0,
    forks: 0,
    problems: [],
    rssPeakMb: 0,
    crashed: false,
  };
  const all: Upload[] = [];
  const refused: Upload[] = [];

  /** One attempt: 'ok', 'busy' (503, or a known-bug 500: retried) or 'bad'. */
  const attempt = async (up: Upload): Promise<'ok' | 'busy' | 'bad'> => {
    r.sent++;
    let res: Response;
    let text: string;
    try {
      res = await send(`${srv.url}/logs`, { method: 'POST', headers: OPA_HEADERS, body: up.body });
      text = await res.text();
    } catch (err) {
      r.unexpected.push(`transport error: ${(err as Error).message}`);
      return 'bad';
    }
    if (res.status === 200) {
      const body = JSON.parse(text) as { indices: number[]; appended: number };
      up.acked = body.indices;
      up.ids.forEach((id, i) => {
        m.ack(leafKey(up.source, id), body.indices[i]!);
      });
      r.ok++;
      return 'ok';
    }
    if (res.status === 503) {
      const ra = res.headers.get('retry-after');
      let code = '';
      try {
        code = (JSON.parse(text) as { error?: string }).error ?? '';
      } catch {
        // not JSON: recorded below
      }
      if (ra === null || !/^[1-9][0-9]*$/.test(ra) || code !== 'overloaded') {
        r.bad503.push(`Retry-After=${ra} body=${text.slice(0, 200)}`);
      }
      return 'busy';
    }
    r.unexpected.push(`${res.status} ${text.slice(0, 300)}${internalErrors(srv)}`);
    return 'bad';
  };

  // Phase A: everyone at once, no retries.
  await Promise.all(
    Array.from({ length: p.uploaders }, async (_, u) => {
      for (let i = 0; i < p.uploadsEach; i++) {
        const up = makeUpload(`overload-${u}`, p.eventsPerUpload, i * p.eventsPerUpload);
        all.push(up);
        const a = await attempt(up);
        if (a === 'busy') {
          r.refused503++;
          refused.push(up);
        }
      }
    }),
  );
  r.ackedAfterA = m.acknowledged;
  // The load dropped: wait (bounded) until the checkpoint covers every acknowledged decision,
  // then the tree must hold exactly those.
  for (let i = 0; i < 200; i++) {
    const cp = await fetchCheckpoint(srv.url, srv.vkey);
    if (cp.size >= r.ackedAfterA) break;
    await sleep(50);
  }
  await sleep(300); // a few more signer intervals: nothing else may appear
  await m.sync(srv.url);
  r.sizeAfterA = m.size;

  // Phase B: a retrying client (backoff with jitter) gets every refused upload in.
  let next = 0;
  await Promise.all(
    Array.from({ length: p.uploaders }, async () => {
      while (next < refused.length) {
        const up = refused[next++]!;
        let done = false;
        for (let i = 0; i < p.maxAttempts && !done; i++) {
          const a = await attempt(up);
          if (a === 'busy') {
            r.retries503++;
            await sleep(20 + rand() * 80);
          } else done = true;
        }
        if (!done) r.givenUp++;
      }
    }),
  );
  for (let i = 0; i < 200; i++) {
    if ((await fetchCheckpoint(srv.url, srv.vkey)).size >= m.acknowledged) break;
    await sleep(50);
  }
  await m.sync(srv.url, { full: true, rand });
  // Every decision ever sent: acknowledged (by phase A or a retry) and in the tree once.
  for (const up of all) {
    if (!up.acked) r.problems.push(`upload ${up.source}/${up.ids[0]} never acknowledged`);
  }
  m.finish();
  r.decisions = all.reduce((n, u) => n + u.ids.length, 0);
  r.leaves = m.size;
  r.lost = m.lost;
  r.duplicated = m.duplicated;
  r.forks = m.forks;
  r.problems.push(...m.problems);
  r.rssPeakMb = srv.rssPeak() / (1024 * 1024);
  r.crashed = srv.crashed() || !srv.alive();
  await srv.stop();
  return r;
}
