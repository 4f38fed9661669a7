/**
 * Disk trouble: the database on a tiny tmpfs that fills up under load, then grows again
 * (remount with a larger size); and the data directory mounted read-only. Needs root and a
 * kernel that lets us mount (skipped with a warning otherwise).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  errorBody,
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

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });

/** True if this process may mount a tmpfs (root, and mounts allowed). */
export function canMount(): boolean {
  const dir = tempDir('opa-tlog-rel-mountprobe-');
  try {
    run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    run('umount', [dir]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface DiskParams {
  /** Size of the tmpfs at first, KiB. */
  smallKiB: number;
  /** Requests sent while the disk is full before giving up waiting for errors. */
  maxRequests: number;
  seed: number;
}

export interface DiskResult {
  /** Answers while the disk was filling: `${status} ${error}` -> count. */
  answers: Record<string, number>;
  /** Answers that are neither 200 nor 503/507 with a JSON body (e.g. 500). */
  badAnswers: string[];
  /** Non-2xx answers seen while full (to prove the disk really filled). */
  refusals: number;
  /** The process died on its own while the disk was full. */
  crashedWhileFull: boolean;
  serverLog: string;
  /** After space returned: the same process took an upload (without a restart). */
  recoveredWithoutRestart: boolean;
  /** ... and signed a checkpoint covering it. */
  signedAfterRecovery: boolean;
  acknowledged: number;
  lost: number;
  duplicated: number;
  forks: number;
  problems: string[];
  /** SIGTERM after recovery exited 0, and a restart passed the fork guard. */
  restartExit: number | null;
  restarted: boolean;
  integrity: string;
  /** (a) after a clean stop, (b) after a SIGKILL (WAL left behind). */
  readOnly: [ReadOnlyEpisode, ReadOnlyEpisode];
}

export interface ReadOnlyEpisode {
  /** The WAL file existed when the read-only start was tried. */
  walPresent: boolean;
  started: boolean;
  /** Why it did not start (the process output). */
  exitOutput: string;
  /** If it started: /checkpoint answered 200. */
  readsOk: boolean;
  /** If it started: answers to uploads, and those that are not 503/507 JSON. */
  writeAnswers: string[];
  bad: string[];
  aliveAfter: boolean;
  /** After the episode, a normal start sees every acknowledged decision, unchanged. */
  intactAfter: boolean;
}

const episode = (): ReadOnlyEpisode => ({
  walPresent: false,
  started: false,
  exitOutput: '',
  readsOk: false,
  writeAnswers: [],
  bad: [],
  aliveAfter: false,
  intactAfter: false,
});

export async function diskTrouble(p: DiskParams): Promise<DiskResult> {
  const rand = rng(p.seed);
  const dir = tempDir('opa-tlog-rel-disk-');
  const roDir = `${dir}-ro`;
  mkdirSync(roDir);
  const mounted: string[] = [];
  const servers: Server[] = [];
  const r: DiskResult = {
    answers: {},
    badAnswers: [],
    refusals: 0,
    crashedWhileFull: false,
    serverLog: '',
    recoveredWithoutRestart: false,
    signedAfterRecovery: false,
    acknowledged: 0,
    lost: 0,
    duplicated: 0,
    forks: 0,
    problems: [],
    restartExit: null,
    restarted: false,
    integrity: '',
    readOnly: [episode(), episode()],
  };
  try {
    run('mount', ['-t', 'tmpfs', '-o', `size=${p.smallKiB}k`, 'tmpfs', dir]);
    mounted.push(dir);
    let srv = await launch(dir, ['--sign-interval-ms', '20']);
    servers.push(srv);
    const m = new LogMirror(srv.vkey);
    const uploads: Upload[] = [];

    /** One upload; 'ok', 'refused' or 'dead'. */
    const attempt = async (s: Server, up: Upload, record: boolean): Promise<'ok' | 'refused' | 'dead'> => {
      let res: Response;
      let text: string;
      try {
        res = await send(`${s.url}/logs`, { method: 'POST', headers: OPA_HEADERS, body: up.body });
        text = await res.text();
      } catch {
        return 'dead';
      }
      const e = errorBody(text);
      if (record) {
        const k = `${res.status} ${e?.error ?? ''}`.trim();
        r.answers[k] = (r.answers[k] ?? 0) + 1;
      }
      if (res.status === 200) {
        const body = JSON.parse(text) as { indices: number[] };
        up.ids.forEach((id, i) => {
          m.ack(leafKey(up.source, id), body.indices[i]!);
        });
        uploads.push(up);
        return 'ok';
      }
      if (record && !((res.status === 503 || res.status === 507) && e)) {
        r.badAnswers.push(`${res.status} ${text.slice(0, 200)}`);
      }
      return 'refused';
    };

    // Fill the disk: three uploaders until each saw 20 refusals in a row (or the budget ends).
    let sent = 0;
    await Promise.all(
      Array.from({ length: 3 }, async (_, u) => {
        let inARow = 0;
        while (inARow < 20 && sent < p.maxRequests) {
          sent++;
          const a = await attempt(srv, makeUpload(`disk-${u}`, 5 + Math.floor(rand() * 30), sent * 40), true);
          if (a === 'dead') return;
          if (a === 'refused') {
            r.refusals++;
            inARow++;
          } else inARow = 0;
        }
      }),
    );
    await sleep(100); // a few signer intervals while full
    r.crashedWhileFull = !srv.alive();
    r.serverLog = srv.output();

    // Space returns.
    run('mount', ['-o', `remount,size=${64 * 1024}k`, dir]);
    if (srv.alive()) {
      for (let i = 0; i < 100; i++) {
        const a = await attempt(srv, makeUpload('disk-after', 10, 1_000_000 + i * 10), false);
        if (a === 'ok') {
          r.recoveredWithoutRestart = true;
          break;
        }
        if (a === 'dead') break;
        await sleep(50);
      }
      if (r.recoveredWithoutRestart) {
        const want =
          Math.max(...uploads.flatMap((u) => u.ids.map((id) => m.ackedIndex(leafKey(u.source, id))!))) + 1;
        for (let i = 0; i < 100; i++) {
          if ((await fetchCheckpoint(srv.url, srv.vkey)).size >= want) {
            r.signedAfterRecovery = true;
            break;
          }
          await sleep(50);
        }
      }
    }
    if (!srv.alive()) {
      srv = await launch(dir, ['--sign-interval-ms', '20']);
      servers.push(srv);
    }
    await m.sync(srv.url, { full: true, rand });
    r.restartExit = await srv.stop();

    // A restart passes the fork guard and serves the same tree.
    srv = await launch(dir, ['--sign-interval-ms', '20']);
    servers.push(srv);
    r.restarted = true;
    await m.sync(srv.url, { full: true, rand });
    await srv.stop();
    const db = new Database(join(dir, 'log.db'), { readonly: true });
    try {
      r.integrity = String(db.pragma('integrity_check', { simple: true }));
    } finally {
      db.close();
    }

    // Read-only: the same data directory through a read-only bind mount, (a) after a clean
    // stop (no WAL left) and (b) after a SIGKILL (WAL and shm left behind, as after a crash).
    const roEpisode = async (into: DiskResult['readOnly'][number]) => {
      into.walPresent = existsSync(join(dir, 'log.db-wal'));
      run('mount', ['--bind', dir, roDir]);
      mounted.push(roDir);
      try {
        run('mount', ['-o', 'remount,bind,ro', roDir]);
        const ro = await launch(roDir, ['--sign-interval-ms', '20']);
        servers.push(ro);
        into.started = true;
        into.readsOk = (await send(`${ro.url}/checkpoint`)).status === 200;
        for (let i = 0; i < 3; i++) {
          const res = await send(`${ro.url}/logs`, {
            method: 'POST',
            headers: OPA_HEADERS,
            body: makeUpload('disk-ro', 3, 2_000_000 + i * 3).body,
          });
          const text = await res.text();
          into.writeAnswers.push(`${res.status} ${text.slice(0, 200)}`);
          if (!((res.status === 503 || res.status === 507) && errorBody(text)))
            into.bad.push(`${res.status} ${text}`);
        }
        into.aliveAfter = ro.alive();
        await ro.stop();
      } catch (err) {
        into.exitOutput = (err as Error).message;
      } finally {
        run('umount', [roDir]);
        mounted.pop();
      }
      srv = await launch(dir, ['--sign-interval-ms', '20']);
      servers.push(srv);
      const before = m.lost + m.forks;
      await m.sync(srv.url, { full: true, rand });
      into.intactAfter = m.lost + m.forks === before && m.size > 0;
    };
    // (a) a clean stop: open once more, then SIGTERM.
    srv = await launch(dir, ['--sign-interval-ms', '20']);
    servers.push(srv);
    await srv.stop();
    await roEpisode(r.readOnly[0]);
    // (b) write something, wait until it is signed (so a start has nothing to sign), then
    // SIGKILL: the WAL and shm stay.
    if ((await attempt(srv, makeUpload('disk-before-kill', 5, 3_000_000), false)) !== 'ok') {
      r.problems.push('upload before the read-only episode (b) was refused');
    }
    for (let i = 0; i < 100 && (await fetchCheckpoint(srv.url, srv.vkey)).size < m.acknowledged; i++) {
      await sleep(20);
    }
    await srv.kill();
    await roEpisode(r.readOnly[1]);
    await srv.stop();

    m.finish();
    r.acknowledged = m.acknowledged;
    r.lost = m.lost;
    r.duplicated = m.duplicated;
    r.forks = m.forks;
    r.problems = m.problems;
    return r;
  } finally {
    for (const s of servers) if (s.alive()) await s.kill();
    for (const d of mounted.reverse()) {
      try {
        run('umount', [d]);
      } catch {
        run('umount', ['-l', d]);
      }
    }
    rmSync(roDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SignerFullResult {
  /** The upload committed (200) before the disk was filled. */
  acked: boolean;
  /** The process was alive after two signer intervals on the full disk. */
  aliveOnFullDisk: boolean;
  output: string;
  /** After freeing space (and a restart if it died): the upload is there, fork guard passed. */
  intactAfter: boolean;
}

/**
 * Deterministic: commit an upload, fill the disk before the next signer tick (1 s), wait two
 * ticks, see whether the process survived; then free the space and check nothing was lost.
 */
export async function signerOnFullDisk(): Promise<SignerFullResult> {
  const dir = tempDir('opa-tlog-rel-signer-');
  const servers: Server[] = [];
  let mounted = false;
  const r: SignerFullResult = { acked: false, aliveOnFullDisk: false, output: '', intactAfter: false };
  try {
    run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
    mounted = true;
    let srv = await launch(dir, ['--sign-interval-ms', '1000']);
    servers.push(srv);
    const m = new LogMirror(srv.vkey);
    await m.sync(srv.url);
    // Right after a signer tick (a new checkpoint appeared), commit and fill the disk.
    const up = makeUpload('signer-full', 20, 0);
    const res = await send(`${srv.url}/logs`, { method: 'POST', headers: OPA_HEADERS, body: up.body });
    const text = await res.text();
    if (res.status === 200) {
      r.acked = true;
      const body = JSON.parse(text) as { indices: number[] };
      up.ids.forEach((id, i) => {
        m.ack(leafKey(up.source, id), body.indices[i]!);
      });
    }
    const fd = openSync(join(dir, 'filler'), 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (let i = 0; i < 1024; i++) writeSync(fd, chunk); // at most 64 MiB; ENOSPC ends it
    } catch {
      // the disk is full
    } finally {
      closeSync(fd);
    }
    for (let i = 0; i < 25 && srv.alive(); i++) await sleep(100);
    r.aliveOnFullDisk = srv.alive();
    r.output = srv.output();
    rmSync(join(dir, 'filler'));
    if (!srv.alive()) {
      srv = await launch(dir, ['--sign-interval-ms', '1000']);
      servers.push(srv);
    }
    for (let i = 0; i < 60 && (await fetchCheckpoint(srv.url, srv.vkey)).size < m.acknowledged; i++) {
      await sleep(50);
    }
    await m.sync(srv.url, { full: true });
    await srv.stop();
    srv = await launch(dir, ['--sign-interval-ms', '1000']); // the fork guard passes
    servers.push(srv);
    await m.sync(srv.url, { full: true });
    await srv.stop();
    m.finish();
    r.intactAfter = r.acked && m.lost === 0 && m.forks === 0 && m.duplicated === 0;
    return r;
  } finally {
    for (const s of servers) if (s.alive()) await s.kill();
    if (mounted) {
      try {
        run('umount', [dir]);
      } catch {
        run('umount', ['-l', dir]);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
