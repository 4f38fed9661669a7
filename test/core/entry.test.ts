import { readFileSync } from 'node:fs';
import { Decoder as CborXDecoder } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/bytes.js';
import { CborError, type CborObject, type CborValue, encodeDeterministic } from '../../src/core/cbor.js';
import {
  type CommitmentEntry,
  commitment,
  decodeEntry,
  type Entry,
  EntryError,
  type EntryErrorCode,
  type ErasureEntry,
  encodeEntry,
  isErasure,
  MAX_ENTRY_SIZE,
  makeCommitment,
  randomSalt,
  sealEntry,
  verifyCommitment,
} from '../../src/core/entry.js';
import { sha256 } from '../../src/core/hash.js';
import { errorCodeOf } from '../helpers/expect-code.js';

const unhex = (s: string): Uint8Array => fromHex(s.replace(/\s+/g, ''))!;
const leafHash = (entry: Uint8Array): Uint8Array => sha256(concatBytes(Uint8Array.of(0), entry));
const str = (s: string): string => toHex(utf8(s));

const codeOf = (f: () => unknown) => errorCodeOf(f, EntryError);

// ---- The worked example of spec/entry-format.md. Every hex string below must appear there. ----

const EVENT = {
  decision_id: '4ca636c1-55e4-417a-b1d8-4aceb67960d1',
  labels: { id: 'opa-1', version: '0.70.0' },
  path: 'authz/allow',
  input: { user: 'alice', action: 'read', amount: 12.5 },
  result: true,
  timestamp: '2025-01-15T10:30:00.123456789Z',
};
const SALT = Uint8Array.from({ length: 32 }, (_, i) => i);
const RECV = 1736937000456; // 2025-01-15T10:30:00.456Z

/** The payload, derived by hand: keys sorted by (encoded length, bytes). */
const PAYLOAD_HEX = [
  'a6', // map(6)
  `64${str('path')}6b${str('authz/allow')}`,
  `65${str('input')}a3`, // map(3): user, action, amount
  `64${str('user')}65${str('alice')}`,
  `66${str('action')}64${str('read')}`,
  `66${str('amount')}f94a40`, // 12.5 = float16 0x4a40
  `66${str('labels')}a2`, // map(2): id, version
  `62${str('id')}65${str('opa-1')}`,
  `67${str('version')}66${str('0.70.0')}`,
  `66${str('result')}f5`,
  `69${str('timestamp')}781e${str('2025-01-15T10:30:00.123456789Z')}`,
  `6b${str('decision_id')}7824${str('4ca636c1-55e4-417a-b1d8-4aceb67960d1')}`,
].join('');

const COMMITMENT_HEX = '0c7f8128341ce8f415b932bb1993e9bce4f07d9d0d3580fa4bf7de49f4f0e84b';

/** The entry, derived by hand: keys c, v, id, ts, src, kind, recv. */
const ENTRY_HEX = [
  'a7', // map(7)
  `61${str('c')}5820${COMMITMENT_HEX}`,
  `61${str('v')}01`,
  `62${str('id')}7824${str('4ca636c1-55e4-417a-b1d8-4aceb67960d1')}`,
  `62${str('ts')}781e${str('2025-01-15T10:30:00.123456789Z')}`,
  `63${str('src')}65${str('opa-1')}`,
  `64${str('kind')}6c${str('opa.decision')}`,
  `64${str('recv')}1b0000019469834e08`, // 1736937000456 = 0x19469834e08 needs 8 bytes
].join('');

const LEAF_HEX = 'a94a054ad92b0a44f27fe73d444a602fc0332ff99153581d13d47f2622a1229e';

const ERASURE: ErasureEntry = {
  v: 1,
  kind: 'erasure',
  src: 'admin',
  id: 'req-2025-0042',
  recv: RECV + 86_400_000,
  erases: 0,
  reason: 'gdpr-art17',
};
const ERASURE_HEX = [
  'a7',
  `61${str('v')}01`,
  `62${str('id')}6d${str('req-2025-0042')}`,
  `63${str('src')}65${str('admin')}`,
  `64${str('kind')}67${str('erasure')}`,
  `64${str('recv')}1b000001946ea9aa08`,
  `66${str('erases')}00`,
  `66${str('reason')}6a${str('gdpr-art17')}`,
].join('');
const ERASURE_LEAF_HEX = 'e1ac34fd39f7b0c64c431834facff7d00222456bd0ec80e69629474928d97aa0';

const EXAMPLE: CommitmentEntry = {
  v: 1,
  kind: 'opa.decision',
  src: EVENT.labels.id,
  id: EVENT.decision_id,
  ts: EVENT.timestamp,
  recv: RECV,
  c: unhex(COMMITMENT_HEX),
};

describe('worked example (spec/entry-format.md)', () => {
  const made = makeCommitment(EVENT, { salt: SALT });

  it('payload, commitment, entry and leaf hash', () => {
    expect(toHex(made.payload)).toBe(PAYLOAD_HEX);
    expect(toHex(made.commitment)).toBe(COMMITMENT_HEX);
    expect(toHex(sha256(concatBytes(SALT, made.payload)))).toBe(COMMITMENT_HEX);
    const entry = encodeEntry({ ...EXAMPLE, c: made.commitment });
    expect(toHex(entry)).toBe(ENTRY_HEX);
    expect(entry.length).toBe(158);
    expect(toHex(leafHash(entry))).toBe(LEAF_HEX);
    expect(toHex(encodeEntry(ERASURE))).toBe(ERASURE_HEX);
    expect(toHex(leafHash(unhex(ERASURE_HEX)))).toBe(ERASURE_LEAF_HEX);
    expect(RECV).toBe(Date.parse('2025-01-15T10:30:00.456Z'));
  });

  it('cbor-x (a generic, independent decoder) reads the same values', () => {
    const cx = new CborXDecoder({ mapsAsObjects: true, useRecords: false });
    const e = cx.decode(unhex(ENTRY_HEX)) as Record<string, unknown>;
    expect(Object.keys(e)).toEqual(['c', 'v', 'id', 'ts', 'src', 'kind', 'recv']);
    expect(toHex(e.c as Uint8Array)).toBe(COMMITMENT_HEX);
    expect({ ...e, c: undefined, recv: Number(e.recv) }).toEqual({ ...EXAMPLE, c: undefined });
    expect(cx.decode(unhex(PAYLOAD_HEX))).toEqual(EVENT);
    const er = cx.decode(unhex(ERASURE_HEX)) as Record<string, unknown>;
    expect({ ...er, recv: Number(er.recv) }).toEqual(ERASURE);
  });

  it('every number appears verbatim in the spec', () => {
    const spec = readFileSync(new URL('../../spec/entry-format.md', import.meta.url), 'utf8').replace(
      /\s+/g,
      '',
    );
    for (const h of [
      toHex(SALT),
      PAYLOAD_HEX,
      COMMITMENT_HEX,
      ENTRY_HEX,
      LEAF_HEX,
      ERASURE_HEX,
      ERASURE_LEAF_HEX,
      String(RECV),
    ]) {
      expect(spec).toContain(h);
    }
  });

  it('decodes and verifies', () => {
    const e = decodeEntry(unhex(ENTRY_HEX));
    expect(e).toEqual(EXAMPLE);
    expect(verifyCommitment(e, SALT, made.payload)).toBe(true);
    expect(decodeEntry(unhex(ERASURE_HEX))).toEqual(ERASURE);
  });
});

describe('round trips', () => {
  const cases: Entry[] = [
    EXAMPLE,
    { v: 1, kind: 'event', src: '', id: '', recv: 0, c: new Uint8Array(32) },
    {
      v: 1,
      kind: 'k8s.audit',
      src: 'cluster-a',
      id: 'uid',
      ts: '',
      recv: 2 ** 53 - 1,
      c: new Uint8Array(32).fill(1),
    },
    { ...EXAMPLE, flags: ['missing_decision_id', 'bad_timestamp'] },
    { ...EXAMPLE, kind: 'future.kind/v2', src: 'caf\u00e9 \u6c34 \u{1f600}' },
    ERASURE,
    { ...ERASURE, ts: '2025-01-16', flags: ['manual'] },
  ];
  for (const e of cases) {
    it(`${e.kind} ${JSON.stringify(e.flags ?? [])}`, () => {
      const b = encodeEntry(e);
      const back = decodeEntry(b);
      const expected = e.flags ? { ...e, flags: [...e.flags].sort() } : e;
      expect(back).toEqual(expected);
      expect(toHex(encodeEntry(back))).toBe(toHex(b));
      expect(isErasure(back)).toBe(e.kind === 'erasure');
    });
  }

  it('flags are written sorted; empty flags and undefined optionals are omitted', () => {
    const a = encodeEntry({ ...EXAMPLE, flags: ['b', 'a'] });
    const b = encodeEntry({ ...EXAMPLE, flags: ['a', 'b'] });
    expect(toHex(a)).toBe(toHex(b));
    expect(decodeEntry(a).flags).toEqual(['a', 'b']);
    expect(toHex(encodeEntry({ ...EXAMPLE, flags: [] }))).toBe(ENTRY_HEX);
    expect(toHex(encodeEntry({ ...EXAMPLE, flags: undefined }))).toBe(ENTRY_HEX);
    const { ts: _ts, ...noTs } = EXAMPLE;
    expect(toHex(encodeEntry({ ...noTs, ts: undefined }))).toBe(toHex(encodeEntry(noTs)));
    expect(decodeEntry(encodeEntry(noTs))).not.toHaveProperty('ts');
  });
});

describe('encodeEntry validation', () => {
  const bad = (e: unknown) => () => encodeEntry(e as Entry);
  const cases: [string, unknown, EntryErrorCode, string | undefined][] = [
    ['null', null, 'not_a_map', undefined],
    ['array', [], 'not_a_map', undefined],
    ['Map', new Map(), 'not_a_map', undefined],
    ['Date', new Date(0), 'not_a_map', undefined],
    ['missing v', { ...EXAMPLE, v: undefined }, 'missing_field', 'v'],
    ['v 2', { ...EXAMPLE, v: 2 }, 'bad_version', 'v'],
    ['v "1"', { ...EXAMPLE, v: '1' }, 'bad_version', 'v'],
    ['missing kind', { ...EXAMPLE, kind: undefined }, 'missing_field', 'kind'],
    ['empty kind', { ...EXAMPLE, kind: '' }, 'bad_kind', 'kind'],
    ['kind with space', { ...EXAMPLE, kind: 'opa decision' }, 'bad_kind', 'kind'],
    ['non-ASCII kind', { ...EXAMPLE, kind: 'caf\u00e9' }, 'bad_kind', 'kind'],
    ['kind too long', { ...EXAMPLE, kind: 'k'.repeat(65) }, 'bad_kind', 'kind'],
    ['kind not a string', { ...EXAMPLE, kind: 1 }, 'bad_kind', 'kind'],
    ['missing src', { ...EXAMPLE, src: undefined }, 'missing_field', 'src'],
    ['src number', { ...EXAMPLE, src: 1 }, 'bad_field', 'src'],
    ['missing id', { ...EXAMPLE, id: undefined }, 'missing_field', 'id'],
    ['id lone surrogate', { ...EXAMPLE, id: 'x\ud800' }, 'bad_field', 'id'],
    ['ts number', { ...EXAMPLE, ts: 1736937000 }, 'bad_field', 'ts'],
    ['ts null', { ...EXAMPLE, ts: null }, 'bad_field', 'ts'],
    ['missing recv', { ...EXAMPLE, recv: undefined }, 'missing_field', 'recv'],
    ['negative recv', { ...EXAMPLE, recv: -1 }, 'bad_field', 'recv'],
    ['fractional recv', { ...EXAMPLE, recv: 1.5 }, 'bad_field', 'recv'],
    ['unsafe recv', { ...EXAMPLE, recv: 2 ** 53 }, 'bad_field', 'recv'],
    ['bigint recv', { ...EXAMPLE, recv: 1n }, 'bad_field', 'recv'],
    ['string recv', { ...EXAMPLE, recv: '1' }, 'bad_field', 'recv'],
    ['missing c', { ...EXAMPLE, c: undefined }, 'missing_field', 'c'],
    ['short c', { ...EXAMPLE, c: new Uint8Array(31) }, 'bad_field', 'c'],
    ['c as array', { ...EXAMPLE, c: Array(32).fill(0) }, 'bad_field', 'c'],
    ['flags not an array', { ...EXAMPLE, flags: 'x' }, 'bad_field', 'flags'],
    ['empty flag', { ...EXAMPLE, flags: [''] }, 'bad_field', 'flags'],
    ['flag with space', { ...EXAMPLE, flags: ['a b'] }, 'bad_field', 'flags'],
    ['flag not a string', { ...EXAMPLE, flags: [1] }, 'bad_field', 'flags'],
    ['duplicate flags', { ...EXAMPLE, flags: ['a', 'b', 'a'] }, 'bad_field', 'flags'],
    ['unknown field', { ...EXAMPLE, extra: 1 }, 'unknown_field', 'extra'],
    ['erases on a commitment entry', { ...EXAMPLE, erases: 1 }, 'unknown_field', 'erases'],
    ['reason on a commitment entry', { ...EXAMPLE, reason: 'x' }, 'unknown_field', 'reason'],
    ['c on an erasure', { ...ERASURE, c: new Uint8Array(32) }, 'unknown_field', 'c'],
    ['erasure without erases', { ...ERASURE, erases: undefined }, 'missing_field', 'erases'],
    ['erasure without reason', { ...ERASURE, reason: undefined }, 'missing_field', 'reason'],
    ['erasure with empty reason', { ...ERASURE, reason: '' }, 'bad_field', 'reason'],
    ['negative erases', { ...ERASURE, erases: -1 }, 'bad_field', 'erases'],
    ['too large', { ...EXAMPLE, src: 'x'.repeat(MAX_ENTRY_SIZE) }, 'too_large', undefined],
  ];
  for (const [what, e, code, field] of cases) {
    it(`${what} -> ${code}`, () => {
      let err: unknown;
      try {
        encodeEntry(e as Entry);
      } catch (x) {
        err = x;
      }
      expect(err).toBeInstanceOf(EntryError);
      expect((err as EntryError).code).toBe(code);
      expect((err as EntryError).field).toBe(field);
      expect(codeOf(bad(e))).toBe(code);
    });
  }

  it('accepts the largest entry that fits', () => {
    const base = encodeEntry({ ...EXAMPLE, src: '' }).length;
    // a src of n bytes costs n + 3 (head 79xxxx) instead of 1 (60)
    const n = MAX_ENTRY_SIZE - base - 2;
    expect(encodeEntry({ ...EXAMPLE, src: 'x'.repeat(n) }).length).toBe(MAX_ENTRY_SIZE);
    expect(codeOf(() => encodeEntry({ ...EXAMPLE, src: 'x'.repeat(n + 1) }))).toBe('too_large');
  });
});

describe('decodeEntry strictness', () => {
  const enc = (m: CborValue) => encodeDeterministic(m);
  const asMap = (e: Entry): CborObject => ({ ...(e as unknown as CborObject) });
  const base = asMap(EXAMPLE);

  it('rejects non-deterministic CBOR', () => {
    // the example with its first two pairs ("c", "v") swapped: unsorted keys
    const b = unhex(ENTRY_HEX);
    const cPair = b.subarray(1, 1 + 2 + 2 + 32);
    const vPair = b.subarray(37, 40);
    const swapped = concatBytes(b.subarray(0, 1), vPair, cPair, b.subarray(40));
    expect(swapped.length).toBe(b.length);
    let err: unknown;
    try {
      decodeEntry(swapped);
    } catch (x) {
      err = x;
    }
    expect((err as EntryError).code).toBe('bad_cbor');
    expect((err as EntryError).cause).toBeInstanceOf(CborError);
    expect(((err as EntryError).cause as CborError).code).toBe('not_deterministic');
    // recv with a non-shortest (but valid CBOR) head would be another spelling: rejected
    const erases = `66${str('erases')}`;
    expect(codeOf(() => decodeEntry(unhex(ERASURE_HEX.replace(`${erases}00`, `${erases}1800`))))).toBe(
      'bad_cbor',
    );
    expect(codeOf(() => decodeEntry(concatBytes(unhex(ENTRY_HEX), Uint8Array.of(0))))).toBe('bad_cbor');
    expect(codeOf(() => decodeEntry(new Uint8Array(0)))).toBe('bad_cbor');
  });

  const cases: [string, CborValue, EntryErrorCode][] = [
    ['an array', [1, 2], 'not_a_map'],
    ['a number', 1, 'not_a_map'],
    ['integer keys', new Map([[1, 1]]), 'not_a_map'],
    ['unknown key', { ...base, x: 1 }, 'unknown_field'],
    [
      '__proto__ key',
      Object.defineProperty({ ...base }, '__proto__', { value: 1, enumerable: true }),
      'unknown_field',
    ],
    ['version 2', { ...base, v: 2 }, 'bad_version'],
    ['missing c', (({ c: _c, ...r }) => r)(base), 'missing_field'],
    ['recv beyond 2^53', { ...base, recv: 2n ** 60n }, 'bad_field'],
    ['recv as float', { ...base, recv: 0.5 }, 'bad_field'],
    ['ts as bytes', { ...base, ts: new Uint8Array(1) }, 'bad_field'],
    ['empty flags', { ...base, flags: [] }, 'bad_field'],
    ['unsorted flags', { ...base, flags: ['b', 'a'] }, 'bad_field'],
    ['duplicate flags', { ...base, flags: ['a', 'a'] }, 'bad_field'],
    ['flag not a string', { ...base, flags: [1] }, 'bad_field'],
    ['nesting deeper than 2', { ...base, flags: [['a']] }, 'bad_cbor'],
    ['erasure with c', { ...asMap(ERASURE), c: new Uint8Array(32) }, 'unknown_field'],
  ];
  for (const [what, m, code] of cases) {
    it(`${what} -> ${code}`, () => {
      expect(codeOf(() => decodeEntry(enc(m)))).toBe(code);
    });
  }

  it('rejects entries above 65535 bytes before decoding', () => {
    expect(codeOf(() => decodeEntry(new Uint8Array(MAX_ENTRY_SIZE + 1)))).toBe('too_large');
    expect(codeOf(() => decodeEntry(enc({ ...base, src: 'x'.repeat(MAX_ENTRY_SIZE) })))).toBe('too_large');
  });

  it('rejects non-Uint8Array input', () => {
    expect(codeOf(() => decodeEntry(ENTRY_HEX as unknown as Uint8Array))).toBe('bad_cbor');
  });
});

describe('commitments', () => {
  it('commitment is SHA-256(salt || payload) and checks the salt', () => {
    const payload = utf8('x');
    expect(toHex(commitment(SALT, payload))).toBe(toHex(sha256(concatBytes(SALT, payload))));
    expect(codeOf(() => commitment(new Uint8Array(31), payload))).toBe('bad_salt');
    expect(codeOf(() => commitment(new Uint8Array(33), payload))).toBe('bad_salt');
    expect(codeOf(() => commitment(SALT, 'x' as unknown as Uint8Array))).toBe('bad_event');
  });

  it('makeCommitment draws a fresh random salt', () => {
    const a = makeCommitment(EVENT);
    const b = makeCommitment(EVENT);
    expect(a.salt.length).toBe(32);
    expect(toHex(a.salt)).not.toBe(toHex(b.salt));
    expect(toHex(a.payload)).toBe(PAYLOAD_HEX);
    expect(toHex(a.commitment)).not.toBe(toHex(b.commitment));
    expect(toHex(a.commitment)).toBe(toHex(commitment(a.salt, a.payload)));
  });

  it('sealEntry writes the commitment into a placeholder entry: the bytes encodeEntry makes', () => {
    const { salt, payload, commitment: c } = makeCommitment(EVENT);
    for (const extra of [{}, { ts: '2025-01-01T00:00:00Z' }, { ts: 't', flags: ['missing_labels'] }]) {
      const fields = { v: 1, kind: 'opa.decision', src: 's', id: 'i', recv: 7, ...extra } as const;
      const placeholder = encodeEntry({ ...fields, c: new Uint8Array(32) });
      const sealed = sealEntry(placeholder, salt, payload, sha256);
      expect(toHex(sealed)).toBe(toHex(encodeEntry({ ...fields, c })));
      expect(verifyCommitment(decodeEntry(sealed), salt, payload)).toBe(true);
    }
    const erasure = encodeEntry({
      v: 1,
      kind: 'erasure',
      src: 's',
      id: 'i',
      recv: 1,
      erases: 0,
      reason: 'r',
    });
    expect(codeOf(() => sealEntry(erasure, salt, payload))).toBe('bad_field');
    expect(codeOf(() => sealEntry(new Uint8Array(40), salt, payload))).toBe('bad_field');
  });

  it('randomSalt gives distinct 32-byte salts across pool refills, none reusing bytes of another', () => {
    const salts: Uint8Array[] = [];
    for (let i = 0; i < 1000; i++) {
      const s = randomSalt();
      expect(s.length).toBe(32);
      salts.push(s);
    }
    const before = salts.map(toHex);
    expect(new Set(before).size).toBe(1000);
    // Views into pools: no two share bytes (same pool: disjoint ranges), and drawing more
    // salts never writes into a pool that handed some out.
    const ranges = new Map<ArrayBufferLike, number[]>();
    for (const s of salts) {
      const r = ranges.get(s.buffer) ?? [];
      r.push(s.byteOffset);
      ranges.set(s.buffer, r);
    }
    for (const offsets of ranges.values()) {
      const sorted = [...offsets].sort((a, b) => a - b);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(32);
    }
    for (let i = 0; i < 300; i++) randomSalt();
    expect(salts.map(toHex)).toEqual(before);
  });

  it('makeCommitment rejects unencodable events and bad salts', () => {
    let err: unknown;
    try {
      makeCommitment({ a: undefined } as unknown as CborValue);
    } catch (x) {
      err = x;
    }
    expect((err as EntryError).code).toBe('bad_event');
    expect(((err as EntryError).cause as CborError).code).toBe('unsupported_type');
    expect(codeOf(() => makeCommitment({ s: '\udc00' }))).toBe('bad_event');
    expect(codeOf(() => makeCommitment(1, { salt: new Uint8Array(16) }))).toBe('bad_salt');
  });

  it('uses an injected SHA-256', () => {
    let calls = 0;
    const sha = (d: Uint8Array) => {
      calls++;
      return sha256(d);
    };
    const m = makeCommitment(EVENT, { salt: SALT, sha });
    expect(toHex(m.commitment)).toBe(COMMITMENT_HEX);
    expect(verifyCommitment(EXAMPLE, SALT, m.payload, sha)).toBe(true);
    expect(calls).toBe(2);
  });

  it('verifyCommitment', () => {
    const { salt, payload, commitment: c } = makeCommitment({ hello: 'world' });
    const e: CommitmentEntry = { ...EXAMPLE, c };
    expect(verifyCommitment(e, salt, payload)).toBe(true);
    expect(verifyCommitment(decodeEntry(encodeEntry(e)), salt, payload)).toBe(true);
    const salt2 = salt.slice();
    salt2[0]! ^= 1;
    expect(verifyCommitment(e, salt2, payload)).toBe(false);
    expect(verifyCommitment(e, salt, encodeDeterministic({ hello: 'World' }))).toBe(false);
    expect(verifyCommitment(e, salt.subarray(1), payload)).toBe(false);
    expect(verifyCommitment(ERASURE, salt, payload)).toBe(false);
  });
});

describe('encodeEntry: the ASCII commitment-entry fast path equals the generic encoder', () => {
  /** The oracle: the entry's CBOR map as the spec defines it, through the generic encoder. */
  function oracle(e: Record<string, unknown>): Uint8Array {
    const m: CborObject = {};
    for (const [k, v] of Object.entries(e)) {
      if (v === undefined) continue;
      if (k === 'flags') {
        const list = [...(v as string[])].sort();
        if (list.length > 0) m.flags = list;
      } else m[k] = v as CborValue;
    }
    return encodeDeterministic(m);
  }
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const ascii = (n: number) => Array.from({ length: n }, () => String.fromCharCode(0x21 + rand(94))).join('');

  it('gives the same bytes for thousands of varied entries (lengths across head sizes, ts, flags)', () => {
    for (let i = 0; i < 3000; i++) {
      const e: Record<string, unknown> = {
        v: 1,
        kind: ascii(1 + rand(64)),
        src: rand(5) === 0 ? '' : ascii(rand(3) === 0 ? 300 + rand(300) : rand(40)),
        id: ascii([0, 23, 24, 255, 256, 36][rand(6)]!),
        recv: [
          0,
          23,
          24,
          255,
          256,
          65535,
          65536,
          2 ** 32 - 1,
          2 ** 32,
          Number.MAX_SAFE_INTEGER,
          1736937000456,
        ][rand(11)],
        c: Uint8Array.from({ length: 32 }, () => rand(256)),
      };
      if (e.kind === 'erasure') e.kind = 'event';
      if (rand(2) === 0) e.ts = `2025-01-15T10:30:0${rand(10)}.${rand(1000)}Z`;
      if (rand(3) === 0)
        e.flags = Array.from(new Set(Array.from({ length: rand(25) }, () => ascii(1 + rand(10)))));
      if (rand(10) === 0) e.ts = undefined;
      const got = encodeEntry(e as unknown as Entry);
      expect(toHex(got)).toBe(toHex(oracle(e)));
      expect(decodeEntry(got)).toBeDefined();
    }
  });

  it('leaves everything else to the generic path, with the same answers as before', () => {
    const base = { v: 1, kind: 'opa.decision', src: 'opa-1', id: 'x', recv: 5, c: new Uint8Array(32) };
    // Non-ASCII text is still encoded (generic path), equal to the oracle.
    const accented = { ...base, src: 'é', ts: '2025-01-15T10:30:00Z✓' };
    expect(toHex(encodeEntry(accented as Entry))).toBe(toHex(oracle(accented)));
    // Refusals keep their codes.
    expect(codeOf(() => encodeEntry({ ...base, extra: 1 } as unknown as Entry))).toBe('unknown_field');
    expect(codeOf(() => encodeEntry({ ...base, flags: ['a', 'a'] } as Entry))).toBe('bad_field');
    expect(codeOf(() => encodeEntry({ ...base, flags: ['with space'] } as Entry))).toBe('bad_field');
    expect(codeOf(() => encodeEntry({ ...base, recv: -1 } as Entry))).toBe('bad_field');
    expect(codeOf(() => encodeEntry({ ...base, c: new Uint8Array(31) } as Entry))).toBe('bad_field');
    expect(codeOf(() => encodeEntry({ ...base, v: 2 } as unknown as Entry))).toBe('bad_version');
    expect(codeOf(() => encodeEntry({ ...base, id: 'x'.repeat(70_000) } as Entry))).toBe('too_large');
    // Empty flags are left out, as the generic path leaves them out.
    expect(toHex(encodeEntry({ ...base, flags: [] } as Entry))).toBe(toHex(oracle(base)));
  });
});
