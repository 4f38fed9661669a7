/**
 * The judge can fail: LogMirror against a fake tlog-tiles server (signed with the test key)
 * that loses, duplicates, rewrites or forks, and must count each of them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { signCheckpoint } from '../../src/core/checkpoint.js';
import { encodeEntry } from '../../src/core/entry.js';
import { leafHash, rootOfLeafHashes } from '../../src/core/merkle.js';
import { entryBundlePath } from '../../src/core/tiles.js';
import { TEST_ORIGIN, TEST_SIGNER } from '../helpers/log.js';
import { LogMirror, leafKey } from './mirror.js';

const entry = (src: string, id: string) =>
  encodeEntry({ v: 1, kind: 'event', src, id, recv: 1, c: new Uint8Array(32).fill(id.length) });

const rootHex = (entries: Uint8Array[]) =>
  Buffer.from(rootOfLeafHashes(entries.map((e) => leafHash(e)))).toString('hex');

/** A fake log serving `state.entries` with a checkpoint over `state.size` (default all). */
async function fakeLog(state: { entries: Uint8Array[]; size?: number }) {
  const server = http.createServer((req, res) => {
    const entries = state.entries;
    const size = state.size ?? entries.length;
    if (req.url === '/checkpoint') {
      const rootHash = rootOfLeafHashes(entries.slice(0, size).map((e) => leafHash(e)));
      res.end(signCheckpoint({ origin: TEST_ORIGIN, size, rootHash }, TEST_SIGNER));
      return;
    }
    for (let n = 0; n * 256 < size; n++) {
      const width = Math.min(256, size - n * 256);
      if (req.url === `/${entryBundlePath(n, width)}`) {
        const parts = entries
          .slice(n * 256, n * 256 + width)
          .flatMap((e) => [Buffer.from([e.length >> 8, e.length & 0xff]), Buffer.from(e)]);
        res.end(Buffer.concat(parts));
        return;
      }
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('LogMirror (the reliability judge) detects what it must', () => {
  const base = () => Array.from({ length: 300 }, (_, i) => entry('s', `id-${i}`));

  test('an honest log: nothing counted', async () => {
    const state = { entries: base() };
    const url = await fakeLog(state);
    const m = new LogMirror(TEST_SIGNER.vkey);
    m.ack(leafKey('s', 'id-7'), 7);
    await m.sync(url);
    state.entries.push(entry('s', 'id-300'));
    m.observe({ size: 300, root: rootHex(state.entries.slice(0, 300)) });
    await m.sync(url, { full: true });
    m.finish();
    expect([m.lost, m.duplicated, m.forks, m.problems]).toEqual([0, 0, 0, []]);
    expect(m.size).toBe(301);
  });

  test('an acknowledged leaf at the wrong index is lost', async () => {
    const url = await fakeLog({ entries: base() });
    const m = new LogMirror(TEST_SIGNER.vkey);
    m.ack(leafKey('s', 'id-7'), 8);
    await m.sync(url);
    expect(m.lost).toBe(1);
  });

  test('an acknowledged leaf beyond the tree is lost', async () => {
    const url = await fakeLog({ entries: base() });
    const m = new LogMirror(TEST_SIGNER.vkey);
    m.ack(leafKey('s', 'gone'), 300);
    await m.sync(url);
    expect(m.lost).toBe(1);
  });

  test('a (source, id) twice is a duplicate', async () => {
    const entries = base();
    entries.push(entry('s', 'id-5'));
    const url = await fakeLog({ entries });
    const m = new LogMirror(TEST_SIGNER.vkey);
    await m.sync(url);
    expect(m.duplicated).toBe(1);
  });

  test('a rewritten leaf (re-signed) is a changed leaf and a fork of what was observed', async () => {
    const state = { entries: base() };
    const url = await fakeLog(state);
    const m = new LogMirror(TEST_SIGNER.vkey);
    await m.sync(url);
    state.entries[299] = entry('s', 'other');
    state.entries.push(entry('s', 'id-300'));
    await m.sync(url);
    expect(m.lost).toBeGreaterThan(0); // leaf 299 changed
    expect(m.forks).toBeGreaterThan(0); // the new root does not extend the mirrored prefix
  });

  test('two roots for one size, and an observed size beyond the final tree, are forks', async () => {
    const url = await fakeLog({ entries: base() });
    const m = new LogMirror(TEST_SIGNER.vkey);
    await m.sync(url);
    m.observe({ size: 100, root: 'ab'.repeat(32) });
    expect(m.forks).toBe(1);
    m.observe({ size: 400, root: 'cd'.repeat(32) });
    m.observe({ size: 400, root: 'ef'.repeat(32) });
    expect(m.forks).toBe(2);
    m.finish();
    expect(m.forks).toBe(3);
  });

  test('a tree that shrank loses leaves', async () => {
    const state: { entries: Uint8Array[]; size?: number } = { entries: base() };
    const url = await fakeLog(state);
    const m = new LogMirror(TEST_SIGNER.vkey);
    await m.sync(url);
    state.size = 250;
    await expect(m.sync(url)).rejects.toThrow();
    expect(m.lost).toBe(50);
  });
});
