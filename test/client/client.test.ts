/**
 * The verifying client against an honest in-process server and against lying ones: every lie
 * is refused with its exact error code and evidence; the honest server is accepted.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { makeTrust } from '../../src/client/checkpoint.js';
import { LogClient, type LogClientOptions } from '../../src/client/client.js';
import { VerifyError, type VerifyErrorCode } from '../../src/client/errors.js';
import {
  consistencyPath,
  decisionPath,
  entryPath,
  parseConsistencyAnswer,
} from '../../src/client/json-api.js';
import { MemoryStateStore } from '../../src/client/state.js';
import { isLeafIndex } from '../../src/client/tile-proofs.js';
import { parseTlogProof, verifyTlogProof } from '../../src/client/tlog-proof.js';
import { fromBase64, toBase64 } from '../../src/core/bytes.js';
import { encodeDeterministic } from '../../src/core/cbor.js';
import { cosignatureV1Line, cosignatureV1SignerFromSeed } from '../../src/core/cosignature.js';
import { decodeEntry, encodeEntry } from '../../src/core/entry.js';
import { ed25519SignerFromSeed, parseNote } from '../../src/core/note.js';
import type { TransparencyLog } from '../../src/log/log.js';
import { TEST_ORIGIN } from '../helpers/log.js';
import { BASE, bytesResponse, editJson, grow, logFetch, lying, makeLog, TEST_SIGNER } from './fixture.js';

const logs: TransparencyLog[] = [];
afterEach(() => {
  for (const l of logs.splice(0)) l.close();
});
async function open(n: number, opts: Parameters<typeof makeLog>[1] = {}): Promise<TransparencyLog> {
  const log = await makeLog(n, opts);
  logs.push(log);
  return log;
}

function client(fetch: LogClientOptions['fetch'], over: Partial<LogClientOptions> = {}): LogClient {
  return new LogClient({ url: BASE, vkey: TEST_SIGNER.vkey, ...(fetch ? { fetch } : {}), ...over });
}

async function refusal(p: Promise<unknown>, code: VerifyErrorCode): Promise<VerifyError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(VerifyError);
    const e = err as VerifyError;
    expect(e.code, e.message).toBe(code);
    return e;
  }
  throw new Error(`expected a refusal with code ${code}, got success`);
}

describe('honest server', () => {
  test('checkpoint: first use, then advanced with a consistency proof from tiles and from the API', async () => {
    const log = await open(300);
    const store = new MemoryStateStore();
    const c = client(logFetch(log), { store });
    const first = await c.update();
    expect(first.status).toBe('first_use');
    expect(first.checkpoint.checkpoint.size).toBe(300);
    expect(await store.load(TEST_ORIGIN)).toBe(first.checkpoint.note);
    expect((await c.update()).status).toBe('unchanged');
    await grow(log, 300, 777);
    const adv = await c.update('tiles');
    expect(adv.status).toBe('advanced');
    expect(adv.proof.length).toBeGreaterThan(0);
    expect(adv.trusted?.checkpoint.size).toBe(300);
    await grow(log, 777, 1000);
    const api = await c.update('api');
    expect(api.status).toBe('advanced');
    expect(api.proofSource).toBe('api');
    await c.verifyTreeTiles(api.checkpoint);
    expect((await c.trusted())?.checkpoint.size).toBe(1000);
  });

  test('decision: commitment, inclusion, tlog-proof and consistency verified; event decoded from the payload', async () => {
    const log = await open(20);
    const c = client(logFetch(log));
    await c.update();
    await grow(log, 20, 30); // the answer's checkpoint (30) is newer than the trusted one (20)
    const r = await c.verifyDecision('d7', { source: 'svc', tiles: true });
    expect(r.index).toBe(7);
    expect(r.commitment).toBe('verified');
    expect(r.entry.id).toBe('d7');
    expect(r.event).toMatchObject({ decision_id: 'd7', path: 'authz/allow' });
    expect(r.consistency.status).toBe('advanced');
    expect(r.checkpoint.checkpoint.size).toBe(30);
    const p = verifyTlogProof(r.tlogProof!, c.trust);
    expect(p.index).toBe(7);
    const byIndex = await c.verifyEntry(29);
    expect(byIndex.entry.id).toBe('d29');
  });

  test('an answer under an older checkpoint is proven to be a prefix of the trusted tree', async () => {
    const log = await open(10);
    const old = log.latest().note;
    const honest = logFetch(log);
    await grow(log, 10, 40);
    const c = client(honest);
    await c.update();
    // A lookup answered (say, by a cache) under the older checkpoint of size 10.
    const f = lying(honest, (path, res) =>
      path.startsWith('v1/decisions/') ? editJson(res, (o) => rewriteUnder(o, log, old, 10)) : undefined,
    );
    const r = await client(f, { store: c.store }).verifyDecision('d3');
    expect(r.checkpoint.checkpoint.size).toBe(10);
    expect(r.consistency.status).toBe('older');
  });

  test('an entry is verified from the tiles alone', async () => {
    const log = await open(600);
    const c = client(logFetch(log));
    const r = await c.verifyEntryFromTiles(513);
    expect(r.entry?.id).toBe('d513');
    expect(r.checkpoint.checkpoint.size).toBe(600);
  });

  test('missing partial tiles and bundles fall back to the full ones', async () => {
    const log = await open(300);
    const c = client(logFetch(log));
    const cp300 = (await c.update()).checkpoint;
    await grow(log, 300, 600);
    const requested: string[] = [];
    const f = lying(logFetch(log), (path) => {
      requested.push(path);
      return path.endsWith('001.p/44') ? bytesResponse('{"error":"tile_not_found"}', 404) : undefined;
    });
    const r = await client(f).verifyEntryFromTiles(290, cp300);
    expect(r.entry?.id).toBe('d290');
    expect(requested).toEqual(
      expect.arrayContaining(['tile/0/001.p/44', 'tile/0/001', 'tile/entries/001.p/44', 'tile/entries/001']),
    );
  });
});

/** Rewrites a lookup answer to be under checkpoint `note` of size `size`. */
async function rewriteUnder(
  o: Record<string, unknown>,
  log: TransparencyLog,
  note: string,
  size: number,
): Promise<void> {
  const index = o.index as number;
  o.proof = (await log.inclusionProof(index, size)).map(toBase64);
  o.checkpoint = note;
  o.tree_size = size;
  delete o.tlog_proof;
}

describe('lying server', () => {
  test('wrong inclusion proof', async () => {
    const log = await open(50);
    const f = lying(logFetch(log), (path, res) =>
      path.startsWith('v1/decisions/')
        ? editJson(res, (o) => {
            const proof = o.proof as string[];
            proof[1] = proof[0]!;
          })
        : undefined,
    );
    const e = await refusal(client(f).verifyDecision('d12'), 'bad_inclusion');
    expect(e.evidence.proofSource).toBe('response');
    expect(e.evidence.checkpoint).toBe(log.latest().note);
    expect(e.evidence.index).toBe(12);
  });

  test('forked checkpoint of the same size (two logs, same key and origin, diverging)', async () => {
    const a = await open(5);
    const b = await open(3);
    await grow(b, 3, 5, '-fork');
    const store = new MemoryStateStore();
    await client(logFetch(a), { store }).update();
    const e = await refusal(client(logFetch(b), { store }).update(), 'fork');
    expect(e.evidence.trusted).toBe(a.latest().note);
    expect(e.evidence.checkpoint).toBe(b.latest().note);
  });

  test('forked checkpoint of a larger tree: proven from tiles and from the proof API', async () => {
    const a = await open(5);
    const b = await open(3);
    await grow(b, 3, 300, '-fork');
    const store = new MemoryStateStore();
    await client(logFetch(a), { store }).update();
    for (const source of ['tiles', 'api'] as const) {
      const e = await refusal(client(logFetch(b), { store }).update(source), 'fork');
      expect(e.evidence.trusted).toBe(a.latest().note);
      expect(e.evidence.checkpoint).toBe(b.latest().note);
      expect(e.evidence.forkedRoot).toBe(toBase64(await b.rootAt(5)));
      expect(e.evidence.proofSource).toBe(source);
    }
    expect((await store.load(TEST_ORIGIN)) === a.latest().note).toBe(true);
  });

  test('a consistency proof the API made up is refused as inconsistent', async () => {
    const log = await open(10);
    const c = client(logFetch(log));
    await c.update();
    await grow(log, 10, 20);
    const f = lying(logFetch(log), (path, res) =>
      path.startsWith('v1/proof/consistency')
        ? editJson(res, (o) => {
            o.proof = (o.proof as string[]).map(() => toBase64(new Uint8Array(32)));
          })
        : undefined,
    );
    await refusal(client(f, { store: c.store }).update('api'), 'inconsistent');
  });

  test('checkpoint of a smaller tree than the trusted one (rollback)', async () => {
    const log = await open(5);
    const old = log.latest().note;
    await grow(log, 5, 9);
    const store = new MemoryStateStore();
    await client(logFetch(log), { store }).update();
    const f = lying(logFetch(log), (path) => (path === 'checkpoint' ? bytesResponse(old) : undefined));
    const e = await refusal(client(f, { store }).update(), 'rollback');
    expect(e.evidence.trusted).toBe(log.latest().note);
    expect(e.evidence.checkpoint).toBe(old);
  });

  test('altered entry: in a lookup answer and in an entry bundle', async () => {
    const log = await open(40);
    const f = lying(logFetch(log), (path, res) =>
      path.startsWith('v1/decisions/')
        ? editJson(res, (o) => {
            const e = decodeEntry(fromBase64(o.entry as string)!);
            o.entry = toBase64(encodeEntry({ ...e, recv: e.recv + 1 }));
          })
        : undefined,
    );
    const e = await refusal(client(f).verifyDecision('d4'), 'bad_inclusion');
    expect(e.evidence.leafHash).toBeDefined();

    const bundle = lying(logFetch(log), async (path, res) => {
      if (!path.startsWith('tile/entries/')) return undefined;
      const b = new Uint8Array(await res.arrayBuffer());
      b[b.length - 1] = b[b.length - 1]! ^ 1; // last byte of the last entry
      return bytesResponse(b);
    });
    const e2 = await refusal(client(bundle).verifyEntryFromTiles(39), 'bad_inclusion');
    expect(e2.evidence.proofSource).toBe('tiles');
    expect(e2.evidence.expected).toBe(toBase64(await log.leafHashAt(39)));
  });

  test('altered payload', async () => {
    const log = await open(8);
    const f = lying(logFetch(log), (path, res) =>
      path.startsWith('v1/decisions/')
        ? editJson(res, (o) => {
            o.payload = toBase64(
              encodeDeterministic({ decision_id: 'd2', path: 'authz/allow', result: false }),
            );
          })
        : undefined,
    );
    const e = await refusal(client(f).verifyDecision('d2'), 'commitment_mismatch');
    expect(e.evidence.index).toBe(2);
  });

  test('answer about another decision', async () => {
    const log = await open(8);
    const f = lying(logFetch(log), (path, res) =>
      path.startsWith('v1/decisions/d2') ? logFetch(log)(`${BASE}/v1/decisions/d3`) : res,
    );
    const e = await refusal(client(f).verifyDecision('d2'), 'entry_mismatch');
    expect(e.evidence.expected).toBe('d2');
    expect(e.evidence.actual).toBe('d3');
  });

  test('truncated tile and tampered tile', async () => {
    const log = await open(300);
    const store = new MemoryStateStore();
    await client(logFetch(log), { store }).update();
    await grow(log, 300, 700);
    const truncated = lying(logFetch(log), async (path, res) => {
      if (!/^tile\/\d/.test(path)) return undefined;
      const b = new Uint8Array(await res.arrayBuffer());
      return bytesResponse(b.subarray(0, b.length - 32));
    });
    const e = await refusal(client(truncated, { store }).update(), 'bad_tile');
    expect(e.evidence.url).toMatch(/\/tile\/\d/);
    const flipped = lying(logFetch(log), async (path, res) => {
      if (!path.startsWith('tile/0/')) return undefined;
      const b = new Uint8Array(await res.arrayBuffer());
      b[0] = b[0]! ^ 0xff;
      return bytesResponse(b);
    });
    await refusal(client(flipped, { store }).update(), 'bad_tile');
    // An honest server is still accepted by the same store afterwards.
    expect((await client(logFetch(log), { store }).update()).status).toBe('advanced');
  });

  test('checkpoint signed by the wrong key', async () => {
    const other = ed25519SignerFromSeed(TEST_ORIGIN, new Uint8Array(32).fill(9));
    const log = await open(4, { signer: other });
    const e = await refusal(client(logFetch(log)).update(), 'bad_signature');
    expect(e.evidence.checkpoint).toBe(log.latest().note);
    await refusal(client(logFetch(log)).verifyDecision('d1'), 'bad_signature');
  });

  test('a malformed checkpoint and a checkpoint of another origin', async () => {
    const log = await open(2);
    const garbage = lying(logFetch(log), (path) =>
      path === 'checkpoint' ? bytesResponse('hello\n') : undefined,
    );
    await refusal(client(garbage).update(), 'malformed_checkpoint');
    const otherOrigin = ed25519SignerFromSeed('other.example/log', new Uint8Array(32).fill(3));
    await refusal(client(logFetch(log), { vkey: otherOrigin.vkey }).update(), 'origin_mismatch');
  });

  test('witness policy: too few cosignatures, a forged one, and a quorum met', async () => {
    const log = await open(6);
    const w1 = cosignatureV1SignerFromSeed('witness-one', new Uint8Array(32).fill(11));
    const w2 = cosignatureV1SignerFromSeed('witness-two', new Uint8Array(32).fill(12));
    const policy = [
      `log ${TEST_SIGNER.vkey}`,
      `witness w1 ${w1.vkey}`,
      `witness w2 ${w2.vkey}`,
      'group both all w1 w2',
      'quorum both',
      '',
    ].join('\n');
    const note = log.latest().note;
    const text = parseNote(note).text;
    const cosigned = (...lines: string[]) =>
      lying(logFetch(log), (path) =>
        path === 'checkpoint' ? bytesResponse(note + lines.join('')) : undefined,
      );
    const l1 = cosignatureV1Line(w1, text, 1_700_000_000n);
    const l2 = cosignatureV1Line(w2, text, 1_700_000_000n);
    const e = await refusal(client(cosigned(l1), { policy }).update(), 'quorum_not_met');
    expect(e.evidence.checkpoint).toBe(note + l1);
    await refusal(client(cosigned(), { policy }).update(), 'quorum_not_met');
    // w2's line with a signature over another time: a known key's signature that fails.
    const forged = l2.replace(/ (\S+)\n$/, (_m, b64: string) => {
      const raw = fromBase64(b64)!;
      raw[raw.length - 1] = raw[raw.length - 1]! ^ 1;
      return ` ${toBase64(raw)}\n`;
    });
    await refusal(client(cosigned(l1, forged), { policy }).update(), 'bad_signature');
    const ok = await client(cosigned(l1, l2), { policy }).update();
    expect(ok.checkpoint.witnesses).toEqual(['w1', 'w2']);
  });

  test('tampered trusted state is refused', async () => {
    const log = await open(3);
    const store = new MemoryStateStore();
    await store.save(TEST_ORIGIN, log.latest().note.replace(/\n3\n/, '\n4\n'));
    await refusal(client(logFetch(log), { store }).update(), 'bad_state');
  });

  test('network failure and HTTP errors are not verification failures', async () => {
    const down = client(async () => {
      throw new TypeError('fetch failed');
    });
    await refusal(down.update(), 'network');
    const log = await open(3);
    const denied = lying(logFetch(log), (path) =>
      path.startsWith('v1/decisions/') ? bytesResponse('{"error":"unauthorized"}', 401) : undefined,
    );
    await refusal(client(denied).verifyDecision('d1'), 'unauthorized');
    await refusal(client(logFetch(log)).verifyDecision('nope'), 'not_found');
  });
});

describe('offline tlog-proof (reference vector, c2sp.org/tlog-proof)', () => {
  const vkey = 'example.com/log+d455c521+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4';
  const wvkey = 'example.com/witness+098ef77f+BCmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X';
  const proof = [
    'c2sp.org/tlog-proof@v1',
    'index 5',
    'vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=',
    'yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=',
    '037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=',
    '',
    'example.com/log',
    '8',
    'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=',
    '',
    '— example.com/log 1FXFIQghEbt48JV0nbbvyoj51oOGWi8PWVu51z3js1zWy2qLhh2zcvy6M2X+e8pEVRpGR/9z7MVVru29jIzLkdPuEwg=',
    '— example.com/witness CY73fwAAAABlU/EA5qoXb2upYCVvwU57HyfnAEFRmLcQJPcjxRBvQm06RwFL5yc6USs37aZKNWAqDA8Mlem5PPKrnJ0Kitk8yjXCDA==',
    '',
  ].join('\n');
  const entry = Uint8Array.of(0x40, 0x41, 0x42, 0x43);
  const policy = `log ${vkey}\nwitness w ${wvkey}\nquorum w\n`;

  test('verifies with the log key and with a witness quorum', () => {
    expect(verifyTlogProof(proof, makeTrust(vkey), entry).checkpoint.checkpoint.size).toBe(8);
    expect(verifyTlogProof(proof, makeTrust(vkey, policy), entry).checkpoint.witnesses).toEqual(['w']);
    expect(parseTlogProof(proof).proof).toHaveLength(3);
  });

  test('refuses another entry, another index, a malformed file and a missing quorum', () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (err) {
        return (err as VerifyError).code;
      }
      return undefined;
    };
    expect(code(() => verifyTlogProof(proof, makeTrust(vkey), Uint8Array.of(0x40, 0x41, 0x42, 0x44)))).toBe(
      'bad_inclusion',
    );
    expect(code(() => verifyTlogProof(proof.replace('index 5', 'index 4'), makeTrust(vkey), entry))).toBe(
      'bad_inclusion',
    );
    expect(code(() => verifyTlogProof(proof.replace('index 5', 'index 05'), makeTrust(vkey), entry))).toBe(
      'malformed_proof',
    );
    expect(
      code(() => verifyTlogProof(proof.replace('c2sp.org/tlog-proof@v1', 'x'), makeTrust(vkey), entry)),
    ).toBe('malformed_proof');
    const noWitness = proof.replace(/— example\.com\/witness .*\n/, '');
    expect(code(() => verifyTlogProof(noWitness, makeTrust(vkey, policy), entry))).toBe('quorum_not_met');
  });
});

describe('JSON API answers and tile helpers (pure)', () => {
  const url = `${BASE}/v1/proof/consistency?from=1&to=2`;
  const hash = toBase64(new Uint8Array(32).fill(7));

  test('a consistency answer is shape-checked; a from_root that is not 32 bytes is dropped', async () => {
    const ok = parseConsistencyAnswer({ proof: [hash], from_root: hash }, url);
    expect(ok.proof.map(toBase64)).toEqual([hash]);
    expect(toBase64(ok.claimedOldRoot!)).toBe(hash);
    expect(parseConsistencyAnswer({ proof: [], from_root: 'AAAA' }, url).claimedOldRoot).toBeUndefined();
    for (const body of [null, {}, { proof: 'x' }, { proof: ['AAAA'] }, { proof: [7] }]) {
      const e = await refusal(
        Promise.resolve().then(() => parseConsistencyAnswer(body, url)),
        'malformed_response',
      );
      expect(e.evidence.url).toBe(url);
    }
  });

  test('lookup paths escape the decision id and source', () => {
    expect(consistencyPath(3, 9)).toBe('v1/proof/consistency?from=3&to=9');
    expect(decisionPath('a/b c')).toBe('v1/decisions/a%2Fb%20c');
    expect(decisionPath('d', 's&t')).toBe('v1/decisions/d?source=s%26t');
    expect(entryPath(42)).toBe('v1/entries/42');
  });

  test('leaf indexes are safe integers below the tree size', () => {
    expect(isLeafIndex(0, 1)).toBe(true);
    expect(isLeafIndex(1, 1)).toBe(false);
    expect(isLeafIndex(-1, 5)).toBe(false);
    expect(isLeafIndex(1.5, 5)).toBe(false);
    expect(isLeafIndex(Number.NaN, 5)).toBe(false);
  });
});
