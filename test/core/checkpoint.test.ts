import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toBase64, toHex } from '../../src/core/bytes.js';
import {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from '../../src/core/checkpoint.js';
import { newCosignatureV1Verifier } from '../../src/core/cosignature.js';
import {
  formatKeyId,
  newEd25519Signer,
  newEd25519Verifier,
  parseNote,
  signNote,
} from '../../src/core/note.js';
import { expectCode } from '../helpers/expect-code.js';

// Reference §3 (C2SP tlog-checkpoint example).
const SOFA_NOTE =
  'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
  '— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n';

// Reference §10.
const LOG_SKEY = 'PRIVATE+KEY+example.com/log+d455c521+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f';
const LOG_VKEY = 'example.com/log+d455c521+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4';
const WIT_VKEY = 'example.com/witness+098ef77f+BCmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X';
const ROOT6 = 'duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=';
const ROOT8 = 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=';
const CP6_LOG_LINE =
  '— example.com/log 1FXFIU6R1VoyL2xZ+tujr5zzs1ITuJSMGlkj+n6+SjO5FZXW0IoVDPO0WNBjv8OOh+kv543GQHAFERf1LGYgt9gyOQ0=';
const CP6_WIT_LINE =
  '— example.com/witness CY73fwAAAABlU/EA+h09lK2U1nCxOQZ55jh9H+AYzq7bpDwLtnB2lVTq05PqdelHov7t+Vhmk/RzSSS2mLqSQqLIndbwg2ujjN+YAg==';
const CP8_LOG_LINE =
  '— example.com/log 1FXFIQghEbt48JV0nbbvyoj51oOGWi8PWVu51z3js1zWy2qLhh2zcvy6M2X+e8pEVRpGR/9z7MVVru29jIzLkdPuEwg=';
const CP8_WIT_LINE =
  '— example.com/witness CY73fwAAAABlU/EA5qoXb2upYCVvwU57HyfnAEFRmLcQJPcjxRBvQm06RwFL5yc6USs37aZKNWAqDA8Mlem5PPKrnJ0Kitk8yjXCDA==';
const CP6_TEXT = `example.com/log\n6\n${ROOT6}\n`;
const CP8_TEXT = `example.com/log\n8\n${ROOT8}\n`;
const CP6_NOTE = `${CP6_TEXT}\n${CP6_LOG_LINE}\n${CP6_WIT_LINE}\n`;
const CP8_NOTE = `${CP8_TEXT}\n${CP8_LOG_LINE}\n${CP8_WIT_LINE}\n`;

// Reference §10, litewitness test data.
const SIGSUM_ORIGIN = 'sigsum.org/v1/tree/4d6d8825a6bb689d459628312889dfbb0bcd41b5211d9e1ce768b0ff0309e562';
const SIGSUM_VKEY = `${SIGSUM_ORIGIN}+5202289b+Af/cLU2Y5BJNP+r3iMDC+av9eWCD0fBJVDfzAux5zxAP`;
const SIGSUM_CP1 =
  `${SIGSUM_ORIGIN}\n1\nKgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n` +
  `— ${SIGSUM_ORIGIN} UgIom7fPZTqpxWWhyjWduBvTvGVqsokMbqTArsQilegKoFBJQjUFAmQ0+YeSPM3wfUQMFSzVnnNuWRTYrajXpNUbIQY=\n`;
const SIGSUM_CP3 =
  `${SIGSUM_ORIGIN}\n3\nRcCI1Nk56ZcSmIEfIn0SleqtV7uvrlXNccFx595Iwl0=\n\n` +
  `— ${SIGSUM_ORIGIN} UgIom2VbtIcdFbwFAy1n7s6IkAxIY6J/GQOTuZF2ORV39d75cbAj2aQYwyJre36kezNobZs4SUUdrcawfAB8WVrx6go=\n`;

describe('published vectors', () => {
  it('parses the C2SP tlog-checkpoint example (§3)', () => {
    const note = parseNote(SOFA_NOTE);
    const cp = parseCheckpoint(note.text);
    expect(cp.origin).toBe('example.com/behind-the-sofa');
    expect(cp.size).toBe(20852163);
    expect(toHex(cp.rootHash)).toBe('0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62');
    expect(cp.extensions).toEqual([]);
    expect(note.signatures).toHaveLength(1);
    expect(formatKeyId(note.signatures[0]!.keyId)).toBe('033de0ae');
    expect(note.signatures[0]!.sig).toHaveLength(64);
    expect(formatCheckpoint(cp)).toBe(note.text);
  });

  it('the §10 log skey reproduces the exact log signature lines for sizes 6 and 8', () => {
    const signer = newEd25519Signer(LOG_SKEY);
    const cp6 = { origin: 'example.com/log', size: 6, rootHash: fromBase64(ROOT6)! };
    const cp8 = { origin: 'example.com/log', size: 8, rootHash: fromBase64(ROOT8)! };
    expect(formatCheckpoint(cp6)).toBe(CP6_TEXT);
    expect(formatCheckpoint(cp8)).toBe(CP8_TEXT);
    expect(signCheckpoint(cp6, signer)).toBe(`${CP6_TEXT}\n${CP6_LOG_LINE}\n`);
    expect(signCheckpoint(cp8, signer)).toBe(`${CP8_TEXT}\n${CP8_LOG_LINE}\n`);
  });

  it('opens the §10 cosigned checkpoints with the log vkey, and with the witness as cosigner', () => {
    const log = newEd25519Verifier(LOG_VKEY);
    for (const [note, size, root] of [
      [CP6_NOTE, 6, ROOT6],
      [CP8_NOTE, 8, ROOT8],
    ] as const) {
      const a = openCheckpoint(note, log);
      expect(a.checkpoint.size).toBe(size);
      expect(toBase64(a.checkpoint.rootHash)).toBe(root);
      expect(a.note.verified).toHaveLength(1);
      expect(a.note.unverified[0]!.name).toBe('example.com/witness');
      const b = openCheckpoint(note, log, [newCosignatureV1Verifier(WIT_VKEY)]);
      expect(b.note.verified.map((s) => s.name)).toEqual(['example.com/log', 'example.com/witness']);
      expect(b.note.unverified).toEqual([]);
    }
  });

  it('verifies the litewitness sigsum checkpoints (sizes 1 and 3)', () => {
    const v = newEd25519Verifier(SIGSUM_VKEY);
    expect(v.keyId).toBe(0x5202289b);
    const one = openCheckpoint(SIGSUM_CP1, v);
    expect(one.checkpoint.size).toBe(1);
    expect(toHex(one.checkpoint.rootHash)).toBe(`2a${'00'.repeat(31)}`);
    const three = openCheckpoint(SIGSUM_CP3, v);
    expect(three.checkpoint.size).toBe(3);
    expectCode(() => openCheckpoint(SIGSUM_CP3.replace('UgIom2Vb', 'UgIom2Vc'), v), 'invalid_signature');
    expectCode(() => openCheckpoint(SIGSUM_CP3.replace('\n3\n', '\n4\n'), v), 'invalid_signature');
  });
});

describe('formatCheckpoint', () => {
  const root = new Uint8Array(32);

  it('formats the empty tree and keeps extension lines', () => {
    const empty = fromHex('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')!;
    expect(formatCheckpoint({ origin: 'o', size: 0, rootHash: empty })).toBe(
      'o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n',
    );
    const text = formatCheckpoint({ origin: 'o', size: 1, rootHash: root, extensions: ['ext one', '— x'] });
    expect(text).toBe('o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next one\n— x\n');
    expect(parseCheckpoint(text).extensions).toEqual(['ext one', '— x']);
  });

  it('formats the largest safe size', () => {
    const text = formatCheckpoint({ origin: 'o', size: Number.MAX_SAFE_INTEGER, rootHash: root });
    expect(text.split('\n')[1]).toBe('9007199254740991');
    expect(parseCheckpoint(text).size).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('rejects invalid fields', () => {
    const bad: [Parameters<typeof formatCheckpoint>[0], RegExp][] = [
      [{ origin: '', size: 1, rootHash: root }, /origin is empty/],
      [{ origin: 'a\nb', size: 1, rootHash: root }, /origin contains a newline/],
      [{ origin: 'a\rb', size: 1, rootHash: root }, /U\+000D/],
      [{ origin: 'o', size: -1, rootHash: root }, /not a non-negative safe integer/],
      [{ origin: 'o', size: 1.5, rootHash: root }, /not a non-negative safe integer/],
      [{ origin: 'o', size: Number.NaN, rootHash: root }, /not a non-negative safe integer/],
      [{ origin: 'o', size: 2 ** 53, rootHash: root }, /not a non-negative safe integer/],
      [{ origin: 'o', size: 1, rootHash: new Uint8Array(31) }, /32 bytes, got 31/],
      [{ origin: 'o', size: 1, rootHash: root, extensions: [''] }, /extension line 1 is empty/],
      [
        { origin: 'o', size: 1, rootHash: root, extensions: ['a', 'b\n'] },
        /extension line 2 contains a newline/,
      ],
    ];
    for (const [cp, msg] of bad) expectCode(() => formatCheckpoint(cp), 'malformed_checkpoint', msg);
  });
});

describe('parseCheckpoint rejects malformed bodies', () => {
  const cases: [string, string, RegExp][] = [
    ['two lines', `o\n1\n`, /has 2 line\(s\), needs at least 3/],
    ['one line', `o\n`, /has 1 line/],
    ['empty text', '', /does not end with a newline/],
    ['no final newline', `o\n1\n${ROOT8}`, /does not end with a newline/],
    ['empty origin', `\n1\n${ROOT8}\n`, /line 1 is empty/],
    ['empty size', `o\n\n${ROOT8}\n`, /line 2 is empty/],
    ['empty extension line', `o\n1\n${ROOT8}\n\n`, /line 4 is empty/],
    ['empty line between extensions', `o\n1\n${ROOT8}\na\n\nb\n`, /line 5 is empty/],
    ['leading zero', `o\n01\n${ROOT8}\n`, /canonical decimal/],
    ['plus sign', `o\n+1\n${ROOT8}\n`, /canonical decimal/],
    ['minus sign', `o\n-1\n${ROOT8}\n`, /canonical decimal/],
    ['leading space', `o\n 1\n${ROOT8}\n`, /canonical decimal/],
    ['trailing space', `o\n1 \n${ROOT8}\n`, /canonical decimal/],
    ['exponent', `o\n1e3\n${ROOT8}\n`, /canonical decimal/],
    ['hex', `o\n0x10\n${ROOT8}\n`, /canonical decimal/],
    ['non-ASCII digit', `o\n١\n${ROOT8}\n`, /canonical decimal/],
    ['2^53', `o\n9007199254740992\n${ROOT8}\n`, /exceeds Number.MAX_SAFE_INTEGER/],
    ['2^63', `o\n9223372036854775808\n${ROOT8}\n`, /exceeds Number.MAX_SAFE_INTEGER/],
    ['root 31 bytes', `o\n1\n${toBase64(new Uint8Array(31))}\n`, /32 bytes, got 31/],
    ['root 33 bytes', `o\n1\n${toBase64(new Uint8Array(33))}\n`, /32 bytes, got 33/],
    ['root without padding', `o\n1\n${ROOT8.slice(0, -1)}\n`, /base64/],
    ['root URL-safe', `o\n1\n${ROOT8.replace('/', '_')}\n`, /base64/],
    ['root non-canonical bits', `o\n1\n${ROOT8.replace('Qyg=', 'Qyh=')}\n`, /base64/],
    ['root hex', `o\n1\n${'00'.repeat(32)}\n`, /base64|32 bytes/],
    ['CR', `o\r\n1\n${ROOT8}\n`, /U\+000D/],
    ['tab', `o\t\n1\n${ROOT8}\n`, /U\+0009/],
  ];
  for (const [label, text, msg] of cases) {
    it(label, () => expectCode(() => parseCheckpoint(text), 'malformed_checkpoint', msg));
  }

  it('accepts a size of exactly 2^53 - 1 and zero', () => {
    expect(parseCheckpoint(`o\n9007199254740991\n${ROOT8}\n`).size).toBe(9007199254740991);
    expect(parseCheckpoint(`o\n0\n${ROOT8}\n`).size).toBe(0);
  });
});

describe('signCheckpoint / openCheckpoint', () => {
  const signer = newEd25519Signer(LOG_SKEY);
  const log = newEd25519Verifier(LOG_VKEY);

  it('requires the signer name to equal the origin', () => {
    const cp = { origin: 'example.com/other', size: 8, rootHash: fromBase64(ROOT8)! };
    expectCode(
      () => signCheckpoint(cp, signer),
      'origin_mismatch',
      /does not equal origin "example.com\/other"/,
    );
  });

  it('requires the verifier name to equal the origin', () => {
    const other = signCheckpoint(
      { origin: 'example.com/log', size: 8, rootHash: fromBase64(ROOT8)! },
      newEd25519Signer(LOG_SKEY),
    ).replace('example.com/log\n8', 'example.com/log2\n8');
    expectCode(() => openCheckpoint(other, log), 'origin_mismatch');
    expectCode(() => openCheckpoint(SIGSUM_CP1, log), 'origin_mismatch');
  });

  it('requires the log signature even when a cosigner verified', () => {
    const witnessOnly = `${CP8_TEXT}\n${CP8_WIT_LINE}\n`;
    expectCode(
      () => openCheckpoint(witnessOnly, log, [newCosignatureV1Verifier(WIT_VKEY)]),
      'unverified_note',
      /not signed by log key example.com\/log/,
    );
    expectCode(() => openCheckpoint(witnessOnly, log), 'unverified_note');
  });

  it('rejects tampered bodies and malformed checkpoint texts inside valid notes', () => {
    expectCode(() => openCheckpoint(CP8_NOTE.replace(ROOT8, ROOT6), log), 'invalid_signature');
    const twoLines = signNote('example.com/log\n8\n', [signer]);
    expectCode(() => openCheckpoint(twoLines, log), 'malformed_checkpoint', /has 2 line/);
    const badSize = signNote(`example.com/log\n08\n${ROOT8}\n`, [signer]);
    expectCode(() => openCheckpoint(badSize, log), 'malformed_checkpoint', /canonical decimal/);
  });

  it('round-trips extension lines through signing and opening', () => {
    const cp = { origin: 'example.com/log', size: 8, rootHash: fromBase64(ROOT8)!, extensions: ['x-ext 1'] };
    const note = signCheckpoint(cp, signer);
    const opened = openCheckpoint(note, log);
    expect(opened.checkpoint.extensions).toEqual(['x-ext 1']);
    expectCode(() => openCheckpoint(note.replace('x-ext 1', 'x-ext 2'), log), 'invalid_signature');
  });

  it('keeps existing cosignatures when re-signing', () => {
    const cp8 = { origin: 'example.com/log', size: 8, rootHash: fromBase64(ROOT8)! };
    const existing = parseNote(CP8_NOTE).signatures;
    expect(signCheckpoint(cp8, signer, existing)).toBe(`${CP8_TEXT}\n${CP8_WIT_LINE}\n${CP8_LOG_LINE}\n`);
  });
});
