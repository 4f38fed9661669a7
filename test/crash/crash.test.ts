/**
 * Crash test: concurrent appenders against the real server process, SIGKILLed at random
 * moments and restarted. After every restart: every acknowledged append is present with the
 * identical leaf, nothing appears twice, the tree from the tiles matches the signed
 * checkpoint, and every checkpoint ever seen is a prefix of the current tree (0 forks).
 */
import { describe, expect, test } from 'vitest';
import { toHex } from '../../src/core/bytes.js';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { decodeEntry } from '../../src/core/entry.js';
import { leafHash, rootOfLeafHashes } from '../../src/core/merkle.js';
import { newEd25519Verifier } from '../../src/core/note.js';
import { engines } from '../helpers/engines.js';
import { tempDir } from '../helpers/log.js';
import { fetchAllEntries, type RunningServer, startServer } from '../helpers/server.js';

const ROUNDS = Number(process.env.OPA_TLOG_CRASH_ROUNDS ?? 6);
const WRITERS = 8;

interface Seen {
  size: number;
  root: string;
}

async function latestCheckpoint(srv: RunningServer): Promise<Seen> {
  const note = await (await fetch(`${srv.url}/checkpoint`)).text();
  const cp = openCheckpoint(note, newEd25519Verifier(srv.vkey)).checkpoint;
  return { size: cp.size, root: toHex(cp.rootHash) };
}

describe.each(engines)('crash loop ($name)', (engine) => {
  test(`SIGKILL during concurrent appends, ${ROUNDS} times: nothing acknowledged is lost, no forks`, async () => {
    const data = tempDir('opa-tlog-crash-');
    // SQLite lives in the data directory; PostgreSQL is named by --store.
    const store = engine.name === 'postgres' ? ['--store', await engine.location()] : [];
    const acked = new Map<string, number[]>();
    const sentItem = (key: string) => {
      const [round, w, i] = /^r(\d+)-w(\d+)-(\d+)$/.exec(key)!.slice(1).map(Number);
      return { round, w, i };
    };
    const leaves = new Map<number, string>();
    const checkpoints: Seen[] = [];
    let kills = 0;
    let ackedCount = 0;

    const verify = async (srv: RunningServer) => {
      const cp = await latestCheckpoint(srv);
      const entries = await fetchAllEntries(srv.url, cp.size);
      const hashes = entries.map((e) => leafHash(e));
      expect(toHex(rootOfLeafHashes(hashes))).toBe(cp.root);
      // Every acknowledged append is present, with its id.
      for (const [key, indices] of acked) {
        indices.forEach((idx, i) => {
          expect(idx, `acked ${key} at ${idx} beyond size ${cp.size}`).toBeLessThan(cp.size);
          const e = decodeEntry(entries[idx]!);
          expect(e.id).toBe(`${key}/${i}`);
        });
      }
      // No event appears twice.
      const ids = entries.map((e) => decodeEntry(e).id);
      expect(new Set(ids).size).toBe(ids.length);
      // Leaves never change once seen.
      entries.forEach((e, i) => {
        const hex = toHex(e);
        const before = leaves.get(i);
        if (before !== undefined) expect(hex, `leaf ${i} changed`).toBe(before);
        else leaves.set(i, hex);
      });
      // Every checkpoint seen so far is a prefix of this tree: 0 forks.
      for (const old of checkpoints) {
        expect(old.size).toBeLessThanOrEqual(cp.size);
        expect(toHex(rootOfLeafHashes(hashes.slice(0, old.size))), `fork at size ${old.size}`).toBe(old.root);
      }
      checkpoints.push(cp);
    };

    for (let round = 0; round <= ROUNDS; round++) {
      const srv = await startServer(data, ['--sign-interval-ms', '20', ...store]);
      await verify(srv);
      if (round === ROUNDS) {
        expect(await srv.stop()).toBe(0);
        break;
      }
      let stop = false;
      const writer = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const key = `r${round}-w${w}-${i}`;
          const n = 1 + ((w + i) % 4);
          try {
            const res = await fetch(`${srv.url}/v1/entries`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'idempotency-key': key },
              body: JSON.stringify(Array.from({ length: n }, (_, j) => ({ round, w, i, j }))),
            });
            if (res.status !== 200) continue;
            const body = (await res.json()) as { indices: number[] };
            acked.set(key, body.indices);
            ackedCount += n;
          } catch {
            return; // the server died
          }
        }
      };
      const poller = async () => {
        while (!stop) {
          try {
            checkpoints.push(await latestCheckpoint(srv));
          } catch {
            return;
          }
          await new Promise((r) => setTimeout(r, 15));
        }
      };
      const running = [...Array.from({ length: WRITERS }, (_, w) => writer(w)), poller()];
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 500));
      await srv.kill();
      kills++;
      stop = true;
      await Promise.all(running);
    }

    // A retry of any acknowledged request returns its indices and adds nothing.
    const srv = await startServer(data, store);
    try {
      const before = (await latestCheckpoint(srv)).size;
      const sample = [...acked.entries()].filter((_, i) => i % 7 === 0).slice(0, 60);
      for (const [key, indices] of sample) {
        const n = indices.length;
        const res = await fetch(`${srv.url}/v1/entries`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          // The same body as the acknowledged request (a key with another body is refused, 422).
          body: JSON.stringify(Array.from({ length: n }, (_, j) => ({ ...sentItem(key), j }))),
        });
        const body = (await res.json()) as { indices: number[]; duplicates: boolean[] };
        expect(body.indices).toEqual(indices);
        expect(body.duplicates.every(Boolean)).toBe(true);
      }
      await new Promise((r) => setTimeout(r, 1200));
      expect((await latestCheckpoint(srv)).size).toBe(before);
    } finally {
      await srv.stop();
    }
    console.log(
      `crash loop (${engine.name}): kills=${kills} acknowledged=${ackedCount} leaves=${leaves.size} checkpoints_seen=${checkpoints.length} lost=0 forks=0`,
    );
    expect(kills).toBe(ROUNDS);
    expect(ackedCount).toBeGreaterThan(0);
  }, 180_000);
});
