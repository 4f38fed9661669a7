/**
 * Two servers' storages on one PostgreSQL database, driven by hand so the timing is exact:
 * both append with final indices and deduplicate across each other; only the lease holder
 * integrates and stores checkpoints; a holder paused past its lease wakes up to find every
 * write refused (LeaseLostError) while the new holder carries on, and no size gets two roots.
 */
import { describe, expect, test } from 'vitest';
import { toBase64 } from '../../src/core/bytes.js';
import { leafHash, rootOfLeafHashes } from '../../src/core/merkle.js';
import { eventLeaf } from '../../src/log/leaf.js';
import { nodeSha256 } from '../../src/log/log.js';
import { LeaseLostError, type LogStorage, type StoredCheckpoint } from '../../src/store/log-storage.js';
import { engines, storagesClosedAfterEach } from '../helpers/engines.js';
import { postgresAvailable, postgresCluster } from '../helpers/postgres.js';

const { open } = storagesClosedAfterEach();
const items = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) =>
    eventLeaf({ kind: 'event', source: 's', id: `${prefix}${i}`, event: { i } }, 1, nodeSha256),
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const checkpoint = (s: LogStorage): StoredCheckpoint => ({ ...s.committedTree(), note: 'n', signedAt: 1 });

describe.skipIf(!postgresAvailable())('PostgreSQL: many servers, one sequencer', () => {
  test('appends from two servers interleave with final indices and dedup across servers', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const [a, b] = [await open(url), await open(url)];
    const [ra, rb] = await Promise.all([a.append(items('x', 100)), b.append(items('x', 100))]);
    const all = [...ra.results, ...rb.results];
    expect(all.filter((r) => !r.duplicate).length).toBe(100);
    for (let i = 0; i < 100; i++) expect(ra.results[i]!.index).toBe(rb.results[i]!.index);
    await b.append(items('y', 10));
    expect(await a.findById('s', 'y3')).toBeDefined();
  });

  test('a sequencer paused past its lease is fenced off when it wakes; the new one carries on', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const [a, b] = [await open(url), await open(url)];
    expect(await a.shared!.lead(300)).toBe('elected');
    expect(await b.shared!.lead(300)).toBe('follower');
    await b.append(items('p', 10)); // a follower appends too
    await a.shared!.integrate();
    expect(await a.latestCheckpoint()).toBeUndefined();
    await a.insertCheckpoint(checkpoint(a));
    // a "pauses": its lease runs out and b takes over with a newer fencing token.
    await sleep(400);
    expect(await b.shared!.lead(5000)).toBe('elected');
    expect((await b.latestCheckpoint())?.size).toBe(10);
    await a.append(items('q', 5));
    await b.shared!.integrate();
    await b.insertCheckpoint(checkpoint(b));
    // a wakes up: tiles and checkpoints it would write are refused, and it is a follower.
    await expect(a.shared!.integrate()).rejects.toBeInstanceOf(LeaseLostError);
    await expect(a.insertCheckpoint({ ...checkpoint(a), size: 12 })).rejects.toBeInstanceOf(LeaseLostError);
    expect(await a.shared!.lead(300)).toBe('follower');
    // The stored tree is the one b signed.
    const leaves = (await b.entries(0, 15)).map((e) => leafHash(e));
    const cp = (await a.latestCheckpoint())!;
    expect(cp.size).toBe(15);
    expect(toBase64(cp.root)).toBe(toBase64(rootOfLeafHashes(leaves)));
    // Giving the lease up hands it over at once.
    await b.shared!.resign();
    expect(await a.shared!.lead(300)).toBe('elected');
  });

  test('a checkpoint write is a compare-and-swap on the newest stored checkpoint', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const a = await open(url);
    expect(await a.shared!.lead(5000)).toBe('elected');
    await a.append(items('c', 3));
    await a.shared!.integrate();
    await a.insertCheckpoint(checkpoint(a));
    // A row this server did not write appears (the same fencing token, so only the CAS can
    // tell): the next checkpoint no longer follows the newest stored one and is refused.
    const pgEngine = engines.find((e) => e.name === 'postgres')!;
    await pgEngine.sql(url, 'INSERT INTO checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, ?)', [
      4,
      Buffer.alloc(32),
      'x',
      1,
    ]);
    await a.append(items('d', 3));
    await a.shared!.integrate();
    await expect(a.insertCheckpoint(checkpoint(a))).rejects.toThrow(/newest checkpoint is 4, not 3/);
    expect(await a.checkpointAt(6)).toBeUndefined();
  });
  test('two servers recording an identity on a fresh database: the second with other keys is refused', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const [a, b, c] = [await open(url), await open(url), await open(url)];
    // All three read the fresh (empty) identity, as three fork guards starting at once do.
    for (const s of [a, b, c]) expect(await s.identity()).toEqual({});
    await a.setIdentity('o.example/log', ['k1'], []);
    await expect(b.setIdentity('o.example/log', ['k2'], [])).rejects.toThrow(/another server recorded/);
    await c.setIdentity('o.example/log', ['k1'], []);
    expect(await b.identity()).toEqual({ origin: 'o.example/log', vkeys: ['k1'], retiredVkeys: [] });
    // Having read it, a server records a rotation.
    await b.setIdentity('o.example/log', ['k1', 'k2'], []);
    expect((await a.identity()).vkeys).toEqual(['k1', 'k2']);
  });
});
