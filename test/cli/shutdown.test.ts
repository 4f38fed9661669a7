/**
 * Graceful shutdown of the real server process: SIGTERM under concurrent uploads refuses new
 * uploads with 503 shutting_down + Retry-After, commits what is queued, signs a last checkpoint
 * covering every committed leaf and exits 0; a second signal exits at once (143); a stop that
 * outlasts --shutdown-timeout-ms exits 1. In every case each acknowledged upload is present
 * after a restart.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { decodeEntry } from '../../src/core/entry.js';
import { newEd25519Verifier } from '../../src/core/note.js';
import { tempDir } from '../helpers/log.js';
import { fetchAllEntries, type RunningServer, startServer } from '../helpers/server.js';
import { STORED_ENTRIES_SQL } from '../helpers/sqlite.js';

const SIGNAL_LINE = 'refusing new uploads';

interface Load {
  /** Idempotency key -> indices, for every upload answered 200. */
  readonly acked: Map<string, number[]>;
  /** Answers to uploads sent after the server printed that it stopped accepting. */
  readonly afterSignal: Answer[];
  stop(): Promise<void>;
}

/** Eight writers posting small batches to /v1/entries until the server goes away. */
function uploadLoad(srv: RunningServer, tag: string): Load {
  const acked = new Map<string, number[]>();
  const afterSignal: Load['afterSignal'] = [];
  let stop = false;
  const writer = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const key = `${tag}-w${w}-${i}`;
      const stopped = srv.output().includes(SIGNAL_LINE);
      try {
        const res = await fetch(`${srv.url}/v1/entries`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(Array.from({ length: 1 + ((w + i) % 3) }, (_, j) => ({ w, i, j }))),
        });
        const body = (await res.json()) as { indices?: number[]; error?: string };
        if (stopped) {
          afterSignal.push({
            status: res.status,
            retryAfter: res.headers.get('retry-after') ?? undefined,
            error: body.error ?? '',
          });
        }
        if (res.status === 200) acked.set(key, body.indices!);
      } catch {
        return; // the server stopped listening
      }
    }
  };
  const running = Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
  return {
    acked,
    afterSignal,
    stop: async () => {
      stop = true;
      await running;
    },
  };
}

/** Waits until `srv` printed `text`. */
async function waitForOutput(srv: RunningServer, text: string): Promise<void> {
  for (let i = 0; i < 400 && !srv.output().includes(text); i++) await new Promise((r) => setTimeout(r, 5));
  expect(srv.output()).toContain(text);
}

/**
 * Runs uploads against `srv` for `ms`, starts an upload whose body is still being sent, then
 * sends SIGTERM and waits until the server logged the signal. Returns the load, the half-sent
 * upload and the exit code to come.
 */
async function terminateUnderLoad(
  srv: RunningServer,
  tag: string,
  ms: number,
): Promise<{ load: Load; half: ReturnType<typeof halfUpload>; exited: Promise<number | null> }> {
  const load = uploadLoad(srv, tag);
  await new Promise((r) => setTimeout(r, ms));
  const half = halfUpload(srv.url);
  await new Promise((r) => setTimeout(r, 50));
  const exited = srv.stop();
  await waitForOutput(srv, SIGNAL_LINE);
  return { load, half, exited };
}

/** Restarts the log and checks every acknowledged upload is there, with its id. */
async function expectAckedPresent(data: string, acked: Map<string, number[]>): Promise<void> {
  const srv = await startServer(data);
  try {
    const note = await (await fetch(`${srv.url}/checkpoint`)).text();
    const size = openCheckpoint(note, newEd25519Verifier(srv.vkey)).checkpoint.size;
    const entries = await fetchAllEntries(srv.url, size);
    for (const [key, indices] of acked) {
      indices.forEach((idx, j) => {
        expect(idx, `acked ${key} at ${idx} beyond size ${size}`).toBeLessThan(size);
        expect(decodeEntry(entries[idx]!).id).toBe(`${key}/${j}`);
      });
    }
  } finally {
    expect(await srv.stop()).toBe(0);
  }
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  error: string;
}

/**
 * Starts an upload and sends half its body: a request in flight, which holds the HTTP close
 * open (up to its grace period). `finish` sends the rest and resolves with the answer.
 */
function halfUpload(url: string): { finish(): Promise<Answer>; abort(): void } {
  const u = new URL(url);
  const [head, tail] = ['[{"late":', '1}]'];
  let answered: (a: Answer) => void = () => undefined;
  const answer = new Promise<Answer>((r) => {
    answered = r;
  });
  const req = request(
    {
      host: u.hostname,
      port: u.port,
      path: '/v1/entries',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(head.length + tail.length) },
    },
    (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
      });
      res.on('end', () => {
        const ra = res.headers['retry-after'];
        answered({
          status: res.statusCode ?? 0,
          retryAfter: typeof ra === 'string' ? ra : undefined,
          error: (JSON.parse(text) as { error?: string }).error ?? '',
        });
      });
    },
  );
  req.on('error', () => undefined);
  req.write(head);
  return {
    finish: () => {
      req.end(tail);
      return answer;
    },
    abort: () => req.destroy(),
  };
}

describe('graceful shutdown', () => {
  test('SIGTERM under concurrent uploads: 503 after the signal, queue committed, last checkpoint signed, exit 0', async () => {
    const data = tempDir('opa-tlog-shutdown-');
    const srv = await startServer(data, ['--sign-interval-ms', '50']);
    const { load, half: late, exited } = await terminateUnderLoad(srv, 'a', 400);
    // An upload whose body completes after the signal is refused, not acknowledged.
    expect(await late.finish()).toEqual({ status: 503, retryAfter: '5', error: 'shutting_down' });
    expect(await exited).toBe(0);
    await load.stop();
    expect(load.acked.size).toBeGreaterThan(0);
    for (const a of load.afterSignal) {
      expect(a).toEqual({ status: 503, retryAfter: '5', error: 'shutting_down' });
    }
    // The last checkpoint was signed before exit and covers every committed leaf.
    const db = new Database(join(data, 'log.db'), { readonly: true });
    try {
      const leaves = db.prepare(STORED_ENTRIES_SQL).pluck().get() as number;
      const signed = db.prepare('SELECT max(size) FROM checkpoints').pluck().get() as number;
      expect(signed).toBe(leaves);
      const max = Math.max(...[...load.acked.values()].flat());
      expect(leaves).toBeGreaterThan(max);
    } finally {
      db.close();
    }
    await expectAckedPresent(data, load.acked);
  }, 60_000);

  test('a second signal exits at once, losing nothing acknowledged', async () => {
    const data = tempDir('opa-tlog-shutdown2-');
    const srv = await startServer(data);
    const { load, half, exited } = await terminateUnderLoad(srv, 'b', 300);
    const t0 = Date.now();
    srv.proc.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(Date.now() - t0).toBeLessThan(900);
    expect(srv.output()).toContain('second SIGINT: exiting now');
    half.abort();
    await load.stop();
    for (const a of load.afterSignal) expect(a.status).toBe(503);
    await expectAckedPresent(data, load.acked);
  }, 60_000);

  test('a stop that outlasts --shutdown-timeout-ms exits 1', async () => {
    const data = tempDir('opa-tlog-shutdown3-');
    const srv = await startServer(data, ['--shutdown-timeout-ms', '200']);
    const half = halfUpload(srv.url);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    expect(await srv.stop()).toBe(1);
    expect(Date.now() - t0).toBeLessThan(900);
    expect(srv.output()).toContain('shutdown did not finish within 200 ms');
    half.abort();
    await expectAckedPresent(data, new Map());
  }, 60_000);
});
