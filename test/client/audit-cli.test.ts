/**
 * The auditor (full download and recomputation, resumable) against our log and against a
 * generic C2SP tlog-tiles log with opaque entries, and the `verify` / `audit` CLI entry points
 * with their exit codes and printed evidence.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { runAudit } from '../../src/cli/audit.js';
import { type CliIo, runVerify } from '../../src/cli/verify.js';
import { auditLog, MemoryAuditStateStore } from '../../src/client/audit.js';
import { LogClient } from '../../src/client/client.js';
import { VerifyError, type VerifyErrorCode } from '../../src/client/errors.js';
import type { FetchLike } from '../../src/client/http.js';
import { encodeEntryBundle } from '../../src/core/bundle.js';
import { signCheckpoint } from '../../src/core/checkpoint.js';
import { leafHash } from '../../src/core/merkle.js';
import { ed25519SignerFromSeed } from '../../src/core/note.js';
import { entryBundlePath, hashTilePath, TileBuilder } from '../../src/core/tiles.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { tempDir } from '../helpers/tmp.js';
import { BASE, bytesResponse, grow, logFetch, lying, makeLog, TEST_SIGNER } from './fixture.js';

const logs: TransparencyLog[] = [];
afterEach(() => {
  for (const l of logs.splice(0)) l.close();
});
async function open(n: number, opts: Parameters<typeof makeLog>[1] = {}): Promise<TransparencyLog> {
  const log = await makeLog(n, opts);
  logs.push(log);
  return log;
}
const tmp = () => tempDir('opa-tlog-cli-');

async function code(p: Promise<unknown>): Promise<VerifyErrorCode | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof VerifyError) return err.code;
    throw err;
  }
}

/**
 * A generic tlog-tiles log (not opa-tlog): opaque entries, tiles and bundles in a map, every
 * partial tile of every published size kept. Returns a fetch serving it and a publish function.
 */
function genericLog(origin: string) {
  const signer = ed25519SignerFromSeed(origin, new Uint8Array(32).fill(42));
  const files = new Map<string, Uint8Array>();
  const entries: Uint8Array[] = [];
  const builder = new TileBuilder();
  let checkpoint = '';
  const publish = (add: number) => {
    for (let k = 0; k < add; k++) {
      const e = new TextEncoder().encode(`opaque record ${entries.length}\n`);
      entries.push(e);
      for (const w of builder.append([leafHash(e)])) files.set(hashTilePath(w), w.data);
    }
    const size = entries.length;
    for (let n = 0; n * 256 < size; n++) {
      const chunk = entries.slice(n * 256, Math.min(size, n * 256 + 256));
      files.set(entryBundlePath(n, chunk.length), encodeEntryBundle(chunk));
    }
    checkpoint = signCheckpoint({ origin, size, rootHash: builder.root() }, signer);
  };
  const fetch: FetchLike = async (input) => {
    const path = new URL(input).pathname.slice(1);
    if (path === 'checkpoint') return bytesResponse(checkpoint);
    const f = files.get(path);
    return f ? bytesResponse(f) : bytesResponse('not found', 404);
  };
  return { signer, fetch, publish, files, size: () => entries.length };
}

describe('audit', () => {
  test('our log: every tile and bundle recomputed, resumable, checkpoints compared', async () => {
    const log = await open(700);
    const c = new LogClient({ url: BASE, vkey: TEST_SIGNER.vkey, fetch: logFetch(log) });
    const store = new MemoryAuditStateStore();
    const partial = await auditLog(c, store, { maxBundles: 1 });
    expect(partial.complete).toBe(false);
    expect(store.state?.size).toBe(256);
    await grow(log, 700, 1000);
    const done: number[] = [];
    const full = await auditLog(c, store, { onProgress: (d) => done.push(d) });
    expect(full).toMatchObject({ complete: true, size: 1000, resumedFrom: 256 });
    expect(full.stats).toEqual({ entries: 1000, erasures: 0, opaque: 0 });
    expect(full.checkpointsChecked).toBe(2); // 700 (seen in the first run) and 1000
    expect(full.tilesChecked).toBeGreaterThanOrEqual(3);
    expect(done.at(-1)).toBe(1000);
    // Re-running with nothing new re-checks the latest root from the saved edge.
    expect((await auditLog(c, store)).checkpointsChecked).toBe(1);
  });

  test('a generic tlog-tiles log with opaque entries', async () => {
    const g = genericLog('generic.example/log');
    g.publish(300);
    const c = new LogClient({ url: BASE, vkey: g.signer.vkey, fetch: g.fetch });
    const r = await auditLog(c, new MemoryAuditStateStore());
    expect(r).toMatchObject({ complete: true, size: 300 });
    expect(r.stats).toEqual({ entries: 0, erasures: 0, opaque: 300 });
    expect((await c.update()).status).toBe('first_use');
    g.publish(10);
    expect((await c.update()).status).toBe('advanced');
    const e = await c.verifyEntryFromTiles(305);
    expect(e.entry).toBeUndefined();
    expect(new TextDecoder().decode(e.entryBytes)).toBe('opaque record 305\n');
  });

  test('refusals: tampered tile, missing bundle, rollback, fork', async () => {
    const g = genericLog('generic.example/log');
    g.publish(600);
    const c = (f: FetchLike) => new LogClient({ url: BASE, vkey: g.signer.vkey, fetch: f });
    const flip = lying(g.fetch, async (path, res) => {
      if (path !== 'tile/0/001') return undefined;
      const b = new Uint8Array(await res.arrayBuffer());
      b[100] = b[100]! ^ 1;
      return bytesResponse(b);
    });
    expect(await code(auditLog(c(flip), new MemoryAuditStateStore()))).toBe('bad_tile');
    const hole = lying(g.fetch, (path) => (path === 'tile/entries/001' ? bytesResponse('', 404) : undefined));
    expect(await code(auditLog(c(hole), new MemoryAuditStateStore()))).toBe('gap');
    const shortBundle = lying(g.fetch, async (path, res) =>
      path === 'tile/entries/002.p/88'
        ? bytesResponse((await res.arrayBuffer()).slice(0, 40) as never)
        : undefined,
    );
    expect(await code(auditLog(c(shortBundle), new MemoryAuditStateStore()))).toBe('bad_tile');

    // Rollback: the auditor saw 600; the log now shows its older checkpoint of 5.
    const a = await open(5);
    const old = a.latest().note;
    await grow(a, 5, 9);
    const ca = (f: FetchLike) => new LogClient({ url: BASE, vkey: TEST_SIGNER.vkey, fetch: f });
    const store = new MemoryAuditStateStore();
    await auditLog(ca(logFetch(a)), store);
    const rolled = lying(logFetch(a), (path) => (path === 'checkpoint' ? bytesResponse(old) : undefined));
    expect(await code(auditLog(ca(rolled), store))).toBe('rollback');

    // Fork: another log under the same key rewrote leaf 3 and grew; the auditor had matched size 9.
    const b = await open(3);
    await grow(b, 3, 20, '-fork');
    try {
      await auditLog(ca(logFetch(b)), store);
      throw new Error('accepted a fork');
    } catch (err) {
      expect((err as VerifyError).code).toBe('fork');
      expect((err as VerifyError).evidence.trusted).toBe(a.latest().note);
      expect((err as VerifyError).evidence.checkpoint).toBe(b.latest().note);
    }
  });
});

function io(fetch?: FetchLike): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (l) => stdout.push(l),
    err: (l) => stderr.push(l),
    isTTY: false,
    env: {},
    ...(fetch ? { fetch } : {}),
  };
}

describe('CLI', () => {
  test('verify checkpoint with a state file: 0, then 1 with both notes for a fork', async () => {
    const a = await open(5);
    const b = await open(3);
    await grow(b, 3, 5, '-fork');
    const dir = tmp();
    const vkeyFile = join(dir, 'log.vkey');
    writeFileSync(vkeyFile, `${TEST_SIGNER.vkey}\n`);
    const state = join(dir, 'state', 'checkpoint');
    const args = ['checkpoint', '--url', BASE, '--vkey', vkeyFile, '--state', state];
    const ok = io(logFetch(a));
    expect(await runVerify(args, ok)).toBe(0);
    expect(ok.stdout.join('\n')).toContain('tree size 5');
    expect(readFileSync(state, 'utf8')).toBe(a.latest().note);
    const bad = io(logFetch(b));
    expect(await runVerify(args, bad)).toBe(1);
    const err = bad.stderr.join('\n');
    expect(err).toContain('refused (fork)');
    expect(err).toContain(a.latest().note.split('\n')[2]);
    expect(err).toContain(b.latest().note.split('\n')[2]);
    expect(readFileSync(state, 'utf8')).toBe(a.latest().note);
  });

  test('verify decision, verify proof, usage and network errors', async () => {
    const log = await open(12);
    const dir = tmp();
    const proofFile = join(dir, 'd5.tlog-proof');
    const base = ['--url', BASE, '--vkey', TEST_SIGNER.vkey];
    const d = io(logFetch(log));
    expect(
      await runVerify(['decision', 'd5', ...base, '--source', 'svc', '--save-proof', proofFile], d),
    ).toBe(0);
    expect(d.stdout.join('\n')).toContain('"decision_id": "d5"');
    expect(await runVerify(['proof', proofFile, '--vkey', TEST_SIGNER.vkey], io())).toBe(0);
    const entryFile = join(dir, 'other.entry');
    writeFileSync(entryFile, (await log.entry(6))!);
    const wrong = io();
    expect(
      await runVerify(['proof', proofFile, '--vkey', TEST_SIGNER.vkey, '--entry-file', entryFile], wrong),
    ).toBe(1);
    expect(wrong.stderr.join('\n')).toContain('refused (bad_inclusion)');
    expect(await runVerify(['decision', 'd5', '--url', BASE], io(logFetch(log)))).toBe(2);
    expect(await runVerify(['frobnicate', ...base], io(logFetch(log)))).toBe(2);
    const down: FetchLike = async () => {
      throw new TypeError('connect ECONNREFUSED');
    };
    expect(await runVerify(['checkpoint', ...base], io(down))).toBe(2);
    expect(await runVerify(['decision', 'missing', ...base], io(logFetch(log)))).toBe(1);
  });

  test('audit: 0 on an honest log with a resumable state dir, 1 on a lying one', async () => {
    const log = await open(300);
    const dir = tmp();
    const args = ['--url', BASE, '--vkey', TEST_SIGNER.vkey, '--state', dir];
    const ok = io(logFetch(log));
    expect(await runAudit(args, ok)).toBe(0);
    expect(ok.stdout.join('\n')).toContain('leaves audited 300');
    const saved = JSON.parse(readFileSync(join(dir, 'audit-state.json'), 'utf8')) as { size: number };
    expect(saved.size).toBe(300);
    await grow(log, 300, 310);
    const more = io(logFetch(log));
    expect(await runAudit(args, more)).toBe(0);
    expect(more.stdout.join('\n')).toContain('this run from 300');
    const flipped = lying(logFetch(log), async (path, res) => {
      if (path !== 'tile/0/001.p/54') return undefined;
      const b = new Uint8Array(await res.arrayBuffer());
      b[0] = b[0]! ^ 1;
      return bytesResponse(b);
    });
    await grow(log, 310, 310);
    const bad = io(flipped);
    expect(await runAudit(['--url', BASE, '--vkey', TEST_SIGNER.vkey], bad)).toBe(1);
    expect(bad.stderr.join('\n')).toContain('refused (bad_tile)');
    expect(await runAudit(['--url', BASE], io())).toBe(2);
  });
});
