/**
 * The witness side of a signer key rotation and its multi-signature rule (spec/witness.md
 * §2.1 step 4): a log configured with several keys for its origin is cosigned when any one of
 * them signed; every line attributed to a configured key must verify, repeated lines included
 * (stricter than Go's note.Open, which skips repeats; c2sp.org/signed-note: a verifier MUST
 * verify a signature whose name and key ID match a known key). Also: gossip and the monitor
 * accept any configured key, and read peers' answers with a size cap.
 */
import { describe, expect, test } from 'vitest';
import { toBase64 } from '../../src/core/bytes.js';
import { formatCheckpoint } from '../../src/core/checkpoint.js';
import { cosignatureV1SignerFromSeed } from '../../src/core/cosignature.js';
import { silentLogger } from '../../src/core/logger.js';
import { EMPTY_ROOT } from '../../src/core/merkle.js';
import {
  ed25519SignerFromSeed,
  type NoteSigner,
  newEd25519Verifier,
  openNote,
  parseNote,
  signNote,
} from '../../src/core/note.js';
import { MAX_CHECKPOINT_RESPONSE_BYTES } from '../../src/core/response-caps.js';
import { formatAddCheckpointRequest } from '../../src/core/witness-protocol.js';
import { WitnessStore } from '../../src/store/witness-store.js';
import { Gossip } from '../../src/witness/gossip.js';
import { Monitor } from '../../src/witness/monitor.js';
import { createWitnessApp, Witness, witnessLogsFromSpecs } from '../../src/witness/witness.js';

const ORIGIN = 'rotation.test/log';
const OLD = ed25519SignerFromSeed(ORIGIN, new Uint8Array(32).fill(1));
const NEW = ed25519SignerFromSeed(ORIGIN, new Uint8Array(32).fill(2));
const STRANGER = ed25519SignerFromSeed(ORIGIN, new Uint8Array(32).fill(3));
const TEXT = formatCheckpoint({ origin: ORIGIN, size: 0, rootHash: EMPTY_ROOT });

function witness(specs = [OLD.vkey, NEW.vkey]): Witness {
  return new Witness({
    signer: cosignatureV1SignerFromSeed('rotation.test/witness', new Uint8Array(32).fill(9)),
    logs: witnessLogsFromSpecs(specs),
    store: WitnessStore.open(':memory:'),
  });
}

async function add(w: Witness, note: string): Promise<{ status: number; text: string }> {
  const res = await createWitnessApp(w).request('/add-checkpoint', {
    method: 'POST',
    body: formatAddCheckpointRequest(0, [], note),
  });
  return { status: res.status, text: await res.text() };
}

const signed = (...signers: NoteSigner[]) => signNote(TEXT, signers);

/** `note` with one more signature line: `signer`'s key ID and a signature with one bit flipped. */
function withCorruptLine(note: string, signer: NoteSigner): string {
  const good = parseNote(signNote(TEXT, [signer])).signatures[0]!;
  const sig = good.sig.slice();
  sig[7]! ^= 1;
  return signNote(TEXT, [], [...parseNote(note).signatures, { ...good, sig }]);
}

describe('a log with several keys for its origin', () => {
  test('cosigned when the old key, the new key, or both signed; refused (403) when neither did', async () => {
    const w = witness();
    for (const note of [signed(OLD), signed(NEW), signed(OLD, NEW), signed(NEW, OLD)]) {
      expect((await add(w, note)).status).toBe(200);
    }
    // The stored note keeps both log lines of the last request, then the cosignature.
    expect(parseNote(w.store.get(ORIGIN)!.note).signatures.map((s) => s.keyId)).toEqual([
      NEW.keyId,
      OLD.keyId,
      w.signer.keyId,
    ]);
    const r = await add(w, signed(STRANGER));
    expect(r.status).toBe(403);
    expect(r.text).toContain('invalid signature');
    // A witness that knows only the new key ignores the old key's line.
    expect((await add(witness([NEW.vkey]), signed(OLD, NEW))).status).toBe(200);
    expect((await add(witness([NEW.vkey]), signed(OLD))).status).toBe(403);
  });

  test('configuration: the same key twice and two URLs for one origin are refused', () => {
    expect(witnessLogsFromSpecs([OLD.vkey, `${NEW.vkey} http://log`])).toEqual([
      expect.objectContaining({
        origin: ORIGIN,
        url: 'http://log',
        verifiers: [expect.anything(), expect.anything()],
      }),
    ]);
    expect(() => witnessLogsFromSpecs([OLD.vkey, OLD.vkey])).toThrow(/listed twice/);
    expect(() => witnessLogsFromSpecs([`${OLD.vkey} http://a`, `${NEW.vkey} http://b`])).toThrow(/two URLs/);
  });
});

describe('the multi-signature rule', () => {
  test('a valid line plus a corrupt repeated line by the same (name, key ID): 403, where Go note.Open accepts', async () => {
    const note = withCorruptLine(signed(OLD), OLD);
    expect(parseNote(note).signatures.map((s) => s.keyId)).toEqual([OLD.keyId, OLD.keyId]);
    // core openNote keeps Go's rule (interop): repeats of a verified key are skipped unread.
    expect(openNote(note, [newEd25519Verifier(OLD.vkey)]).verified).toHaveLength(1);
    const r = await add(witness(), note);
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/repeated signature line .* does not verify/);
  });

  test('an identical repeated line is accepted; a corrupt line by the other configured key is 403; by an unknown key ignored', async () => {
    const once = signed(OLD);
    const line = once.slice(once.indexOf('\n\n') + 2);
    expect((await add(witness(), once + line)).status).toBe(200);
    expect((await add(witness(), withCorruptLine(signed(OLD), NEW))).status).toBe(403);
    expect((await add(witness(), withCorruptLine(signed(OLD), STRANGER))).status).toBe(200);
  });
});

/** A fetch whose every answer is an endless 200 body; `sent()` counts the bytes pulled. */
function endlessFetch(): { fetch: typeof fetch; sent: () => number } {
  let sent = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x41);
  const f = (async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(c) {
          sent += chunk.length;
          c.enqueue(chunk);
        },
      }),
    )) as unknown as typeof fetch;
  return { fetch: f, sent: () => sent };
}

describe('gossip and the monitor', () => {
  test('the monitor accepts a checkpoint signed by any configured key', async () => {
    const note = signed(NEW);
    const fetchNote = (async () => new Response(note)) as unknown as typeof fetch;
    const both = await new Monitor({
      logUrl: 'http://log',
      logVkey: [OLD.vkey, NEW.vkey],
      witnesses: [],
      fetch: fetchNote,
    }).check();
    expect(both.problems).toEqual([]);
    expect(both.observations.map((o) => toBase64(o.root))).toEqual([toBase64(EMPTY_ROOT)]);
    const oldOnly = await new Monitor({
      logUrl: 'http://log',
      logVkey: OLD.vkey,
      witnesses: [],
      fetch: fetchNote,
    }).check();
    expect(oldOnly.problems.join('\n')).toMatch(/no verifiable signatures|not signed by log key/);
  });

  test('an endless answer is refused at the cap by the monitor and by gossip', async () => {
    const m = endlessFetch();
    const report = await new Monitor({
      logUrl: 'http://log',
      logVkey: [OLD.vkey],
      witnesses: [],
      fetch: m.fetch,
    }).check();
    expect(report.problems.join('\n')).toContain(`exceeds ${MAX_CHECKPOINT_RESPONSE_BYTES} bytes`);
    expect(m.sent()).toBeLessThanOrEqual(MAX_CHECKPOINT_RESPONSE_BYTES + 2 * 64 * 1024);

    const w = witness();
    expect((await add(w, signed(OLD))).status).toBe(200);
    const g = endlessFetch();
    const round = await new Gossip({
      witness: w,
      peers: [{ url: 'http://peer' }],
      fetch: g.fetch,
      logger: silentLogger,
    }).runOnce();
    expect(round.compared).toBe(0);
    expect(round.problems.join('\n')).toContain(`exceeds ${MAX_CHECKPOINT_RESPONSE_BYTES} bytes`);
    expect(g.sent()).toBeLessThanOrEqual(MAX_CHECKPOINT_RESPONSE_BYTES + 2 * 64 * 1024);
  });
});
