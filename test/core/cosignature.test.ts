import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toBase64, toHex, utf8 } from '../../src/core/bytes.js';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import {
  COSIGNATURE_V1_SIG_SIZE,
  cosignatureV1Line,
  cosignatureV1Message,
  cosignatureV1SignerFromSeed,
  cosignatureV1VerifierFromKey,
  decodeCosignatureV1,
  encodeCosignatureV1,
  generateCosignatureV1Key,
  MAX_COSIGNATURE_TIMESTAMP,
  newCosignatureV1Signer,
  newCosignatureV1Verifier,
} from '../../src/core/cosignature.js';
import {
  computeKeyId,
  formatKeyId,
  formatSignatureLine,
  formatSignerKey,
  formatVerifierKey,
  newEd25519Verifier,
  openNote,
  parseNote,
} from '../../src/core/note.js';
import { expectCode } from '../helpers/expect-code.js';

// Reference §5.1 / C2SP tlog-cosignature example.
const SOFA_TEXT = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
const SOFA_COSIGNED =
  `${SOFA_TEXT}\n` +
  '— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n' +
  '— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n';

// Reference §10.
const WIT_NAME = 'example.com/witness';
const WIT_SEED = fromHex('202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f')!;
const WIT_PUB = '29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7';
const WIT_VKEY = 'example.com/witness+098ef77f+BCmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X';
const LOG_VKEY = 'example.com/log+d455c521+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4';
const T = 1700000000n;
const CP6_TEXT = 'example.com/log\n6\nduZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=\n';
const CP8_TEXT = 'example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n';
const CP6_LOG_LINE =
  '— example.com/log 1FXFIU6R1VoyL2xZ+tujr5zzs1ITuJSMGlkj+n6+SjO5FZXW0IoVDPO0WNBjv8OOh+kv543GQHAFERf1LGYgt9gyOQ0=';
const CP8_LOG_LINE =
  '— example.com/log 1FXFIQghEbt48JV0nbbvyoj51oOGWi8PWVu51z3js1zWy2qLhh2zcvy6M2X+e8pEVRpGR/9z7MVVru29jIzLkdPuEwg=';
const CP6_WIT_LINE =
  '— example.com/witness CY73fwAAAABlU/EA+h09lK2U1nCxOQZ55jh9H+AYzq7bpDwLtnB2lVTq05PqdelHov7t+Vhmk/RzSSS2mLqSQqLIndbwg2ujjN+YAg==';
const CP8_WIT_LINE =
  '— example.com/witness CY73fwAAAABlU/EA5qoXb2upYCVvwU57HyfnAEFRmLcQJPcjxRBvQm06RwFL5yc6USs37aZKNWAqDA8Mlem5PPKrnJ0Kitk8yjXCDA==';
const CP6_NOTE = `${CP6_TEXT}\n${CP6_LOG_LINE}\n${CP6_WIT_LINE}\n`;
const CP8_NOTE = `${CP8_TEXT}\n${CP8_LOG_LINE}\n${CP8_WIT_LINE}\n`;

const fixedClock = () => T;

describe('published vectors', () => {
  it('decodes the C2SP example cosignature line (§5.1): key ID 8d66cf3f, time 1679315147', () => {
    const sigs = parseNote(SOFA_COSIGNED).signatures;
    const w = sigs[1]!;
    expect(w.name).toBe('witness.example.com/w1');
    expect(formatKeyId(w.keyId)).toBe('8d66cf3f');
    expect(w.sig).toHaveLength(COSIGNATURE_V1_SIG_SIZE);
    const d = decodeCosignatureV1(w.sig)!;
    expect(d.timestamp).toBe(1679315147n);
    expect(d.signature).toHaveLength(64);
    expect(new TextDecoder().decode(cosignatureV1Message(utf8(SOFA_TEXT), d.timestamp))).toBe(
      'cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    );
  });

  it('§10 witness seed gives the published public key, key ID and type-0x04 vkey', () => {
    const s = cosignatureV1SignerFromSeed(WIT_NAME, WIT_SEED, fixedClock);
    expect(toHex(s.publicKey)).toBe(WIT_PUB);
    expect(s.keyId).toBe(0x098ef77f);
    expect(s.vkey).toBe(WIT_VKEY);
    expect(computeKeyId(WIT_NAME, 0x04, fromHex(WIT_PUB)!)).toBe(0x098ef77f);
    const v = newCosignatureV1Verifier(WIT_VKEY);
    expect([v.name, v.keyId, toHex(v.publicKey)]).toEqual([WIT_NAME, 0x098ef77f, WIT_PUB]);
  });

  it('§10 witness lines for sizes 6 and 8 reproduce byte for byte with the seed at time 1700000000', () => {
    const s = cosignatureV1SignerFromSeed(WIT_NAME, WIT_SEED, fixedClock);
    expect(cosignatureV1Line(s, CP6_TEXT)).toBe(`${CP6_WIT_LINE}\n`);
    expect(cosignatureV1Line(s, CP8_TEXT)).toBe(`${CP8_WIT_LINE}\n`);
    const other = cosignatureV1SignerFromSeed(WIT_NAME, WIT_SEED, () => 1n);
    expect(cosignatureV1Line(other, CP8_TEXT, T)).toBe(`${CP8_WIT_LINE}\n`);
  });

  it('§10 witness lines verify with the witness vkey and expose the timestamp', () => {
    const v = newCosignatureV1Verifier(WIT_VKEY);
    for (const [note, text] of [
      [CP6_NOTE, CP6_TEXT],
      [CP8_NOTE, CP8_TEXT],
    ] as const) {
      const n = openNote(note, [v]);
      expect(n.verified.map((s) => s.line)).toEqual([note.split('\n').at(-2)]);
      expect(n.unverified.map((s) => s.name)).toEqual(['example.com/log']);
      expect(v.verifiedTimestamp(utf8(text), n.verified[0]!.sig)).toBe(T);
    }
  });

  it('§10 size-8 message and payload bytes are exactly as published', () => {
    expect(new TextDecoder().decode(cosignatureV1Message(utf8(CP8_TEXT), T))).toBe(
      'cosignature/v1\ntime 1700000000\nexample.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n',
    );
    const payload = fromBase64(CP8_WIT_LINE.split(' ')[2]!)!;
    expect(payload).toHaveLength(76);
    expect(toHex(payload.slice(0, 4))).toBe('098ef77f');
    expect(toHex(payload.slice(4, 12))).toBe('000000006553f100');
  });
});

describe('keys', () => {
  it('accepts a type 0x01 vkey for a witness, re-keying its ID to type 0x04 (Tessera)', () => {
    const vkey01 = formatVerifierKey(WIT_NAME, 0x01, fromHex(WIT_PUB)!);
    expect(
      vkey01.startsWith(`${WIT_NAME}+${formatKeyId(computeKeyId(WIT_NAME, 1, fromHex(WIT_PUB)!))}+AS`),
    ).toBe(true);
    const v = newCosignatureV1Verifier(vkey01);
    expect(v.keyId).toBe(0x098ef77f);
    expect(openNote(CP8_NOTE, [v]).verified).toHaveLength(1);
  });

  it('rejects vkeys of other types and inconsistent IDs', () => {
    expectCode(() => newCosignatureV1Verifier(LOG_VKEY.replace('+AQ', '+Ag')), 'invalid_key');
    expectCode(
      () => newCosignatureV1Verifier(formatVerifierKey(WIT_NAME, 0x02, fromHex(WIT_PUB)!)),
      'invalid_key',
      /type 0x2 is not 0x04 or 0x01/,
    );
    expectCode(
      () => newCosignatureV1Verifier(WIT_VKEY.replace('098ef77f', '098ef77e')),
      'invalid_key',
      /does not match/,
    );
    expectCode(
      () => newCosignatureV1Verifier(formatVerifierKey(WIT_NAME, 0x04, new Uint8Array(31))),
      'invalid_key',
      /got 31/,
    );
    expectCode(() => newEd25519Verifier(WIT_VKEY), 'invalid_key', /unsupported signature type 0x4/);
  });

  it('skeys of type 0x04 and 0x01 give the same cosigner', () => {
    const { skey, vkey } = generateCosignatureV1Key(WIT_NAME, WIT_SEED);
    expect(vkey).toBe(WIT_VKEY);
    expect(skey).toBe(`PRIVATE+KEY+${WIT_NAME}+098ef77f+BCAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/`);
    const s04 = newCosignatureV1Signer(skey, fixedClock);
    const id01 = computeKeyId(WIT_NAME, 0x01, fromHex(WIT_PUB)!);
    const s01 = newCosignatureV1Signer(formatSignerKey(WIT_NAME, id01, 0x01, WIT_SEED), fixedClock);
    for (const s of [s04, s01]) {
      expect(s.keyId).toBe(0x098ef77f);
      expect(cosignatureV1Line(s, CP8_TEXT)).toBe(`${CP8_WIT_LINE}\n`);
    }
  });

  it('rejects skeys with a wrong ID, type or seed length', () => {
    const b64 = toBase64(Uint8Array.of(4, ...WIT_SEED));
    expectCode(
      () => newCosignatureV1Signer(`PRIVATE+KEY+${WIT_NAME}+098ef77e+${b64}`),
      'invalid_key',
      /does not match/,
    );
    const id01 = formatKeyId(computeKeyId(WIT_NAME, 0x01, fromHex(WIT_PUB)!));
    // A 0x04 skey carrying the 0x01 ID (or vice versa) is inconsistent.
    expectCode(() => newCosignatureV1Signer(`PRIVATE+KEY+${WIT_NAME}+${id01}+${b64}`), 'invalid_key');
    expectCode(
      () =>
        newCosignatureV1Signer(`PRIVATE+KEY+${WIT_NAME}+098ef77f+${toBase64(Uint8Array.of(6, ...WIT_SEED))}`),
      'invalid_key',
      /type 0x6/,
    );
    expectCode(
      () => newCosignatureV1Signer(`PRIVATE+KEY+${WIT_NAME}+098ef77f+${toBase64(Uint8Array.of(4, 1, 2))}`),
      'invalid_key',
      /got 2/,
    );
  });
});

describe('verification', () => {
  const v = newCosignatureV1Verifier(WIT_VKEY);
  const good = parseNote(CP8_NOTE).signatures[1]!;

  it('rejects a changed timestamp, signature or text', () => {
    const text = utf8(CP8_TEXT);
    expect(v.verify(text, good.sig)).toBe(true);
    const t = good.sig.slice();
    t[7] = t[7]! ^ 1;
    expect(v.verify(text, t)).toBe(false);
    const s = good.sig.slice();
    s[40] = s[40]! ^ 1;
    expect(v.verify(text, s)).toBe(false);
    expect(v.verify(utf8(CP6_TEXT), good.sig)).toBe(false);
    expect(v.verifiedTimestamp(utf8(CP6_TEXT), good.sig)).toBeUndefined();
    const tampered = formatSignatureLine(WIT_NAME, 0x098ef77f, t);
    expectCode(
      () => openNote(`${CP8_TEXT}\n${tampered}`, [v]),
      'invalid_signature',
      /example.com\/witness\+098ef77f/,
    );
  });

  it('rejects payloads that are not 72 bytes or carry a timestamp >= 2^63', () => {
    expect(v.verify(utf8(CP8_TEXT), good.sig.slice(0, 71))).toBe(false);
    expect(v.verify(utf8(CP8_TEXT), new Uint8Array([...good.sig, 0]))).toBe(false);
    expect(v.verify(utf8(CP8_TEXT), good.sig.slice(8))).toBe(false); // plain Ed25519 signature
    const high = good.sig.slice();
    high[0] = 0x80;
    expect(decodeCosignatureV1(high)).toBeUndefined();
    high[0] = 0x7f;
    expect(decodeCosignatureV1(high)!.timestamp).toBe(0x7f000000_6553f100n);
  });

  it('a cosignature line is never taken for a log (0x01) signature, and vice versa', () => {
    const asLog = newEd25519Verifier(formatVerifierKey(WIT_NAME, 0x01, fromHex(WIT_PUB)!));
    expectCode(() => openNote(`${CP8_TEXT}\n${CP8_WIT_LINE}\n`, [asLog]), 'unverified_note');
    expect(openCheckpoint(CP8_NOTE, newEd25519Verifier(LOG_VKEY), [v]).note.verified).toHaveLength(2);
  });

  it('signs and verifies at the extreme timestamps 0 and 2^63 - 1 (no 32-bit truncation)', () => {
    const s = cosignatureV1SignerFromSeed(WIT_NAME, WIT_SEED, () => MAX_COSIGNATURE_TIMESTAMP);
    for (const ts of [0n, 2n ** 32n + 5n, MAX_COSIGNATURE_TIMESTAMP]) {
      const sig = s.signAt(utf8(CP8_TEXT), ts);
      expect(sig).toHaveLength(72);
      expect(decodeCosignatureV1(sig)!.timestamp).toBe(ts);
      expect(v.verifiedTimestamp(utf8(CP8_TEXT), sig)).toBe(ts);
    }
    const max = s.sign(utf8(CP8_TEXT));
    expect(toHex(max.slice(0, 8))).toBe('7fffffffffffffff');
    expect(new TextDecoder().decode(cosignatureV1Message(utf8('x\n'), MAX_COSIGNATURE_TIMESTAMP))).toBe(
      'cosignature/v1\ntime 9223372036854775807\nx\n',
    );
  });

  it('rejects out-of-range timestamps when signing', () => {
    const s = cosignatureV1SignerFromSeed(WIT_NAME, WIT_SEED, () => 2n ** 63n);
    expectCode(() => s.sign(utf8(CP8_TEXT)), 'malformed_cosignature', /outside \[0, 2\^63 - 1\]/);
    expectCode(() => s.signAt(utf8(CP8_TEXT), -1n), 'malformed_cosignature');
    expectCode(() => encodeCosignatureV1(1n, new Uint8Array(63)), 'malformed_cosignature', /got 63/);
  });

  it('covers extension lines', () => {
    const s = cosignatureV1SignerFromSeed(WIT_NAME, WIT_SEED, fixedClock);
    const text = `${CP8_TEXT}ext\n`;
    const line = cosignatureV1Line(s, text);
    expect(openNote(`${text}\n${line}`, [v]).verified).toHaveLength(1);
    expectCode(() => openNote(`${CP8_TEXT}ext2\n\n${line}`, [v]), 'invalid_signature');
  });

  it('cosignatureV1Line refuses texts that are not checkpoints', () => {
    const s = cosignatureV1SignerFromSeed(WIT_NAME, WIT_SEED, fixedClock);
    expectCode(() => cosignatureV1Line(s, 'hello\n'), 'malformed_checkpoint');
    expectCode(() => cosignatureV1Line(s, CP8_TEXT.slice(0, -1)), 'malformed_checkpoint');
  });

  it('cosignatureV1VerifierFromKey validates its inputs', () => {
    expectCode(() => cosignatureV1VerifierFromKey('a b', fromHex(WIT_PUB)!), 'invalid_key');
    expectCode(() => cosignatureV1VerifierFromKey(WIT_NAME, new Uint8Array(33)), 'invalid_key', /got 33/);
    expect(cosignatureV1VerifierFromKey(WIT_NAME, fromHex(WIT_PUB)!).keyId).toBe(0x098ef77f);
  });

  it('the default clock stamps the current time', () => {
    const s = cosignatureV1SignerFromSeed(WIT_NAME, WIT_SEED);
    const before = BigInt(Math.floor(Date.now() / 1000));
    const ts = v.verifiedTimestamp(utf8(CP8_TEXT), s.sign(utf8(CP8_TEXT)))!;
    expect(ts >= before && ts <= before + 5n).toBe(true);
  });
});
