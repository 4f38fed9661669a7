/**
 * Signer key rotation on the log side, in process: one database reopened with {old}, then
 * {old, new}, then {new}. Every checkpoint carries a signature by each current key; the
 * database records current and retired keys; the fork guard refuses a key set sharing no key
 * with the current one (another log's key) unless forced, and still checks lines by retired
 * keys. Clients pinned to the old key, the new key and both verify decisions written before,
 * during and after the overlap, with their trusted state carried across.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { LogClient } from '../../src/client/client.js';
import { VerifyError } from '../../src/client/errors.js';
import type { FetchLike } from '../../src/client/http.js';
import { MemoryStateStore } from '../../src/client/state.js';
import { openCheckpoint, signCheckpoint } from '../../src/core/checkpoint.js';
import {
  type Ed25519NoteSigner,
  ed25519SignerFromSeed,
  newEd25519Verifier,
  parseNote,
} from '../../src/core/note.js';
import { type LogConfig, TransparencyLog } from '../../src/log/log.js';
import { BASE, grow, logFetch } from '../client/fixture.js';
import { type Engine, engines } from '../helpers/engines.js';
import { openTestLog, TEST_ORIGIN, TEST_SIGNER, testConfig } from '../helpers/log.js';

const OLD = TEST_SIGNER;
const NEW = ed25519SignerFromSeed(TEST_ORIGIN, new Uint8Array(32).fill(42));
const THIRD = ed25519SignerFromSeed(TEST_ORIGIN, new Uint8Array(32).fill(43));

const open: TransparencyLog[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});

async function start(dbPath: string, signer: Ed25519NoteSigner[], over: Partial<LogConfig> = {}) {
  const log = await openTestLog(dbPath, { signer, ...over });
  open.push(log);
  return log;
}

async function stop(log: TransparencyLog): Promise<void> {
  open.splice(open.indexOf(log), 1);
  await log.close();
}

/** The key IDs whose lines a note carries, in order. */
function signedBy(note: string): number[] {
  return parseNote(note).signatures.map((s) => s.keyId);
}

/** True if `note` opens as a checkpoint with `signer`'s verifier alone. */
function opensWith(note: string, signer: Ed25519NoteSigner): boolean {
  try {
    openCheckpoint(note, newEd25519Verifier(signer.vkey));
    return true;
  } catch {
    return false;
  }
}

/** Why opening the log refuses, or 'started'. */
async function refusal(dbPath: string, signer: Ed25519NoteSigner[], over: Partial<LogConfig> = {}) {
  try {
    const log = await TransparencyLog.open(testConfig(dbPath, { signer, ...over }));
    await log.close();
    return 'started';
  } catch (err) {
    return (err as Error).message;
  }
}

async function identity(engine: Engine, dbPath: string): Promise<Record<string, string>> {
  const rows = (await engine.sql(dbPath, 'SELECT key, value FROM meta')) as { key: string; value: string }[];
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

test('signCheckpoint with two signers: one line each, the note opens with either key alone', () => {
  const note = signCheckpoint({ origin: TEST_ORIGIN, size: 3, rootHash: new Uint8Array(32) }, [OLD, NEW]);
  expect(signedBy(note)).toEqual([OLD.keyId, NEW.keyId]);
  expect(opensWith(note, OLD) && opensWith(note, NEW)).toBe(true);
  expect(() =>
    signCheckpoint({ origin: 'other.example/log', size: 3, rootHash: new Uint8Array(32) }, [OLD]),
  ).toThrow(/does not equal origin/);
});

describe.each(engines)('$name: a log rotated {old} -> {old,new} -> {new} across restarts', (engine) => {
  test('checkpoints carry each current key; identity, stored checkpoints and clients follow', async () => {
    const dbPath = await engine.location();
    let current = await start(dbPath, [OLD]);
    const fetch: FetchLike = (input, init) => logFetch(current)(input, init);
    const stores = { old: new MemoryStateStore(), new: new MemoryStateStore(), both: new MemoryStateStore() };
    const clients = {
      old: new LogClient({ url: BASE, vkey: OLD.vkey, fetch, store: stores.old }),
      new: new LogClient({ url: BASE, vkey: [NEW.vkey], fetch, store: stores.new }),
      both: new LogClient({ url: BASE, vkey: [OLD.vkey, NEW.vkey], fetch, store: stores.both }),
    };
    const verifies = async (c: LogClient, id: string) => {
      try {
        return (await c.verifyDecision(id)).entry.id === id;
      } catch (err) {
        if (err instanceof VerifyError && err.code === 'bad_signature') return false;
        throw err;
      }
    };

    // {old}: decisions d0..d9.
    await grow(current, 0, 10);
    expect(signedBy(current.latest().note)).toEqual([OLD.keyId]);
    expect(await verifies(clients.old, 'd3')).toBe(true);
    expect(await verifies(clients.both, 'd3')).toBe(true);
    expect(await verifies(clients.new, 'd3')).toBe(false);
    await stop(current);

    // {old,new}: at start the newest checkpoint (size 10, unchanged) gains the new key's line.
    current = await start(dbPath, [OLD, NEW]);
    expect(current.latest().size).toBe(10);
    expect(signedBy(current.latest().note)).toEqual([OLD.keyId, NEW.keyId]);
    expect(await verifies(clients.new, 'd3')).toBe(true);
    await grow(current, 10, 20);
    expect(signedBy(current.latest().note)).toEqual([OLD.keyId, NEW.keyId]);
    for (const c of Object.values(clients)) {
      expect(await verifies(c, 'd15')).toBe(true);
      expect(await verifies(c, 'd3')).toBe(true);
    }
    expect(await identity(engine, dbPath)).toMatchObject({
      vkeys: `${OLD.vkey}\n${NEW.vkey}`,
      retired_vkeys: '',
    });
    await stop(current);

    // {new}: the old key retires; checkpoints signed before stay as stored.
    current = await start(dbPath, [NEW]);
    await grow(current, 20, 30);
    expect(signedBy(current.latest().note)).toEqual([NEW.keyId]);
    expect(signedBy((await current.checkpointAt(0))!.note)).toEqual([OLD.keyId]);
    expect(signedBy((await current.checkpointAt(20))!.note)).toEqual([OLD.keyId, NEW.keyId]);
    for (const c of [clients.new, clients.both]) {
      for (const id of ['d3', 'd15', 'd25']) expect(await verifies(c, id)).toBe(true);
    }
    expect(await verifies(clients.old, 'd25')).toBe(false);
    expect(await identity(engine, dbPath)).toMatchObject({
      vkeys: NEW.vkey,
      retired_vkeys: OLD.vkey,
      vkey: NEW.vkey,
    });
    // The old-pinned client's state (size 20, signed by both) verifies once it trusts the new key.
    const moved = new LogClient({ url: BASE, vkey: [NEW.vkey], fetch, store: stores.old });
    expect((await moved.trusted())?.checkpoint.size).toBe(20);
    expect((await moved.update()).checkpoint.checkpoint.size).toBe(30);
    await stop(current);

    // Restarts with {new} keep working; going back to the retired key alone is refused.
    await stop(await start(dbPath, [NEW]));
    expect(await refusal(dbPath, [OLD])).toMatch(/was signed by key/);
  });

  test('skipping the overlap is refused as another log key, unless forced; retired keys are recorded', async () => {
    const dbPath = await engine.location();
    const log = await start(dbPath, [OLD]);
    await grow(log, 0, 5);
    await stop(log);
    const msg = await refusal(dbPath, [NEW]);
    expect(msg).toMatch(/was signed by key/);
    expect(msg).toMatch(/force-key-change/);
    expect(await identity(engine, dbPath)).toMatchObject({ vkeys: OLD.vkey });
    // Forced: the newest checkpoint (signed by the old key only) is checked with the old key,
    // and gains the new key's line so that new-key clients verify it.
    const forced = await start(dbPath, [NEW], { forceKeyChange: true });
    expect(signedBy(forced.latest().note)).toEqual([OLD.keyId, NEW.keyId]);
    await stop(forced);
    expect(await identity(engine, dbPath)).toMatchObject({ vkeys: NEW.vkey, retired_vkeys: OLD.vkey });
    await stop(await start(dbPath, [NEW, THIRD]));
    expect(await identity(engine, dbPath)).toMatchObject({
      vkeys: `${NEW.vkey}\n${THIRD.vkey}`,
      retired_vkeys: OLD.vkey,
    });
    // A refused start records nothing.
    expect(await refusal(dbPath, [ed25519SignerFromSeed(TEST_ORIGIN, new Uint8Array(32).fill(44))])).toMatch(
      /was signed by key/,
    );
    expect(await identity(engine, dbPath)).toMatchObject({ vkeys: `${NEW.vkey}\n${THIRD.vkey}` });
  });

  test("the fork guard still checks a retired key's line on the newest checkpoint", async () => {
    const dbPath = await engine.location();
    await stop(await start(dbPath, [OLD]));
    const overlap = await start(dbPath, [OLD, NEW]);
    await grow(overlap, 0, 7);
    await stop(overlap);
    await stop(await start(dbPath, [NEW])); // OLD retired; the newest checkpoint has both lines
    const [row] = await engine.sql(dbPath, 'SELECT note FROM checkpoints WHERE size = 7');
    const note = row!.note as string;
    const line = parseNote(note).signatures.find((s) => s.keyId === OLD.keyId)!.line;
    const bad = `${line.slice(0, -10)}${line.at(-10) === 'A' ? 'B' : 'A'}${line.slice(-9)}`;
    // Well-formed, and fine for a verifier that knows only the new key: only the retired key catches it.
    expect(opensWith(note.replace(line, bad), NEW)).toBe(true);
    expect(opensWith(note.replace(line, bad), OLD)).toBe(false);
    await engine.sql(dbPath, 'UPDATE checkpoints SET note = ? WHERE size = 7', [note.replace(line, bad)]);
    expect(await refusal(dbPath, [NEW])).toMatch(/does not verify/);
  });

  test('a database from before rotation (one recorded vkey) opens and records its key set', async () => {
    const dbPath = await engine.location();
    const log = await start(dbPath, [OLD]);
    await grow(log, 0, 3);
    await stop(log);
    await engine.sql(dbPath, "DELETE FROM meta WHERE key IN ('vkeys', 'retired_vkeys')");
    expect(await identity(engine, dbPath)).toEqual({ origin: TEST_ORIGIN, vkey: OLD.vkey });
    expect(await refusal(dbPath, [NEW])).toMatch(/was signed by key/);
    await stop(await start(dbPath, [OLD, NEW]));
    expect(await identity(engine, dbPath)).toMatchObject({
      vkeys: `${OLD.vkey}\n${NEW.vkey}`,
      retired_vkeys: '',
    });
  });

  test('a key given twice, or named after another origin, is refused', async () => {
    const dbPath = await engine.location();
    expect(await refusal(dbPath, [OLD, OLD])).toMatch(/configured twice/);
    const other = ed25519SignerFromSeed('other.example/log', new Uint8Array(32).fill(9));
    expect(await refusal(dbPath, [OLD, other])).toMatch(/must equal the origin/);
  });
});
