/**
 * The storage seam's contract (src/store/log-storage.ts), held against every engine: atomic
 * batches with dedup and consecutive indices, the committed tree, lookups, search, erasure,
 * retention's scan, one checkpoint per size, the identity, and all of it after a reopen.
 */
import { describe, expect, test } from 'vitest';
import { toBase64 } from '../../src/core/bytes.js';
import { decodeEntry, encodeEntry } from '../../src/core/entry.js';
import { EMPTY_ROOT, leafHash, rootOfLeafHashes } from '../../src/core/merkle.js';
import { eventLeaf } from '../../src/log/leaf.js';
import { nodeSha256 } from '../../src/log/log.js';
import { type AppendItem, ConflictError, EraseError, type LogStorage } from '../../src/store/log-storage.js';
import { engines, integrate, storagesClosedAfterEach } from '../helpers/engines.js';

const { open, close } = storagesClosedAfterEach();

const item = (source: string, id: string, n: number, search = {}): AppendItem =>
  eventLeaf(
    {
      kind: 'event',
      source,
      id,
      event: { n },
      search: {
        tsMs: 1000 + n,
        path: n % 2 ? 'odd' : 'even',
        result: 'allow',
        revisions: [`r${n % 3}`],
        ...search,
      },
    },
    5000 + n,
    nodeSha256,
  );
const append = async (s: LogStorage, items: AppendItem[]) => (await s.append(items)).results;

describe.each(engines)('$name storage', (engine) => {
  test('batches: consecutive indices, dedup across and within batches, the committed tree', async () => {
    const s = await open(await engine.location());
    expect(s.committedTree()).toEqual({ size: 0, root: EMPTY_ROOT });
    expect(await append(s, [item('a', '1', 1), item('a', '2', 2)])).toEqual([
      { index: 0, duplicate: false },
      { index: 1, duplicate: false },
    ]);
    const r = await s.append([item('a', '2', 2), item('b', '2', 3), item('b', '2', 3), item('a', '3', 4)]);
    expect(r.results).toEqual([
      { index: 1, duplicate: true },
      { index: 2, duplicate: false },
      { index: 2, duplicate: true },
      { index: 3, duplicate: false },
    ]);
    expect(r.size).toBe(4);
    await integrate(s);
    const leaves = (await s.entries(0, 4)).map((e) => leafHash(e));
    expect(s.committedTree().size).toBe(4);
    expect(toBase64(s.committedTree().root)).toBe(toBase64(rootOfLeafHashes(leaves)));
    expect((await s.tile(0, 0))?.data.length).toBe(4 * 32);
  });

  test('lookups by (source, id), by id, by leaf hash', async () => {
    const s = await open(await engine.location());
    await append(s, [item('a', 'x', 1), item('b', 'x', 2), item('a', 'y', 3)]);
    await integrate(s);
    expect(await s.findById('b', 'x')).toBe(1);
    expect(await s.findById('c', 'x')).toBeUndefined();
    expect(await s.findByIdAnySource('x')).toEqual([0, 1]);
    expect(await s.findByIdAnySource('nope')).toEqual([]);
    const lh = leafHash((await s.entry(2))!);
    expect(await s.findLeaf(lh, 3)).toBe(2);
    expect(await s.findLeaf(lh, 2)).toBeUndefined();
    expect(await s.entry(3)).toBeUndefined();
  });

  test('search filters, revisions and the cursor', async () => {
    const s = await open(await engine.location());
    await append(
      s,
      Array.from({ length: 10 }, (_, n) => item('src', `${n}`, n)),
    );
    expect(await s.search({ path: 'odd' }, -1, 100)).toEqual([1, 3, 5, 7, 9]);
    expect(await s.search({ path: 'odd' }, 3, 2)).toEqual([5, 7]);
    expect(await s.search({ revision: 'r0' }, -1, 100)).toEqual([0, 3, 6, 9]);
    expect(await s.search({ sinceMs: 1003, untilMs: 1006, source: 'src' }, -1, 100)).toEqual([3, 4, 5]);
    expect(await s.search({ kind: 'other' }, -1, 100)).toEqual([]);
    expect(await s.expiredPayloads(5004, 100)).toEqual([0, 1, 2, 3]);
    expect(await s.expiredPayloads(5004, 2)).toEqual([0, 1]);
  });

  test('erasure deletes the payload in the batch that logs it; a refused one applies nothing', async () => {
    const s = await open(await engine.location());
    await append(s, [item('a', '1', 1), item('a', '2', 2)]);
    expect((await s.payload(0))?.salt.length).toBe(32);
    const erasure = (target: number, id: string): AppendItem => {
      const entry = encodeEntry({
        v: 1,
        kind: 'erasure',
        src: 'opa-tlog',
        id,
        recv: 1,
        erases: target,
        reason: 'r',
      });
      return { entry, source: 'opa-tlog', id, erase: { index: target, reason: 'r' } };
    };
    expect(await append(s, [erasure(0, 'e0')])).toEqual([{ index: 2, duplicate: false }]);
    expect(await s.payload(0)).toBeUndefined();
    expect((await s.erasure(0))?.erasureIndex).toBe(2);
    for (const [target, code] of [
      [0, 'already_erased'],
      [2, 'not_erasable'],
      [99, 'no_such_entry'],
    ] as const) {
      const err = await Promise.resolve()
        .then(() => s.append([item('a', `new-${target}`, 9), erasure(target, `x${target}`)]))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EraseError);
      expect((err as EraseError).code).toBe(code);
    }
    expect(await s.entry(3)).toBeUndefined();
    expect(await s.findById('a', 'new-0')).toBeUndefined();
    expect((await s.payload(1))?.payload.length).toBeGreaterThan(0);
  });

  test('one checkpoint per size; the identity is recorded once; all of it survives a reopen', async () => {
    const loc = await engine.location();
    const s = await open(loc);
    expect(await s.identity()).toEqual({});
    await s.setIdentity('o.example/log', ['o.example/log+1234+AAAA'], []);
    await append(s, [item('a', '1', 1)]);
    await integrate(s);
    const cp = { size: 1, root: s.committedTree().root, note: 'n', signedAt: 7 };
    expect(await s.latestCheckpoint()).toBeUndefined();
    await s.insertCheckpoint(cp);
    await expect(Promise.resolve().then(() => s.insertCheckpoint({ ...cp, note: 'm' }))).rejects.toThrow();
    expect(await s.checkpointAt(1)).toEqual(cp);
    expect(await s.checkpointAt(2)).toBeUndefined();
    await close(s);
    const again = await open(loc);
    expect(await again.latestCheckpoint()).toEqual(cp);
    expect(await again.identity()).toEqual({
      origin: 'o.example/log',
      vkeys: ['o.example/log+1234+AAAA'],
      retiredVkeys: [],
    });
    expect(again.committedTree().size).toBe(1);
    expect(toBase64(again.committedTree().root)).toBe(toBase64(cp.root));
  });
  test('dedup on content: a resend is a duplicate, other content conflicts or refuses the batch', async () => {
    const s = await open(await engine.location());
    // eventLeaf draws a fresh salt each call: a resend matches through the stored salt.
    expect(await append(s, [item('a', '1', 1), item('a', '1', 1), item('a', '1', 2)])).toEqual([
      { index: 0, duplicate: false },
      { index: 0, duplicate: true },
      { index: 1, duplicate: false, conflictsWith: 0 },
    ]);
    expect(await append(s, [item('a', '1', 2), item('a', '1', 3), item('b', '1', 3)])).toEqual([
      { index: 1, duplicate: true },
      { index: 2, duplicate: false, conflictsWith: 0 },
      { index: 3, duplicate: false },
    ]);
    expect(await s.findAllById('a', '1')).toEqual([0, 1, 2]);
    expect(await s.findById('a', '1')).toBe(0);
    expect(await s.findAllById('c', '1')).toEqual([]);
    const refused = await Promise.resolve()
      .then(() => s.append([item('a', '9', 9), { ...item('a', '1', 4), refuseConflict: true }]))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConflictError);
    expect((refused as ConflictError).code).toBe('idempotency_key_reused');
    expect(await s.findById('a', '9')).toBeUndefined();
    // A resend with refuseConflict is still a duplicate.
    expect(await append(s, [{ ...item('a', '1', 1), refuseConflict: true }])).toEqual([
      { index: 0, duplicate: true },
    ]);
    expect((await s.append([item('z', 'z', 1)])).size).toBe(5);
  });

  test('a withheld id: found by its real value, gone with its erasure with all private metadata', async () => {
    const loc = await engine.location();
    const s = await open(loc);
    const secret = 'carol@example.com';
    const [w] = await append(s, [item('a', secret, 1)]);
    expect(w).toEqual({ index: 0, duplicate: false });
    expect(decodeEntry((await s.entry(0))!).id).toBe('');
    expect(await s.findById('a', secret)).toBe(0);
    expect(await s.findByIdAnySource(secret)).toEqual([0]);
    expect(await append(s, [item('a', secret, 1)])).toEqual([{ index: 0, duplicate: true }]);
    expect(await s.search({ revision: 'r1' }, -1, 10)).toEqual([0]);
    const entry = encodeEntry({
      v: 1,
      kind: 'erasure',
      src: 'opa-tlog',
      id: 'e',
      recv: 1,
      erases: 0,
      reason: 'r',
    });
    await append(s, [{ entry, source: 'opa-tlog', id: 'e', erase: { index: 0, reason: 'r' } }]);
    expect(await s.findById('a', secret)).toBeUndefined();
    expect(await s.findByIdAnySource(secret)).toEqual([]);
    expect(await s.search({ revision: 'r1' }, -1, 10)).toEqual([]);
    for (const table of ['payloads', 'leaf_meta', 'leaf_revisions', 'withheld_ids']) {
      expect([table, await engine.sql(loc, `SELECT idx FROM ${table} WHERE idx = 0`)]).toEqual([table, []]);
    }
  });

  test('identity: key rotation replaces the keys; checkpoint signatures added; writes probed', async () => {
    const s = await open(await engine.location());
    await s.setIdentity('o.example/log', ['k1'], []);
    expect(await s.identity()).toEqual({ origin: 'o.example/log', vkeys: ['k1'], retiredVkeys: [] });
    await s.setIdentity('o.example/log', ['k1', 'k2'], []);
    await s.setIdentity('o.example/log', ['k2'], ['k1']);
    expect(await s.identity()).toEqual({ origin: 'o.example/log', vkeys: ['k2'], retiredVkeys: ['k1'] });
    await append(s, [item('a', '1', 1)]);
    await integrate(s);
    const cp = { size: 1, root: s.committedTree().root, note: 'one signature', signedAt: 7 };
    await s.insertCheckpoint(cp);
    await s.addCheckpointSignatures(1, cp.root, 'two signatures');
    expect(await s.checkpointAt(1)).toEqual({ ...cp, note: 'two signatures' });
    const wrongRoot = new Uint8Array(32);
    await expect(
      Promise.resolve().then(() => s.addCheckpointSignatures(1, wrongRoot, 'x')),
    ).rejects.toThrow();
    await expect(Promise.resolve().then(() => s.addCheckpointSignatures(2, cp.root, 'x'))).rejects.toThrow();
    expect((await s.latestCheckpoint())?.note).toBe('two signatures');
    await s.probeWritable();
  });
});
