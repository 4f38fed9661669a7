/**
 * Interop during a signer key rotation: a server running with its old and its new key signs
 * every checkpoint with both, and Go's reference golang.org/x/mod/sumdb/note (note.Open, via
 * tlogcheck) verifies that checkpoint, and the tiles under it, with either key alone. Skipped
 * without Go (fatal with OPA_TLOG_REQUIRE_GO=1; CI sets it).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNote } from '../../src/core/note.js';
import { append, CLI, checkpointCovering, type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { goAvailable, runTlogCheck } from './go-harness.js';

const HAVE_GO = goAvailable();
const ORIGIN = 'rotation.interop.opa-tlog.dev/log';

describe.skipIf(!HAVE_GO)("Go's note.Open on a checkpoint signed by two keys", () => {
  let srv: RunningServer | undefined;
  afterAll(async () => {
    await srv?.stop();
  });

  it('verifies with the old key alone and with the new key alone; refuses a third key', async () => {
    const data = tempDir('opa-tlog-go-rot-');
    for (const name of ['log', 'next', 'stranger']) {
      const r = spawnSync(
        process.execPath,
        [CLI, 'keygen', '--origin', ORIGIN, '--out', data, '--name', name],
        {
          encoding: 'utf8',
        },
      );
      expect(r.status).toBe(0);
    }
    const vkey = (name: string) => readFileSync(join(data, `${name}.vkey`), 'utf8').trim();
    srv = await startServer(data, [
      '--key',
      join(data, 'log.key'),
      '--key',
      join(data, 'next.key'),
      '--sign-interval-ms',
      '20',
    ]);
    await append(srv.url, 300);
    const note = await checkpointCovering(srv.url, 300);
    expect(note.split('\n')[1]).toBe('300');
    expect(parseNote(note).signatures.map((s) => s.name)).toEqual([ORIGIN, ORIGIN]);
    for (const name of ['log', 'next']) {
      const r = await runTlogCheck([
        '-url',
        srv.url,
        '-vkey',
        vkey(name),
        '-origin',
        ORIGIN,
        '-index',
        '0,299',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as { size: number }).size).toBe(300);
    }
    const stranger = await runTlogCheck(['-url', srv.url, '-vkey', vkey('stranger'), '-index', '0']);
    expect(stranger.code).not.toBe(0);
    expect(stranger.stderr).toMatch(/checkpoint signature/);
  }, 60_000);
});
