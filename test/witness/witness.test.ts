/**
 * The tlog-witness server against the reference vectors (ref §10): the litewitness request
 * sequence translated to add-checkpoint (status codes for each case, spec HEAD choices), the
 * example.com/log requests reproducing the documented cosignature lines byte for byte, and
 * every other status code and body of spec/witness.md.
 */
import { describe, expect, test } from 'vitest';
import { fromBase64, fromHex, toBase64 } from '../../src/core/bytes.js';
import { signCheckpoint } from '../../src/core/checkpoint.js';
import { cosignatureV1SignerFromSeed, newCosignatureV1Verifier } from '../../src/core/cosignature.js';
import { EMPTY_ROOT } from '../../src/core/merkle.js';
import { ed25519SignerFromSeed, newEd25519Verifier, openNote } from '../../src/core/note.js';
import {
  formatAddCheckpointRequest,
  originHash,
  parseAddCheckpointRequest,
  parseTlogSize,
} from '../../src/core/witness-protocol.js';
import { WitnessStore } from '../../src/store/witness-store.js';
import { createWitnessApp, Witness, witnessLogsFromSpecs } from '../../src/witness/witness.js';

const hex = (s: string) => fromHex(s)!;
const b64 = (s: string) => toBase64(hex(s));

// ---- litewitness (FiloSottile/litetlog cmd/litewitness/testdata/litewitness.txt), ref §10 ----
const SIGSUM_VKEY =
  'sigsum.org/v1/tree/4d6d8825a6bb689d459628312889dfbb0bcd41b5211d9e1ce768b0ff0309e562+5202289b+Af/cLU2Y5BJNP+r3iMDC+av9eWCD0fBJVDfzAux5zxAP';
const SIGSUM_ORIGIN = 'sigsum.org/v1/tree/4d6d8825a6bb689d459628312889dfbb0bcd41b5211d9e1ce768b0ff0309e562';
const UNKNOWN_ORIGIN = 'sigsum.org/v1/tree/4d6d8825a6bb689d459628312889dfbb0bcd41b5211d9e1ce768b0ff0309e561';

function sigsumNote(origin: string, size: number, rootHex: string, sigHex: string): string {
  return `${origin}\n${size}\n${b64(rootHex)}\n\n— ${origin} ${b64(`5202289b${sigHex}`)}\n`;
}
const ROOT1 = '2a00000000000000000000000000000000000000000000000000000000000000';
const SIG1 =
  'b7cf653aa9c565a1ca359db81bd3bc656ab2890c6ea4c0aec42295e80aa05049423505026434f987923ccdf07d440c152cd59e736e5914d8ada8d7a4d51b2106';
const ROOT3 = '45c088d4d939e9971298811f227d1295eaad57bbafae55cd71c171e7de48c25d';
const SIG3 =
  '655bb4871d15bc05032d67eece88900c4863a27f190393b99176391577f5def971b023d9a418c3226b7b7ea47b33686d9b3849451dadc6b07c007c595af1ea0a';
const SIG3_BAD = `${SIG3.slice(0, -2)}0b`;
const ROOT5 = '42bb57ad06420afa4882c4a63ac6a1ec77480b330b2f20dfc53a0caa5f564e36';
const SIG5 =
  '0fc43899968b48b5150b0e8fe7ad07b17c21c7056a6fe381deb0cd19ece103d59b2119b5dbe5d54d8a1262ce67f01245c5898b4b56f747495804a17a2eec0f0c';
const H = (s: string) => hex(s.padEnd(64, '0'));

// ---- example.com/log (ref §10) ----
const LOG_VKEY = 'example.com/log+d455c521+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4';
const WIT_SEED = hex('202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f');
const WIT_VKEY = 'example.com/witness+098ef77f+BCmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X';
const NOTE6 =
  'example.com/log\n6\nduZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=\n\n' +
  '— example.com/log 1FXFIU6R1VoyL2xZ+tujr5zzs1ITuJSMGlkj+n6+SjO5FZXW0IoVDPO0WNBjv8OOh+kv543GQHAFERf1LGYgt9gyOQ0=\n';
const WIT6 =
  '— example.com/witness CY73fwAAAABlU/EA+h09lK2U1nCxOQZ55jh9H+AYzq7bpDwLtnB2lVTq05PqdelHov7t+Vhmk/RzSSS2mLqSQqLIndbwg2ujjN+YAg==\n';
const NOTE8 =
  'example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n' +
  '— example.com/log 1FXFIQghEbt48JV0nbbvyoj51oOGWi8PWVu51z3js1zWy2qLhh2zcvy6M2X+e8pEVRpGR/9z7MVVru29jIzLkdPuEwg=\n';
const WIT8 =
  '— example.com/witness CY73fwAAAABlU/EA5qoXb2upYCVvwU57HyfnAEFRmLcQJPcjxRBvQm06RwFL5yc6USs37aZKNWAqDA8Mlem5PPKrnJ0Kitk8yjXCDA==\n';
const REQ_6_TO_8 =
  'old 6\nDrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=\nyoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=\n' +
  `037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=\n\n${NOTE8}`;

function sigsumWitness(): Witness {
  return new Witness({
    signer: cosignatureV1SignerFromSeed('witness.test/w', new Uint8Array(32).fill(9)),
    logs: witnessLogsFromSpecs([SIGSUM_VKEY]),
    store: WitnessStore.open(':memory:'),
  });
}

async function post(w: Witness, body: string) {
  const app = createWitnessApp(w);
  const res = await app.request('/add-checkpoint', { method: 'POST', body });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('litewitness vectors (ref §10), as add-checkpoint requests', () => {
  test('the whole sequence gives the documented status codes', async () => {
    const w = sigsumWitness();
    const wv = newCosignatureV1Verifier(w.signer.vkey);
    const note1 = sigsumNote(SIGSUM_ORIGIN, 1, ROOT1, SIG1);
    const note3 = sigsumNote(SIGSUM_ORIGIN, 3, ROOT3, SIG3);
    const note5 = sigsumNote(SIGSUM_ORIGIN, 5, ROOT5, SIG5);

    // 1. fresh witness, old 0 → 200 with a cosignature that verifies.
    const r1 = await post(w, formatAddCheckpointRequest(0, [], note1));
    expect(r1.status).toBe(200);
    expect(openNote(note1 + r1.text, [wv]).verified).toHaveLength(1);

    // 2. corrupted log signature → 403 "invalid signature".
    const r2 = await post(
      w,
      formatAddCheckpointRequest(1, [H('2a01'), H('2a02')], sigsumNote(SIGSUM_ORIGIN, 3, ROOT3, SIG3_BAD)),
    );
    expect(r2.status).toBe(403);
    expect(r2.text).toContain('invalid signature');

    // 3. unknown origin → 404 (spec; litewitness answers 403 "unknown log").
    const r3 = await post(
      w,
      formatAddCheckpointRequest(1, [H('2a01'), H('2a02')], sigsumNote(UNKNOWN_ORIGIN, 3, ROOT3, SIG3)),
    );
    expect(r3.status).toBe(404);
    expect(r3.text).toContain('unknown log');

    // 4. no proof lines → 422; 5. modified proof → 422.
    const r4 = await post(w, formatAddCheckpointRequest(1, [], note3));
    expect(r4.status).toBe(422);
    expect(r4.text).toContain('consistency proof');
    const bad = hex('2a02000000000000000000000000000000000000000000000000000000000001');
    const r5 = await post(w, formatAddCheckpointRequest(1, [H('2a01'), bad], note3));
    expect(r5.status).toBe(422);
    expect(r5.text).toContain('consistency proof');

    // 6. valid proof 1 → 3 → 200.
    const r6 = await post(w, formatAddCheckpointRequest(1, [H('2a01'), H('2a02')], note3));
    expect(r6.status).toBe(200);
    expect(openNote(note3 + r6.text, [wv]).verified).toHaveLength(1);

    // 7. stale old size 1 for size 5 → 409, text/x.tlog.size, body "3\n".
    const p15 = [
      H('2a01'),
      hex('f9f50357e93def4078237b8aaea24ce1a3f5965a0f64ff26bebd99e30470d8b2'),
      H('2a04'),
    ];
    const r7 = await post(w, formatAddCheckpointRequest(1, p15, note5));
    expect(r7.status).toBe(409);
    expect(r7.type).toBe('text/x.tlog.size');
    expect(r7.text).toBe('3\n');
    expect(parseTlogSize(r7.text)).toBe(3);

    // 8. old 3 with the proof 3 → 5 → 200; the witness now holds size 5.
    const p35 = [
      H('2a02'),
      H('2a03'),
      hex('c2088815d65f60dbfa594d4e96504ab169cb6084bf0c132ab7c521fd2e0eba41'),
      H('2a04'),
    ];
    const r8 = await post(w, formatAddCheckpointRequest(3, p35, note5));
    expect(r8.status).toBe(200);
    expect(w.store.get(SIGSUM_ORIGIN)?.size).toBe(5);

    // The monitoring endpoint serves the latest cosigned checkpoint, log- and witness-signed.
    const mon = await createWitnessApp(w).request(`/${originHash(SIGSUM_ORIGIN)}/checkpoint`);
    expect(mon.status).toBe(200);
    const opened = openNote(await mon.text(), [newEd25519Verifier(SIGSUM_VKEY), wv]);
    expect(opened.verified).toHaveLength(2);
    expect(opened.text).toBe(`${SIGSUM_ORIGIN}\n5\n${b64(ROOT5)}\n`);
    // Failed consistency on a known log was recorded as evidence (requests 4 and 5).
    expect(w.evidence().filter((e) => e.kind === 'inconsistent_proof')).toHaveLength(2);
  });
});

describe('example.com/log vectors (ref §10)', () => {
  test('reproduces the documented cosignature lines byte for byte', async () => {
    const signer = cosignatureV1SignerFromSeed('example.com/witness', WIT_SEED, () => 1700000000n);
    expect(signer.vkey).toBe(WIT_VKEY);
    const w = new Witness({
      signer,
      logs: witnessLogsFromSpecs([LOG_VKEY]),
      store: WitnessStore.open(':memory:'),
    });
    const r6 = await post(w, `old 0\n\n${NOTE6}`);
    expect(r6.status).toBe(200);
    expect(r6.text).toBe(WIT6);
    const r8 = await post(w, REQ_6_TO_8);
    expect(r8.status).toBe(200);
    expect(r8.text).toBe(WIT8);
    expect(w.store.get('example.com/log')?.note).toBe(NOTE8 + WIT8);
  });
});

describe('status codes and bodies', () => {
  const logSigner = ed25519SignerFromSeed(
    'example.com/log',
    new Uint8Array(32).map((_, i) => i),
  );
  const otherSigner = ed25519SignerFromSeed('example.com/log', new Uint8Array(32).fill(1));
  const note = (size: number, root: Uint8Array, s = logSigner) =>
    signCheckpoint({ origin: 'example.com/log', size, rootHash: root }, s);
  const fresh = () =>
    new Witness({
      signer: cosignatureV1SignerFromSeed('w.test', new Uint8Array(32).fill(3)),
      logs: witnessLogsFromSpecs([LOG_VKEY]),
      store: WitnessStore.open(':memory:'),
    });
  const root6 = fromBase64('duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=')!;

  test('400: malformed requests', async () => {
    const w = fresh();
    const ok = note(6, root6);
    for (const body of [
      ok, // no old line
      `old 0\n${ok}`, // no empty line before the note
      `old 00\n\n${ok}`, // non-canonical
      `old -1\n\n${ok}`,
      `Old 0\n\n${ok}`,
      `old 0 \n\n${ok}`,
      `old 1\nnot-base64!\n\n${ok}`,
      `old 1\n${toBase64(new Uint8Array(31))}\n\n${ok}`,
      `old 1\n${`${toBase64(new Uint8Array(32))}\n`.repeat(64)}\n${ok}`, // 64 proof lines
      'old 0\n\nexample.com/log\n6\n\n', // not a note
      'old 0\n\nexample.com/log\nsix\nAAAA\n\n— example.com/log AAAAAAAA\n', // bad checkpoint
      `old 7\n\n${ok}`, // old > size
    ]) {
      const r = await post(w, body);
      expect(r.status, body.slice(0, 40)).toBe(400);
      expect(r.text.endsWith('\n')).toBe(true);
    }
    const big = await post(w, `old 0\n\n${'x'.repeat(200 * 1024)}`);
    expect(big.status).toBe(400);
    expect(w.store.get('example.com/log')).toBeUndefined();
  });

  test('403: no signature from a trusted key, or a failing trusted signature', async () => {
    const w = fresh();
    expect((await post(w, `old 0\n\n${note(6, root6, otherSigner)}`)).status).toBe(403);
    const good = note(6, root6);
    const tampered = good.replace('\n6\n', '\n7\n');
    expect((await post(w, `old 0\n\n${tampered}`)).status).toBe(403);
    // an unknown extra signature is ignored
    const both = signCheckpoint({ origin: 'example.com/log', size: 6, rootHash: root6 }, otherSigner, [
      ...openNote(good, [newEd25519Verifier(LOG_VKEY)]).verified,
    ]);
    expect((await post(w, `old 0\n\n${both}`)).status).toBe(200);
  });

  test('422: size 0 with a non-empty root, proof lines with old 0, same size other root', async () => {
    const w = fresh();
    expect((await post(w, `old 0\n\n${note(0, root6)}`)).status).toBe(422);
    const empty = await post(w, `old 0\n\n${note(0, EMPTY_ROOT)}`);
    expect(empty.status).toBe(200);
    const w2 = fresh();
    const withProof = formatAddCheckpointRequest(0, [new Uint8Array(32)], note(6, root6));
    expect((await post(w2, withProof)).status).toBe(422);
    expect((await post(w2, `old 0\n\n${note(6, root6)}`)).status).toBe(200);
    // same size, different root: 422 (tlog-witness HEAD; v1.0.0 said 409), recorded as evidence
    const fork = note(6, new Uint8Array(32).fill(5));
    const r = await post(w2, `old 6\n\n${fork}`);
    expect(r.status).toBe(422);
    const ev = w2.evidence();
    expect(ev).toHaveLength(1);
    expect(ev[0]!.kind).toBe('same_size_different_root');
    expect(ev[0]!.theirs).toBe(fork);
    // the same fork with a stale old size: 409 telling the size, and the evidence is not duplicated
    const r409 = await post(w2, `old 0\n\n${fork}`);
    expect(r409.status).toBe(409);
    expect(r409.text).toBe('6\n');
    expect(w2.evidence()).toHaveLength(1);
    // same size and root again: a fresh cosignature (how logs refresh timestamps)
    expect((await post(w2, `old 6\n\n${note(6, root6)}`)).status).toBe(200);
    expect((await post(w2, formatAddCheckpointRequest(6, [new Uint8Array(32)], note(6, root6)))).status).toBe(
      422,
    );
  });

  test('monitoring endpoint, evidence endpoint, info and 404s', async () => {
    const w = fresh();
    const app = createWitnessApp(w);
    const path = `/${originHash('example.com/log')}/checkpoint`;
    expect((await app.request(path)).status).toBe(404);
    expect((await app.request(`/${'0'.repeat(64)}/checkpoint`)).status).toBe(404);
    expect((await app.request('/add-checkpoint')).status).toBe(404);
    await post(w, `old 0\n\n${note(6, root6)}`);
    const res = await app.request(path);
    expect(res.status).toBe(200);
    const opened = openNote(await res.text(), [
      newEd25519Verifier(LOG_VKEY),
      newCosignatureV1Verifier(w.signer.vkey),
    ]);
    expect(opened.verified.map((s) => s.name)).toEqual(['example.com/log', 'w.test']);
    const info = (await (await app.request('/')).json()) as { vkey: string };
    expect(info.vkey).toBe(w.signer.vkey);
    const ev = (await (await app.request('/evidence')).json()) as { evidence: unknown[] };
    expect(ev.evidence).toEqual([]);
  });

  test('request parser round-trips and cuts at the first empty line', () => {
    const p = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
    const body = formatAddCheckpointRequest(5, p, NOTE8);
    const r = parseAddCheckpointRequest(body);
    expect(r.oldSize).toBe(5);
    expect(r.proof).toEqual(p);
    expect(r.note).toBe(NOTE8);
    expect(() =>
      formatAddCheckpointRequest(
        1,
        Array.from({ length: 64 }, () => p[0]!),
        NOTE8,
      ),
    ).toThrow();
  });
});
