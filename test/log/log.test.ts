/**
 * The stateful heart: group commit, dedup, durability across reopen, the signer's
 * monotonicity, and the fork guard refusing a database that disagrees with what was signed.
 */

import { afterEach, describe, expect, test } from 'vitest';
import { toBase64 } from '../../src/core/bytes.js';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { decodeEntry } from '../../src/core/entry.js';
import {
  EMPTY_ROOT,
  leafHash,
  rootOfLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../src/core/merkle.js';
import { ed25519SignerFromSeed, newEd25519Verifier } from '../../src/core/note.js';
import { StartupError, type TransparencyLog } from '../../src/log/log.js';
import { QueueFullError } from '../../src/log/sequencer.js';
import { engines } from '../helpers/engines.js';
import { openTestLog, TEST_VERIFIER } from '../helpers/log.js';

const open: TransparencyLog[] = [];
async function newLog(dbPath: string, over = {}): Promise<TransparencyLog> {
  const log = await openTestLog(dbPath, over);
  open.push(log);
  return log;
}
afterEach(async () => {
  for (const l of open.splice(0)) {
    try {
      await l.close();
    } catch {}
  }
});

const ev = (source: string, id: string, n: number) => ({ kind: 'event', source, id, event: { n } });

async function allLeafHashes(log: TransparencyLog): Promise<Uint8Array[]> {
  return (await log.storage.entries(0, log.committedSize)).map((e) => leafHash(e));
}

describe.each(engines)('$name', (engine) => {
  describe('append', () => {
    test('the first checkpoint is the empty tree', async () => {
      const log = await newLog(await engine.location());
      const cp = log.latest();
      expect(cp.size).toBe(0);
      expect(cp.root).toEqual(EMPTY_ROOT);
      const opened = openCheckpoint(cp.note, TEST_VERIFIER);
      expect(opened.checkpoint.origin).toBe('test.opa-tlog.dev/log');
    });

    test('concurrent appends get distinct consecutive indices and one request stays contiguous', async () => {
      const log = await newLog(await engine.location());
      const reqs = Array.from({ length: 50 }, (_, r) =>
        log.appendEvents([ev('s', `r${r}-a`, r), ev('s', `r${r}-b`, r), ev('s', `r${r}-c`, r)]),
      );
      const results = await Promise.all(reqs);
      const all = results.flat().map((x) => x.index);
      expect(new Set(all).size).toBe(150);
      expect(Math.max(...all)).toBe(149);
      for (const r of results) {
        expect(r[1]!.index).toBe(r[0]!.index + 1);
        expect(r[2]!.index).toBe(r[0]!.index + 2);
      }
      expect(log.committedSize).toBe(150);
    });

    test('a duplicate (source, id) returns the existing index and adds no leaf, also within one batch', async () => {
      const log = await newLog(await engine.location());
      const [a] = await log.appendEvents([ev('opa-1', 'd1', 1)]);
      const again = await log.appendEvents([
        ev('opa-1', 'd1', 1),
        ev('opa-1', 'd2', 2),
        ev('opa-1', 'd2', 2),
      ]);
      expect(again.map((r) => [r.index, r.duplicate])).toEqual([
        [a!.index, true],
        [1, false],
        [1, true],
      ]);
      // Same id from another source is another event.
      const [other] = await log.appendEvents([ev('opa-2', 'd1', 1)]);
      expect(other).toEqual({ index: 2, duplicate: false });
      expect(log.committedSize).toBe(3);
      expect(await log.findById('opa-1', 'd2')).toBe(1);
      expect(await log.findById('opa-1', 'nope')).toBeUndefined();
    });

    test('events without dedup are always new leaves', async () => {
      const log = await newLog(await engine.location());
      const r = await log.appendEvents([
        { ...ev('api', '', 1), dedup: false },
        { ...ev('api', '', 1), dedup: false },
      ]);
      expect(r.map((x) => x.index)).toEqual([0, 1]);
    });

    test('entries carry a commitment to the stored salt and payload, never the payload', async () => {
      const log = await newLog(await engine.location());
      await log.appendEvents([
        {
          kind: 'opa.decision',
          source: 'x',
          id: 'y',
          ts: '2025-01-01T00:00:00Z',
          event: { secret: 'hunter2' },
        },
      ]);
      const bytes = (await log.entry(0))!;
      expect(Buffer.from(bytes).includes(Buffer.from('hunter2'))).toBe(false);
      const e = decodeEntry(bytes);
      expect(e.kind).toBe('opa.decision');
      expect(e.src).toBe('x');
      expect(e.id).toBe('y');
      expect(e.ts).toBe('2025-01-01T00:00:00Z');
      const p = (await log.payload(0))!;
      expect(p.salt.length).toBe(32);
      const { createHash } = await import('node:crypto');
      const c = createHash('sha256').update(p.salt).update(p.payload).digest();
      expect('c' in e && Buffer.from(e.c)).toEqual(c);
    });

    test('a full queue refuses instead of growing without bound', async () => {
      const log = await newLog(await engine.location(), { sequencer: { maxQueue: 10, maxDelayMs: 50 } });
      const first = log.appendEvents(Array.from({ length: 8 }, (_, i) => ev('s', `a${i}`, i)));
      await expect(
        log.appendEvents(Array.from({ length: 5 }, (_, i) => ev('s', `b${i}`, i))),
      ).rejects.toBeInstanceOf(QueueFullError);
      await first;
      expect(log.committedSize).toBe(8);
    });

    test('a request larger than maxBatch still commits whole', async () => {
      const log = await newLog(await engine.location(), { sequencer: { maxBatch: 10 } });
      const r = await log.appendEvents(Array.from({ length: 25 }, (_, i) => ev('s', `${i}`, i)));
      expect(r.map((x) => x.index)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    });
  });

  describe('signer, tiles and proofs', () => {
    test('checkpoints sign the committed tree; proofs verify against them', async () => {
      const log = await newLog(await engine.location());
      const roots: { size: number; root: Uint8Array }[] = [];
      for (const n of [1, 2, 5, 250, 300, 700]) {
        await log.appendEvents(Array.from({ length: n }, (_, i) => ev('s', `${log.committedSize}-${i}`, i)));
        const cp = await log.signNow();
        const leaves = await allLeafHashes(log);
        expect(cp.size).toBe(leaves.length);
        expect(toBase64(cp.root)).toBe(toBase64(rootOfLeafHashes(leaves)));
        expect(openCheckpoint(cp.note, TEST_VERIFIER).checkpoint.size).toBe(cp.size);
        for (const idx of [0, cp.size - 1, Math.floor(cp.size / 2)]) {
          verifyInclusion(idx, cp.size, leaves[idx]!, await log.inclusionProof(idx, cp.size), cp.root);
        }
        for (const old of roots)
          verifyConsistency(
            old.size,
            cp.size,
            old.root,
            cp.root,
            await log.consistencyProof(old.size, cp.size),
          );
        roots.push({ size: cp.size, root: cp.root });
      }
    });

    test('signing with no growth returns the same checkpoint; reads stop at the signed size', async () => {
      const log = await newLog(await engine.location());
      await log.appendEvents([ev('s', '1', 1)]);
      const cp = await log.signNow();
      expect(await log.signNow()).toBe(cp);
      await log.appendEvents([ev('s', '2', 2)]);
      expect(log.committedSize).toBe(2);
      expect(await log.hashTile(0, 0, 2)).toBeUndefined();
      expect((await log.hashTile(0, 0, 1))?.length).toBe(32);
      await expect(log.inclusionProof(1, 2)).rejects.toThrow(/beyond the latest checkpoint/);
    });
  });

  describe('durability and the fork guard', () => {
    async function populated(): Promise<string> {
      const dbPath = await engine.location();
      const log = await newLog(dbPath);
      await log.appendEvents(Array.from({ length: 300 }, (_, i) => ev('s', `${i}`, i)));
      await log.signNow();
      await log.close();
      open.pop();
      return dbPath;
    }

    test('a reopened log has every leaf and continues the same tree', async () => {
      const dbPath = await populated();
      const log = await newLog(dbPath);
      expect(log.committedSize).toBe(300);
      expect(log.latest().size).toBe(300);
      const [r] = await log.appendEvents([ev('s', '0', 0)]);
      expect(r).toEqual({ index: 0, duplicate: true });
      await log.appendEvents([ev('s', 'new', 1)]);
      const cp = await log.signNow();
      expect(toBase64(cp.root)).toBe(toBase64(rootOfLeafHashes(await allLeafHashes(log))));
    });

    test('leaves committed after only the empty checkpoint was signed are kept after reopen', async () => {
      const dbPath = await engine.location();
      const log = await newLog(dbPath); // signs size 0
      await log.appendEvents([ev('s', 'first', 1)]);
      await log.storage.close(); // a crash before the next signature
      open.pop();
      const again = await newLog(dbPath);
      expect(again.latest().size).toBe(1);
    });

    test('committed but unsigned leaves are kept and signed after reopen', async () => {
      const dbPath = await populated();
      const log = await newLog(dbPath);
      await log.appendEvents([ev('s', 'late', 1)]);
      // Simulate a crash before the signer ran: close the DB without signing.
      await log.storage.close();
      open.pop();
      const again = await newLog(dbPath);
      expect(again.latest().size).toBe(301);
    });

    async function refusal(dbPath: string, over = {}): Promise<string> {
      try {
        await newLog(dbPath, over);
      } catch (err) {
        expect(err).toBeInstanceOf(StartupError);
        return (err as Error).message;
      }
      throw new Error('the log opened');
    }

    test('refuses a database whose tiles were altered', async () => {
      const dbPath = await populated();
      await engine.flipTileBit(dbPath, 0, 0, 5); // full level-0 tile 0
      expect(await refusal(dbPath)).toMatch(/tile 0\/0 does not hash to its parent/);
    });

    test('refuses a database whose right-edge tiles disagree with the signed root', async () => {
      const dbPath = await populated();
      // Level-1 partial tile 0 (tile_key = 0*64 + 1) holds the root of tile 0/0.
      const [row] = (await engine.sql(dbPath, 'SELECT data FROM tiles WHERE tile_key = 1')) as {
        data: Buffer;
      }[];
      row!.data[0] = (row!.data[0]! ^ 1) & 0xff;
      await engine.sql(dbPath, 'UPDATE tiles SET data = ? WHERE tile_key = 1', [row!.data]);
      expect(await refusal(dbPath)).toMatch(/FORK GUARD/);
    });

    test('refuses a database whose newest entry was altered', async () => {
      const dbPath = await populated();
      const [row] = (await engine.sql(dbPath, 'SELECT data FROM entries WHERE idx = 299')) as {
        data: Buffer;
      }[];
      row!.data[row!.data.length - 1] = row!.data[row!.data.length - 1]! ^ 1;
      await engine.sql(dbPath, 'UPDATE entries SET data = ? WHERE idx = 299', [row!.data]);
      expect(await refusal(dbPath)).toMatch(/entry 299 does not match/);
    });

    test('refuses a database that lost acknowledged leaves', async () => {
      const dbPath = await populated();
      await engine.sql(dbPath, 'DELETE FROM entries WHERE idx >= 290');
      expect(await refusal(dbPath)).toMatch(/290 leaves but checkpoint 300/);
    });

    test('refuses a forged checkpoint row', async () => {
      const dbPath = await populated();
      await engine.sql(dbPath, "UPDATE checkpoints SET note = replace(note, '300', '299') WHERE size = 300");
      expect(await refusal(dbPath)).toMatch(/does not verify|disagrees/);
    });

    test('refuses another origin or another key', async () => {
      const dbPath = await populated();
      const other = ed25519SignerFromSeed('other.example/log', new Uint8Array(32).fill(9));
      expect(
        await refusal(dbPath, {
          origin: 'other.example/log',
          signer: other,
          verifier: newEd25519Verifier(other.vkey),
        }),
      ).toMatch(/belongs to origin/);
      const sameName = ed25519SignerFromSeed('test.opa-tlog.dev/log', new Uint8Array(32).fill(9));
      expect(
        await refusal(dbPath, { signer: sameName, verifier: newEd25519Verifier(sameName.vkey) }),
      ).toMatch(/was signed by key/);
    });
  });
});
