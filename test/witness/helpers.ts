/** Test helpers for witnesses: in-memory witnesses, loopback servers, logs served with a pusher. */
import { join } from 'node:path';
import { Hono } from 'hono';
import { cosignatureV1SignerFromSeed } from '../../src/core/cosignature.js';
import type { NoteVerifier } from '../../src/core/note.js';
import { createApp } from '../../src/http/app.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { WitnessStore } from '../../src/store/witness-store.js';
import type { WitnessPusher } from '../../src/witness/pusher.js';
import { createWitnessApp, Witness } from '../../src/witness/witness.js';
import { openTestLog, TEST_ORIGIN, TEST_VERIFIER, tempDir } from '../helpers/log.js';
import { type Served, serveFetch } from '../helpers/server.js';

/** Loopback servers come from the suite's one launcher (test/helpers/server.ts). */
export type { Served };

/** A witness with a deterministic key (seed byte `n`) witnessing `logs` verifiers. */
export function makeWitness(
  n: number,
  verifiers: NoteVerifier[] = [TEST_VERIFIER],
  opts: { dbPath?: string; url?: string; clock?: () => bigint } = {},
): Witness {
  const signer = cosignatureV1SignerFromSeed(
    `witness-${n}.test`,
    new Uint8Array(32).fill(100 + n),
    opts.clock,
  );
  const origin = verifiers[0]!.name;
  return new Witness({
    signer,
    logs: [{ origin, verifiers, ...(opts.url ? { url: opts.url } : {}) }],
    store: WitnessStore.open(opts.dbPath ?? ':memory:'),
  });
}

/** A witness served on loopback. */
export async function serveWitness(w: Witness): Promise<Served> {
  return serveFetch(createWitnessApp(w).fetch);
}

/** Appends `n` events with ids `<prefix><i>` and signs a checkpoint. */
export async function grow(log: TransparencyLog, n: number, prefix: string): Promise<void> {
  const base = log.committedSize;
  await log.appendEvents(
    Array.from({ length: n }, (_, i) => ({
      kind: 'event',
      source: 'test',
      id: `${prefix}${base + i}`,
      event: { prefix, i: base + i },
    })),
  );
  await log.signNow();
}

/** A test log (TEST_ORIGIN, fixed key) in a temp dir. */
export function newLog(): Promise<TransparencyLog> {
  return openTestLog(join(tempDir('opa-tlog-witness-'), 'log.db'));
}

/**
 * Serves the log's API with `/checkpoint` answered by the pusher (503 before any quorum), as
 * the integration in src/http is meant to do.
 */
export async function serveLog(log: TransparencyLog, pusher?: WitnessPusher): Promise<Served> {
  const app = new Hono();
  if (pusher) {
    app.get('/checkpoint', (c) => {
      const note = pusher.published();
      if (note === undefined) return c.text('no witnessed checkpoint yet\n', 503);
      return c.body(note, 200, { 'Content-Type': 'text/plain; charset=utf-8' });
    });
  }
  app.route('/', createApp(log));
  return serveFetch(app.fetch);
}

export { TEST_ORIGIN };
