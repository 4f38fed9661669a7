/**
 * Interop with a client nobody here wrote, against the real server process: Go's reference
 * golang.org/x/mod/sumdb/note verifies our /checkpoint, sumdb/tlog authenticates our tiles
 * and entry bundles, recomputes the root, builds its own proofs from our tiles, and checks
 * the proofs our JSON API serves. Skipped without Go (fatal with OPA_TLOG_REQUIRE_GO=1; CI
 * sets it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/log.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { goAvailable, runTlogCheck } from './go-harness.js';

const HAVE_GO = goAvailable();
if (!HAVE_GO && process.env.OPA_TLOG_REQUIRE_GO === '1') {
  describe('Go interop (required)', () => {
    it('needs go and golang-golang-x-mod-dev', () => expect.fail('Go is required (OPA_TLOG_REQUIRE_GO=1)'));
  });
}

describe.skipIf(!HAVE_GO)("Go's sumdb/tlog and note against the running server", () => {
  let srv: RunningServer;
  const sizes: number[] = [];

  const checkpointSize = async () => {
    const text = await (await fetch(`${srv.url}/checkpoint`)).text();
    return Number(text.split('\n')[1]);
  };
  const waitForSize = async (n: number) => {
    for (let i = 0; i < 200 && (await checkpointSize()) < n; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await checkpointSize()).toBe(n);
  };

  beforeAll(async () => {
    srv = await startServer(tempDir('opa-tlog-go-'), [
      '--sign-interval-ms',
      '20',
      '--origin',
      'interop.opa-tlog.dev/log',
    ]);
    // Grow in steps so that older checkpoints (partial tiles at levels 0 and 1) exist.
    let total = 0;
    for (const step of [1, 6, 249, 1, 300, 65_536 - 557, 70]) {
      for (let done = 0; done < step; ) {
        const n = Math.min(5000, step - done);
        const res = await fetch(`${srv.url}/v1/entries`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ n: total + done + i }))),
        });
        expect(res.status).toBe(200);
        done += n;
      }
      total += step;
      await waitForSize(total);
      sizes.push(total);
    }
  }, 120_000);

  afterAll(async () => {
    await srv?.stop();
  });

  it('verifies the checkpoint, every tile it needs, the root, and proofs it builds itself', async () => {
    const size = sizes[sizes.length - 1]!;
    const indices = [0, 1, 255, 256, 65_535, 65_536, size - 1].join(',');
    const old = sizes.slice(0, -1).join(',');
    const r = await runTlogCheck(['-url', srv.url, '-vkey', srv.vkey, '-index', indices, '-old', old]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { size: number; root: string };
    expect(report.size).toBe(size);
    const cpRoot = (await (await fetch(`${srv.url}/checkpoint`)).text()).split('\n')[2];
    expect(report.root).toBe(cpRoot);
  }, 60_000);

  it('accepts the inclusion and consistency proofs our JSON API serves', async () => {
    const size = sizes[sizes.length - 1]!;
    const proofs: unknown[] = [];
    for (const [index, treeSize] of [
      [0, size],
      [size - 1, size],
      [300, 557],
      [6, 7],
    ] as const) {
      const p = (await (
        await fetch(`${srv.url}/v1/proof/inclusion?index=${index}&tree_size=${treeSize}`)
      ).json()) as {
        index: number;
        tree_size: number;
        leaf_hash: string;
        root_hash: string;
        proof: string[];
      };
      // Go's checker takes exactly these fields; the root must agree with what Go derives.
      proofs.push({
        index: p.index,
        tree_size: p.tree_size,
        leaf_hash: p.leaf_hash,
        proof: p.proof,
        root: p.root_hash,
      });
    }
    for (const from of sizes.slice(0, -1)) {
      const c = (await (await fetch(`${srv.url}/v1/proof/consistency?from=${from}`)).json()) as {
        from: number;
        to: number;
        from_root: string;
        to_root: string;
        proof: string[];
      };
      proofs.push({ from: c.from, to: c.to, from_root: c.from_root, to_root: c.to_root, proof: c.proof });
    }
    const r = await runTlogCheck(
      ['-mode', 'proofs', '-url', srv.url, '-vkey', srv.vkey],
      JSON.stringify(proofs),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // And refuses one we alter.
    const bad = structuredClone(proofs[0]) as { proof: string[] };
    bad.proof[0] = `${bad.proof[0]!.startsWith('A') ? 'B' : 'A'}${bad.proof[0]!.slice(1)}`;
    const r2 = await runTlogCheck(
      ['-mode', 'proofs', '-url', srv.url, '-vkey', srv.vkey],
      JSON.stringify([bad]),
    );
    expect(r2.code).toBe(1);
  }, 60_000);
});
