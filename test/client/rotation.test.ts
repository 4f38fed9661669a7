/**
 * The verifier side of a signer key rotation: a client trusts a list of log keys and a
 * checkpoint verifies when any one of them signed it. The log below signs with the old key;
 * a re-signing fetch makes it serve checkpoints signed by the old key, by both (the overlap)
 * or by the new key only, everywhere a checkpoint appears (/checkpoint, lookup answers and
 * their tlog-proofs).
 */
import { afterEach, describe, expect, test } from 'vitest';
import { makeTrust, verifyCheckpointNote } from '../../src/client/checkpoint.js';
import { LogClient, type LogClientOptions } from '../../src/client/client.js';
import { VerifyError, type VerifyErrorCode } from '../../src/client/errors.js';
import type { FetchLike } from '../../src/client/http.js';
import { MemoryStateStore } from '../../src/client/state.js';
import { toBase64 } from '../../src/core/bytes.js';
import { ed25519SignerFromSeed, type NoteSigner, parseNote, signNote } from '../../src/core/note.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { TEST_ORIGIN } from '../helpers/log.js';
import { BASE, bytesResponse, editJson, grow, logFetch, lying, makeLog, TEST_SIGNER } from './fixture.js';

const OLD = TEST_SIGNER;
const NEW = ed25519SignerFromSeed(TEST_ORIGIN, new Uint8Array(32).fill(42));
const OTHER_ORIGIN = ed25519SignerFromSeed('other.example/log', new Uint8Array(32).fill(43));

const logs: TransparencyLog[] = [];
afterEach(() => {
  for (const l of logs.splice(0)) l.close();
});

/** The same checkpoint text, signed by `signers` instead. */
function resign(note: string, signers: readonly NoteSigner[]): string {
  return signNote(parseNote(note).text, signers);
}

/** The log's honest answers with every checkpoint re-signed by `signers()` (read per request). */
function resigning(log: TransparencyLog, signers: () => readonly NoteSigner[]): FetchLike {
  return lying(logFetch(log), async (path, res) => {
    if (res.status !== 200) return undefined;
    if (path === 'checkpoint') return bytesResponse(resign(await res.text(), signers()));
    if (!path.startsWith('v1/decisions/') && !path.startsWith('v1/entries/')) return undefined;
    return editJson(res, (o) => {
      o.checkpoint = resign(o.checkpoint as string, signers());
      if (typeof o.tlog_proof === 'string') {
        const cut = o.tlog_proof.indexOf('\n\n') + 2;
        o.tlog_proof = o.tlog_proof.slice(0, cut) + resign(o.tlog_proof.slice(cut), signers());
      }
    });
  });
}

function client(fetch: FetchLike, vkey: LogClientOptions['vkey'], store = new MemoryStateStore()): LogClient {
  return new LogClient({ url: BASE, vkey, fetch, store });
}

async function code(p: Promise<unknown> | (() => unknown)): Promise<VerifyErrorCode | 'ok'> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (err) {
    if (err instanceof VerifyError) return err.code;
    throw err;
  }
}

describe('a checkpoint and the trusted key list', () => {
  test('signed by two keys: verifies with either key alone and with both, in any order', async () => {
    const log = await makeLog(5);
    logs.push(log);
    const both = resign(log.latest().note, [OLD, NEW]);
    expect(parseNote(both).signatures).toHaveLength(2);
    for (const keys of [OLD.vkey, NEW.vkey, [OLD.vkey, NEW.vkey], [NEW.vkey, OLD.vkey]]) {
      expect(verifyCheckpointNote(both, makeTrust(keys)).checkpoint.size).toBe(5);
    }
    const reversed = resign(log.latest().note, [NEW, OLD]);
    expect(verifyCheckpointNote(reversed, makeTrust([OLD.vkey])).checkpoint.size).toBe(5);
  });

  test('signed by the old key only: verifies when pinned to it, bad_signature when pinned to the new key only', async () => {
    const log = await makeLog(3);
    logs.push(log);
    const old = log.latest().note;
    expect(await code(() => verifyCheckpointNote(old, makeTrust(OLD.vkey)))).toBe('ok');
    expect(await code(() => verifyCheckpointNote(old, makeTrust([OLD.vkey, NEW.vkey])))).toBe('ok');
    expect(await code(() => verifyCheckpointNote(old, makeTrust([NEW.vkey])))).toBe('bad_signature');
    const oldOnlyClient = client(logFetch(log), [NEW.vkey]);
    expect(await code(oldOnlyClient.update())).toBe('bad_signature');
  });

  test('a corrupt line by a trusted key is refused even when another trusted key signed', async () => {
    const log = await makeLog(3);
    logs.push(log);
    const both = resign(log.latest().note, [OLD, NEW]);
    const lines = both.split('\n');
    const newLine = lines.findIndex(
      (l) => l.startsWith(`— ${TEST_ORIGIN} `) && l.includes(toB64Id(NEW.keyId)),
    );
    const payload = lines[newLine]!.split(' ')[2]!;
    lines[newLine] =
      `— ${TEST_ORIGIN} ${payload.slice(0, 10)}${payload[10] === 'A' ? 'B' : 'A'}${payload.slice(11)}`;
    const corrupt = lines.join('\n');
    expect(await code(() => verifyCheckpointNote(corrupt, makeTrust([OLD.vkey, NEW.vkey])))).toBe(
      'bad_signature',
    );
    // A client that does not know the new key ignores its line (an unknown key), as signed-note says.
    expect(await code(() => verifyCheckpointNote(corrupt, makeTrust([OLD.vkey])))).toBe('ok');
  });

  test('the key list must name one origin, without repeats, and not be empty', () => {
    for (const bad of [[], [OLD.vkey, OTHER_ORIGIN.vkey], [OLD.vkey, OLD.vkey], ['not a vkey']]) {
      expect(() => makeTrust(bad)).toThrow(VerifyError);
      try {
        makeTrust(bad);
      } catch (err) {
        expect((err as VerifyError).code).toBe('usage');
      }
    }
    expect(makeTrust([NEW.vkey, OLD.vkey]).origin).toBe(TEST_ORIGIN);
  });
});

/** The 4-byte key ID as the first base64 characters of a signature line payload. */
function toB64Id(keyId: number): string {
  const b = new Uint8Array(3);
  b[0] = keyId >>> 24;
  b[1] = (keyId >>> 16) & 0xff;
  b[2] = (keyId >>> 8) & 0xff;
  return toBase64(b);
}

describe('a rotation seen by clients pinned to the old key, the new key, and both', () => {
  test('decisions written before, during and after the overlap; trusted state survives the key change', async () => {
    const log = await makeLog(10);
    logs.push(log);
    let signers: readonly NoteSigner[] = [OLD];
    const fetch = resigning(log, () => signers);
    const stores = { old: new MemoryStateStore(), new: new MemoryStateStore(), both: new MemoryStateStore() };
    const oldC = client(fetch, OLD.vkey, stores.old);
    const newC = client(fetch, [NEW.vkey], stores.new);
    const bothC = client(fetch, [OLD.vkey, NEW.vkey], stores.both);

    // Before: the old key signs.
    expect((await oldC.verifyDecision('d3')).entry.id).toBe('d3');
    expect((await bothC.verifyDecision('d3')).entry.id).toBe('d3');
    expect(await code(newC.verifyDecision('d3'))).toBe('bad_signature');

    // Overlap: both keys sign every checkpoint.
    await grow(log, 10, 20);
    signers = [OLD, NEW];
    for (const c of [oldC, newC, bothC]) {
      expect((await c.verifyDecision('d15')).entry.id).toBe('d15');
      expect((await c.verifyDecision('d3')).entry.id).toBe('d3');
      expect((await c.update()).checkpoint.checkpoint.size).toBe(20);
    }

    // After: the old key is retired.
    await grow(log, 20, 30);
    signers = [NEW];
    for (const c of [newC, bothC]) {
      expect((await c.verifyDecision('d25')).entry.id).toBe('d25');
      expect((await c.verifyDecision('d3')).entry.id).toBe('d3');
      const r = await c.update();
      expect(r.status).toBe('unchanged');
      expect(r.checkpoint.checkpoint.size).toBe(30);
    }
    expect(await code(oldC.verifyDecision('d25'))).toBe('bad_signature');

    // The old-pinned client's state (stored during the overlap, signed by both keys) keeps
    // verifying once its configuration moves to the new key only.
    expect((await client(fetch, [NEW.vkey], stores.old).trusted())?.checkpoint.size).toBe(20);
    const moved = client(fetch, [NEW.vkey], stores.old);
    expect((await moved.update()).status).toBe('advanced');
    // A state signed only by a key no longer listed does not verify: bad_state.
    const stale = new MemoryStateStore();
    await stale.save(TEST_ORIGIN, resign(log.latest().note, [OLD]));
    expect(await code(client(fetch, [NEW.vkey], stale).trusted())).toBe('bad_state');
  });
});
