/**
 * The witness pusher on servers sharing one PostgreSQL database: only the elected sequencer
 * pushes, from the witness sizes recorded in the database, so when the sequencer is SIGKILLed
 * the next one continues each witness's chain with the right old size (no 409, every
 * request's old size is the size the witness last cosigned), and followers publish the
 * checkpoint whose cosignatures in the database meet the quorum. Real `opa-tlog witness`
 * processes, behind an in-process proxy that records every add-checkpoint request.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parsePolicy, verifyCheckpointWithPolicy } from '../../src/core/policy.js';
import { postgresAvailable, postgresCluster } from '../helpers/postgres.js';
import { type RunningWitness, type Served, serveFetch, startWitnessServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { Fleet, generated, post, queryDb, sharedKeyDirs, sleep } from './fleet.js';

/** Also the lease time to live: long enough that a loaded machine does not move the lease unasked. */
const SIGN_MS = 1000;

/** One add-checkpoint request as the proxy saw it. */
interface Push {
  old: number;
  size: number;
  status: number;
}

/** Forwards to `target`, recording each add-checkpoint's old size, checkpoint size and answer. */
async function recordingProxy(target: string, pushes: Push[]): Promise<Served> {
  return serveFetch(async (req) => {
    const body = await req.text();
    const lines = body.split('\n');
    const old = Number(/^old (\d+)$/.exec(lines[0]!)?.[1]);
    const size = Number(lines[lines.indexOf('') + 2]);
    const res = await fetch(`${target}${new URL(req.url).pathname}`, { method: 'POST', body });
    pushes.push({ old, size, status: res.status });
    return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
  });
}

describe.skipIf(!postgresAvailable())('witness pusher on one PostgreSQL, sequencer changes', () => {
  test('the new sequencer continues every witness chain from the stored sizes', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const dirs = sharedKeyDirs(2);
    const logVkey = readFileSync(join(dirs[0]!, 'log.vkey'), 'utf8').trim();
    const witnesses: RunningWitness[] = [];
    const proxies: Served[] = [];
    const pushes: Push[][] = [[], []];
    try {
      for (let i = 0; i < 2; i++) {
        witnesses.push(await startWitnessServer(tempDir(), `w${i}.scale.example/witness`, logVkey));
        proxies.push(await recordingProxy(witnesses[i]!.url, pushes[i]!));
      }
      const policyText = [
        `log ${logVkey}`,
        ...witnesses.map((w, i) => `witness w${i} ${w.vkey} ${proxies[i]!.url}`),
        'group both 2 w0 w1',
        'quorum both',
        '',
      ].join('\n');
      const policyFile = join(tempDir(), 'witnesses.policy');
      writeFileSync(policyFile, policyText);
      const policy = parsePolicy(policyText);
      const fleet = new Fleet(url, dirs, SIGN_MS, [
        '--witness-policy',
        policyFile,
        '--witness-min-interval-ms',
        '0',
      ]);
      await fleet.start(0);
      await fleet.start(1);

      /** Waits until `/checkpoint` of every live server meets the quorum at size >= `size`. */
      const cosignedEverywhere = async (size: number) => {
        const until = Date.now() + 20_000;
        for (;;) {
          const ok = await Promise.all(
            fleet.live().map(async (s) => {
              const res = await fetch(`${s.url}/checkpoint`);
              if (res.status !== 200) return false;
              const v = verifyCheckpointWithPolicy(await res.text(), policy);
              return v.checkpoint.size >= size && v.witnesses.length === 2;
            }),
          );
          if (ok.every(Boolean)) return;
          if (Date.now() > until) throw new Error(`no cosigned checkpoint of size ${size} on every server`);
          await sleep(50);
        }
      };

      expect(await post(fleet.servers[0]!.url, generated('a', 20).body)).toBeDefined();
      expect(await post(fleet.servers[1]!.url, generated('b', 20).body)).toBeDefined();
      await cosignedEverywhere(40);
      const seq = (await fleet.sequencer())!;
      expect(seq).toBeDefined();
      const before = pushes.map((p) => p.filter((x) => x.status === 200).at(-1)!.size);
      expect(before[0]).toBeGreaterThanOrEqual(40);
      // What the database records for each witness (stored right after the cosignature).
      const storedSizes = async () =>
        (
          await queryDb<{ witness: string; size: string }>(
            url,
            'SELECT witness, size FROM witness_state ORDER BY witness',
          )
        ).map((r) => [r.witness, Number(r.size)]);
      for (
        let i = 0;
        i < 100 &&
        JSON.stringify(await storedSizes()) !==
          JSON.stringify([
            ['w0', before[0]],
            ['w1', before[1]],
          ]);
        i++
      )
        await sleep(50);
      expect(await storedSizes()).toEqual([
        ['w0', before[0]],
        ['w1', before[1]],
      ]);

      // The sequencer dies; the other server takes the lease and continues the chains.
      await fleet.servers[seq]!.kill();
      fleet.servers[seq] = undefined;
      const counts = pushes.map((p) => p.length);
      expect(await post(fleet.live()[0]!.url, generated('c', 15).body)).toBeDefined();
      await cosignedEverywhere(55);
      for (let i = 0; i < 2; i++) {
        const after = pushes[i]!.slice(counts[i]);
        expect(after.length, `w${i} got pushes from the new sequencer`).toBeGreaterThan(0);
        expect(after[0]!.old, `w${i}: the first push after the takeover`).toBe(before[i]);
      }

      // The killed server comes back as a follower and publishes what the database holds.
      await fleet.start(seq);
      await cosignedEverywhere(55);
      expect(await fleet.sequencer()).toBe(1 - seq);

      // Over the whole run: one chain per witness, never a conflict (a 409 would mean a push
      // with a stale old size, or two servers pushing at once).
      for (let i = 0; i < 2; i++) {
        const p = pushes[i]!;
        expect(
          p.filter((x) => x.status !== 200),
          `w${i}`,
        ).toEqual([]);
        for (let k = 1; k < p.length; k++) expect(p[k]!.old, `w${i} push ${k}`).toBe(p[k - 1]!.size);
        expect(p[0]!.old).toBe(0);
      }
    } finally {
      for (const p of proxies) await p.close();
      for (const w of witnesses) await w.kill();
    }
  }, 120_000);
});
