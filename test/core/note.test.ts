import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toBase64, toHex, utf8 } from '../../src/core/bytes.js';
import {
  computeKeyId,
  formatKeyId,
  formatNote,
  formatSignatureLine,
  formatVerifierKey,
  generateEd25519Key,
  isValidKeyName,
  MAX_NOTE_SIGNATURES,
  type NoteVerifier,
  newEd25519Signer,
  newEd25519Verifier,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from '../../src/core/note.js';
import { expectCode, noteErrorOf } from '../helpers/expect-code.js';

// Reference §2.6: C2SP signed-note example.
const C2SP_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const C2SP_NOTE =
  'This is an example message.\n\n' +
  '— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

// Reference §2.6: golang.org/x/mod/sumdb/note package documentation.
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_LINE =
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=';

// Reference §10.
const LOG_SEED = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f')!;
const LOG_SKEY = 'PRIVATE+KEY+example.com/log+d455c521+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f';
const LOG_VKEY = 'example.com/log+d455c521+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4';
const LOG_PUB = '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8';
const CP8_TEXT = 'example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n';
const CP8_LOG_LINE =
  '— example.com/log 1FXFIQghEbt48JV0nbbvyoj51oOGWi8PWVu51z3js1zWy2qLhh2zcvy6M2X+e8pEVRpGR/9z7MVVru29jIzLkdPuEwg=';
const CP8_WITNESS_LINE =
  '— example.com/witness CY73fwAAAABlU/EA5qoXb2upYCVvwU57HyfnAEFRmLcQJPcjxRBvQm06RwFL5yc6USs37aZKNWAqDA8Mlem5PPKrnJ0Kitk8yjXCDA==';
const CP8_NOTE = `${CP8_TEXT}\n${CP8_LOG_LINE}\n${CP8_WITNESS_LINE}\n`;

/** A syntactically valid signature line with a given name and key ID and a 64-byte filler signature. */
function fakeLine(name: string, keyId: number, fill = 7): string {
  return formatSignatureLine(name, keyId, new Uint8Array(64).fill(fill)).slice(0, -1);
}

describe('published vectors', () => {
  it('C2SP signed-note example verifies with its vkey', () => {
    const v = newEd25519Verifier(C2SP_VKEY);
    expect(v.name).toBe('example.com/foo');
    expect(v.keyId).toBe(0x530d903a);
    const n = openNote(C2SP_NOTE, [v]);
    expect(n.text).toBe('This is an example message.\n');
    expect(n.verified).toHaveLength(1);
    expect(n.verified[0]!.name).toBe('example.com/foo');
    expect(n.verified[0]!.keyId).toBe(0x530d903a);
    expect(n.verified[0]!.sig).toHaveLength(64);
    expect(n.unverified).toEqual([]);
  });

  it('Go skey derives the published vkey (skey base64 contains "+")', () => {
    const s = newEd25519Signer(GO_SKEY);
    expect(s.name).toBe('PeterNeumann');
    expect(s.keyId).toBe(0xc74f20a3);
    expect(s.vkey).toBe(GO_VKEY);
    expect(formatVerifierKey('PeterNeumann', 0x01, s.publicKey)).toBe(GO_VKEY);
  });

  it('Go skey reproduces the deterministic signature line byte for byte', () => {
    const note = signNote(GO_TEXT, [newEd25519Signer(GO_SKEY)]);
    expect(note).toBe(`${GO_TEXT}\n${GO_LINE}\n`);
    const opened = openNote(utf8(note), [newEd25519Verifier(GO_VKEY)]);
    expect(opened.text).toBe(GO_TEXT);
    expect(opened.verified[0]!.line).toBe(GO_LINE);
  });

  it('§10 log seed gives the exact skey, vkey, public key and key ID', () => {
    const k = generateEd25519Key('example.com/log', LOG_SEED);
    expect(k).toEqual({ skey: LOG_SKEY, vkey: LOG_VKEY });
    const s = newEd25519Signer(LOG_SKEY);
    expect(toHex(s.publicKey)).toBe(LOG_PUB);
    expect(s.keyId).toBe(0xd455c521);
    expect(computeKeyId('example.com/log', 0x01, fromHex(LOG_PUB)!)).toBe(0xd455c521);
    expect(computeKeyId('example.com/log', 0x04, fromHex(LOG_PUB)!)).not.toBe(0xd455c521);
  });

  it('§10 size-8 note: log line verifies, witness line (unknown key here) is kept unverified', () => {
    const n = openNote(CP8_NOTE, [newEd25519Verifier(LOG_VKEY)]);
    expect(n.text).toBe(CP8_TEXT);
    expect(n.verified.map((s) => s.line)).toEqual([CP8_LOG_LINE]);
    expect(n.unverified.map((s) => s.line)).toEqual([CP8_WITNESS_LINE]);
    expect(n.unverified[0]!.keyId).toBe(0x098ef77f);
  });

  it('C2SP quasimodo example parses (text with an empty line, split at the last blank line)', () => {
    const msg =
      'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n' +
      '— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n';
    const p = parseNote(msg);
    expect(p.text).toBe(
      'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n',
    );
    expect(p.signatures).toHaveLength(1);
    expect(p.signatures[0]!.name).toBe('quasimodo.example/salvatore');
    expect(formatKeyId(p.signatures[0]!.keyId)).toBe('367ba04b');
    expect(p.signatures[0]!.sig).toHaveLength(64);
  });
});

describe('key names and key IDs', () => {
  it('accepts ordinary names, including non-ASCII and U+FEFF (not a Go space)', () => {
    for (const n of ['a', 'example.com/log42', 'sigsum.org/v1/tree/abc', 'é', 'x\ufeffy', '—']) {
      expect(isValidKeyName(n)).toBe(true);
    }
  });

  it('rejects empty names, "+" and every Go unicode.IsSpace code point', () => {
    expect(isValidKeyName('')).toBe(false);
    expect(isValidKeyName('a+b')).toBe(false);
    const spaces = [
      0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
      0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
    ];
    for (const c of spaces)
      expect(isValidKeyName(`a${String.fromCodePoint(c)}b`), c.toString(16)).toBe(false);
    expect(isValidKeyName('a\u200bb')).toBe(true); // ZERO WIDTH SPACE is not White_Space
  });

  it('rejects lone surrogates (not UTF-8)', () => {
    expect(isValidKeyName('a\ud800')).toBe(false);
    expect(isValidKeyName('\udc00')).toBe(false);
    expect(isValidKeyName('\ud83d\ude00')).toBe(true);
  });

  it('formats key IDs as 8 lowercase hex digits', () => {
    expect(formatKeyId(0)).toBe('00000000');
    expect(formatKeyId(0xabc)).toBe('00000abc');
    expect(formatKeyId(0xffffffff)).toBe('ffffffff');
    expectCode(() => formatKeyId(2 ** 32), 'invalid_key');
    expectCode(() => formatKeyId(-1), 'invalid_key');
  });
});

describe('verifier keys', () => {
  it('decodes the fields of a vkey', () => {
    const k = parseVerifierKey(LOG_VKEY);
    expect(k.name).toBe('example.com/log');
    expect(k.keyId).toBe(0xd455c521);
    expect(k.type).toBe(1);
    expect(toHex(k.publicKey)).toBe(LOG_PUB);
  });

  it('rejects every malformed vkey with invalid_key', () => {
    const [name, hex, b64] = ['example.com/log', 'd455c521', 'AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4'];
    const bad: [string, RegExp][] = [
      ['', /key ID/],
      [name, /key ID/],
      [`${name}+${hex}`, /base64/],
      [`${name}+${hex.toUpperCase()}+${b64}`, /8 lowercase hex/],
      [`${name}+${hex.slice(1)}+${b64}`, /8 lowercase hex/],
      [`${name}+0${hex}+${b64}`, /8 lowercase hex/],
      [`${name}+d455c520+${b64}`, /does not match the key \(expected d455c521\)/],
      [`example.com/lo+${hex}+${b64}`, /does not match/],
      [`+${hex}+${b64}`, /invalid key name/],
      [`exa mple+${hex}+${b64}`, /invalid key name/],
      [`${name}+${hex}+${b64.slice(0, -1)}`, /base64/],
      [`${name}+${hex}+${b64.replace('/', '_')}`, /base64/],
      [`${name}+${hex}+AQ==`, /base64/],
    ];
    for (const [vkey, msg] of bad) expectCode(() => parseVerifierKey(vkey), 'invalid_key', msg);
  });

  it('newEd25519Verifier rejects other types and wrong key lengths', () => {
    const pub = fromHex(LOG_PUB)!;
    expectCode(
      () => newEd25519Verifier(formatVerifierKey('w', 0x04, pub)),
      'invalid_key',
      /unsupported signature type 0x4/,
    );
    expectCode(
      () => newEd25519Verifier(formatVerifierKey('w', 0x01, pub.slice(0, 31))),
      'invalid_key',
      /32 bytes, got 31/,
    );
    expectCode(
      () => newEd25519Verifier(formatVerifierKey('w', 0x01, concatBytes(pub, Uint8Array.of(0)))),
      'invalid_key',
      /got 33/,
    );
  });
});

describe('signer keys', () => {
  it('decodes the fields of an skey', () => {
    const k = parseSignerKey(LOG_SKEY);
    expect(k).toEqual({ name: 'example.com/log', keyId: 0xd455c521, type: 1, secret: LOG_SEED });
  });

  it('rejects malformed skeys with invalid_key', () => {
    const b64 = 'AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f';
    const bad: [string, RegExp][] = [
      [LOG_SKEY.replace('PRIVATE', 'private'), /PRIVATE\+KEY/],
      [LOG_SKEY.slice('PRIVATE+'.length), /PRIVATE\+KEY/],
      [`PRIVATE+KEY+example.com/log+d455c522+${b64}`, /does not match the key/],
      [`PRIVATE+KEY+example.com/log+D455C521+${b64}`, /8 lowercase hex/],
      [`PRIVATE+KEY+example.com/log+d455c521+${b64.replace('AQ', 'BA')}`, /unsupported signature type 0x4/],
      [`PRIVATE+KEY+example.com/log+d455c521+${toBase64(Uint8Array.of(1, ...LOG_SEED.slice(1)))}`, /got 31/],
      [`PRIVATE+KEY+example.com/log+d455c521+${b64.slice(0, -1)}`, /base64/],
      [`PRIVATE+KEY+a b+d455c521+${b64}`, /invalid key name/],
    ];
    for (const [skey, msg] of bad) expectCode(() => newEd25519Signer(skey), 'invalid_key', msg);
  });

  it('generates random keys that work together', () => {
    const { skey, vkey } = generateEd25519Key('example.com/random');
    expect(skey).toMatch(/^PRIVATE\+KEY\+example\.com\/random\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    const note = signNote('hello\n', [newEd25519Signer(skey)]);
    expect(openNote(note, [newEd25519Verifier(vkey)]).verified).toHaveLength(1);
    expect(generateEd25519Key('example.com/random').skey).not.toBe(skey);
  });

  it('rejects bad names and seeds in generateEd25519Key', () => {
    expectCode(() => generateEd25519Key('a+b', LOG_SEED), 'invalid_key');
    expectCode(() => generateEd25519Key('ok', new Uint8Array(31)), 'invalid_key', /32 bytes, got 31/);
  });
});

describe('formatting and signing notes', () => {
  const signer = newEd25519Signer(LOG_SKEY);

  it('rejects invalid texts', () => {
    expectCode(() => signNote('', [signer]), 'malformed_note', /empty/);
    expectCode(() => signNote('no newline', [signer]), 'malformed_note', /does not end with a newline/);
    expectCode(() => signNote('a\r\n', [signer]), 'malformed_note', /U\+000D at offset 1/);
    expectCode(() => signNote('a\tb\n', [signer]), 'malformed_note', /U\+0009/);
    expectCode(() => signNote('a\u0000\n', [signer]), 'malformed_note', /U\+0000/);
    expectCode(() => signNote('a\ud800\n', [signer]), 'malformed_note', /surrogate/);
    expectCode(() => signNote('a\n', []), 'malformed_note', /at least one signature/);
  });

  it('rejects invalid signers', () => {
    const base = { keyId: 1, sign: () => new Uint8Array(64) };
    expectCode(() => signNote('a\n', [{ ...base, name: 'a b' }]), 'invalid_signer');
    expectCode(() => signNote('a\n', [{ ...base, name: '' }]), 'invalid_signer');
    expectCode(() => signNote('a\n', [{ ...base, name: 'a', keyId: 2 ** 32 }]), 'invalid_signer');
    expectCode(
      () => signNote('a\n', [{ name: 'a', keyId: 1, sign: () => new Uint8Array(0) }]),
      'invalid_signer',
    );
  });

  it('keeps text with empty lines and a text of just "\\n" round-trippable', () => {
    for (const text of ['\n', 'a\n\nb\n', 'a\n\n\n', '\ufeffbom\n']) {
      const note = signNote(text, [signer]);
      const n = openNote(note, [newEd25519Verifier(LOG_VKEY)]);
      expect(n.text).toBe(text);
      expect(openNote(utf8(note), [newEd25519Verifier(LOG_VKEY)]).text).toBe(text);
    }
  });

  it('orders existing signatures first and replaces those of a re-signing key (Go note.Sign)', () => {
    const other = fakeLine('grease.invalid', 0x01020304);
    const stale = fakeLine('example.com/log', 0xd455c521, 9);
    const existing = parseNote(`${CP8_TEXT}\n${stale}\n${other}\n`).signatures;
    const note = signNote(CP8_TEXT, [signer], existing);
    expect(note).toBe(`${CP8_TEXT}\n${other}\n${CP8_LOG_LINE}\n`);
  });

  it('formatNote emits lines in the given order and checks limits', () => {
    const sigs = parseNote(CP8_NOTE).signatures;
    expect(formatNote(CP8_TEXT, [...sigs].reverse())).toBe(
      `${CP8_TEXT}\n${CP8_WITNESS_LINE}\n${CP8_LOG_LINE}\n`,
    );
    expectCode(() => formatNote(CP8_TEXT, []), 'malformed_note');
    const many = Array.from({ length: MAX_NOTE_SIGNATURES + 1 }, (_, i) => ({
      name: 'n',
      keyId: i,
      sig: new Uint8Array(1),
    }));
    expectCode(() => formatNote(CP8_TEXT, many), 'malformed_note', /more than 100/);
    expect(parseNote(formatNote(CP8_TEXT, many.slice(0, 100))).signatures).toHaveLength(100);
  });

  it('formatSignatureLine writes the em dash, name and base64(keyId || sig)', () => {
    const line = formatSignatureLine('n', 0x01020304, Uint8Array.of(5));
    expect(line).toBe('\u2014 n AQIDBAU=\n');
    expect(utf8(line).slice(0, 4)).toEqual(Uint8Array.of(0xe2, 0x80, 0x94, 0x20));
  });
});

describe('parseNote rejects malformed notes', () => {
  const cases: [string, string | Uint8Array, RegExp][] = [
    ['no final newline', CP8_NOTE.slice(0, -1), /does not end with a newline/],
    ['CR in text', CP8_NOTE.replace('\n8\n', '\r\n8\n'), /U\+000D/],
    ['CRLF line endings', CP8_NOTE.replaceAll('\n', '\r\n'), /U\+000D/],
    ['tab in text', CP8_NOTE.replace('example.com/log\n', 'example.com/log\t\n'), /U\+0009/],
    ['tab in a signature line', CP8_NOTE.replace('— example.com/log ', '— example.com/log\t'), /U\+0009/],
    ['NUL', `a\u0000\n\n${CP8_LOG_LINE}\n`, /U\+0000/],
    ['missing blank line', `${CP8_TEXT}${CP8_LOG_LINE}\n`, /no blank line/],
    ['no signature lines', `${CP8_TEXT}\n`, /no signature lines/],
    ['empty trailing line after signatures', `${CP8_NOTE}\n`, /no signature lines/],
    [
      'hyphen instead of em dash',
      CP8_NOTE.replace('— example.com/log', '- example.com/log'),
      /does not start/,
    ],
    [
      'en dash instead of em dash',
      CP8_NOTE.replace('— example.com/log', '– example.com/log'),
      /does not start/,
    ],
    ['em dash without space', CP8_NOTE.replace('— example.com/log', '—example.com/log'), /does not start/],
    [
      'two spaces after em dash',
      CP8_NOTE.replace('— example.com/log', '—  example.com/log'),
      /invalid key name/,
    ],
    ['no space after name', `${CP8_TEXT}\n— example.com/log\n`, /base64/],
    ['space but empty base64', `${CP8_TEXT}\n— example.com/log \n`, /base64/],
    [
      'two spaces between name and sig',
      CP8_NOTE.replace('example.com/log 1FXF', 'example.com/log  1FXF'),
      /base64/,
    ],
    ['trailing space', CP8_NOTE.replace('Ewg=\n', 'Ewg= \n'), /base64/],
    ['name with +', CP8_NOTE.replace('— example.com/log ', '— example.com+log '), /invalid key name/],
    ['name with NBSP', CP8_NOTE.replace('— example.com/log ', '— example\u00a0com '), /invalid key name/],
    ['bad base64 character', CP8_NOTE.replace('1FXFIQgh', '1FXF*Qgh'), /base64/],
    ['URL-safe base64', CP8_NOTE.replace('e8pEVRpGR/9z', 'e8pEVRpGR_9z'), /base64/],
    ['missing padding', CP8_NOTE.replace('Ewg=\n', 'Ewg\n'), /base64/],
    ['non-canonical padding bits', CP8_NOTE.replace('Ewg=\n', 'Ewh=\n'), /base64/],
    ['payload of 4 bytes', `${CP8_TEXT}\n— example.com/log AQIDBA==\n`, /shorter than 5 bytes/],
    ['payload of 0 bytes', `${CP8_TEXT}\n— example.com/log =\n`, /base64/],
    ['text line after signatures', `${CP8_NOTE}trailing\n`, /does not start/],
    [
      'invalid UTF-8',
      concatBytes(utf8(CP8_TEXT), Uint8Array.of(0xff), utf8(`\n\n${CP8_LOG_LINE}\n`)),
      /UTF-8/,
    ],
    [
      'overlong UTF-8',
      concatBytes(Uint8Array.of(0xc0, 0xaf, 0x0a, 0x0a), utf8(`${CP8_LOG_LINE}\n`)),
      /UTF-8/,
    ],
    [
      'UTF-8 encoded surrogate',
      concatBytes(Uint8Array.of(0xed, 0xa0, 0x80, 0x0a, 0x0a), utf8(`${CP8_LOG_LINE}\n`)),
      /UTF-8/,
    ],
    ['lone surrogate in string', `\ud800\n\n${CP8_LOG_LINE}\n`, /surrogate/],
  ];
  for (const [label, msg, reason] of cases) {
    it(label, () => expectCode(() => parseNote(msg), 'malformed_note', reason));
  }

  it('accepts 100 signature lines and rejects 101', () => {
    const lines = Array.from({ length: 101 }, (_, i) => `${fakeLine(`n${i}`, i)}\n`);
    expect(parseNote(`${CP8_TEXT}\n${lines.slice(0, 100).join('')}`).signatures).toHaveLength(100);
    expectCode(() => parseNote(`${CP8_TEXT}\n${lines.join('')}`), 'malformed_note', /more than 100/);
  });

  it('keeps a leading BOM in the signed text (bytes are not rewritten)', () => {
    const p = parseNote(concatBytes(Uint8Array.of(0xef, 0xbb, 0xbf), utf8(CP8_NOTE)));
    expect(p.text).toBe(`\ufeff${CP8_TEXT}`);
  });

  it('splits name and payload at the first space and extracts key ID and signature', () => {
    const p = parseNote(CP8_NOTE);
    expect(p.signatures.map((s) => [s.name, formatKeyId(s.keyId), s.sig.length])).toEqual([
      ['example.com/log', 'd455c521', 64],
      ['example.com/witness', '098ef77f', 72],
    ]);
    expect(p.signatures[0]!.line).toBe(CP8_LOG_LINE);
    expect(toHex(p.signatures[1]!.sig.slice(0, 8))).toBe('000000006553f100');
  });
});

describe('openNote', () => {
  const logV = newEd25519Verifier(LOG_VKEY);
  const grease1 = fakeLine('grease.invalid', 0x9a3f0c11, 3);
  const grease2 = fakeLine('example.com/log', 0xd455c522, 4); // log name, bogus key ID

  it('ignores grease lines and unknown keys in any order', () => {
    const note = `${CP8_TEXT}\n${grease1}\n${CP8_WITNESS_LINE}\n${CP8_LOG_LINE}\n${grease2}\n`;
    const n = openNote(note, [logV]);
    expect(n.verified.map((s) => s.line)).toEqual([CP8_LOG_LINE]);
    expect(n.unverified.map((s) => s.line)).toEqual([grease1, CP8_WITNESS_LINE, grease2]);
  });

  it('treats a matching name with a different key ID as unknown, never as an invalid signature', () => {
    const e = noteErrorOf(() => openNote(`${CP8_TEXT}\n${grease2}\n`, [logV]));
    expect(e.code).toBe('unverified_note');
    expect(e.message).toBe('note has no verifiable signatures');
  });

  it('rejects a note with no known signature', () => {
    expectCode(() => openNote(C2SP_NOTE, [logV]), 'unverified_note');
    expectCode(() => openNote(C2SP_NOTE, []), 'unverified_note');
  });

  it('rejects tampered text', () => {
    const e = noteErrorOf(() => openNote(CP8_NOTE.replace('\n8\n', '\n9\n'), [logV]));
    expect(e.code).toBe('invalid_signature');
    expect(e.message).toBe('invalid signature for key example.com/log+d455c521');
    expect(e.details).toEqual({ name: 'example.com/log', keyId: 0xd455c521 });
    expectCode(
      () => openNote(C2SP_NOTE.replace('example', 'Example'), [newEd25519Verifier(C2SP_VKEY)]),
      'invalid_signature',
    );
  });

  it('rejects a tampered signature even when another known key verified', () => {
    const tampered = CP8_LOG_LINE.replace('Ewg=', 'Ewk=');
    expectCode(() => openNote(`${CP8_TEXT}\n${tampered}\n`, [logV]), 'invalid_signature');
    const other = newEd25519Signer(GO_SKEY);
    const note = signNote(CP8_TEXT, [other], parseNote(`${CP8_TEXT}\n${tampered}\n`).signatures);
    expectCode(() => openNote(note, [logV, newEd25519Verifier(GO_VKEY)]), 'invalid_signature');
  });

  it('rejects a known signature with a truncated or extended payload', () => {
    const payload = parseNote(CP8_NOTE).signatures[0]!;
    for (const sig of [payload.sig.slice(0, 63), concatBytes(payload.sig, Uint8Array.of(0))]) {
      const line = formatSignatureLine('example.com/log', 0xd455c521, sig);
      expectCode(() => openNote(`${CP8_TEXT}\n${line}`, [logV]), 'invalid_signature');
    }
  });

  it('ignores later duplicate signatures from a key that already verified (Go)', () => {
    const bogus = fakeLine('example.com/log', 0xd455c521, 1);
    const n = openNote(`${CP8_TEXT}\n${CP8_LOG_LINE}\n${bogus}\n${CP8_LOG_LINE}\n`, [logV]);
    expect(n.verified.map((s) => s.line)).toEqual([CP8_LOG_LINE]);
    expect(n.unverified).toEqual([]);
    // The first occurrence is the one verified.
    expectCode(() => openNote(`${CP8_TEXT}\n${bogus}\n${CP8_LOG_LINE}\n`, [logV]), 'invalid_signature');
  });

  it('keeps identical unknown lines once', () => {
    const n = openNote(`${CP8_TEXT}\n${grease1}\n${CP8_LOG_LINE}\n${grease1}\n`, [logV]);
    expect(n.unverified.map((s) => s.line)).toEqual([grease1]);
  });

  it('verifies with several keys', () => {
    const note = signNote(CP8_TEXT, [newEd25519Signer(GO_SKEY), newEd25519Signer(LOG_SKEY)]);
    const n = openNote(note, [logV, newEd25519Verifier(GO_VKEY)]);
    expect(n.verified.map((s) => s.name)).toEqual(['PeterNeumann', 'example.com/log']);
  });

  it('reports ambiguous verifiers only when a signature matches them', () => {
    const always: NoteVerifier = { name: logV.name, keyId: logV.keyId, verify: () => true };
    expectCode(() => openNote(CP8_NOTE, [logV, always]), 'ambiguous_key', /example\.com\/log\+d455c521/);
    expect(openNote(C2SP_NOTE, [newEd25519Verifier(C2SP_VKEY), logV, always]).verified).toHaveLength(1);
  });

  it('rejects the small-order (identity) key forgery that verifies any message under ZIP-215', () => {
    const identity = new Uint8Array(32);
    identity[0] = 1; // encoding of the neutral point
    const vkey = formatVerifierKey('weak.example', 0x01, identity);
    const v = newEd25519Verifier(vkey);
    const forged = formatSignatureLine('weak.example', v.keyId, concatBytes(identity, new Uint8Array(32)));
    expectCode(() => openNote(`anything\n\n${forged}`, [v]), 'invalid_signature');
  });

  it('passes the exact text bytes and the payload after the key ID to verifiers', () => {
    const calls: [string, string][] = [];
    const spy: NoteVerifier = {
      name: 'example.com/log',
      keyId: 0xd455c521,
      verify: (msg, sig) => {
        calls.push([new TextDecoder().decode(msg), toHex(sig)]);
        return true;
      },
    };
    openNote(CP8_NOTE, [spy]);
    expect(calls).toEqual([[CP8_TEXT, toHex(parseNote(CP8_NOTE).signatures[0]!.sig)]]);
  });
});
