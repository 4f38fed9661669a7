/**
 * Compressed payloads (src/store/payload-codec.ts, spec/storage.md "Payload compression"): the
 * stored form round-trips to the exact CBOR, raw rows (legacy, or not worth compressing) read
 * as they are, OPA decisions are stored smaller than their CBOR, and every engine stores the
 * compressed form and returns the plain CBOR through the storage seam.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { type CborValue, encodeDeterministic } from '../../src/core/cbor.js';
import { parseJson } from '../../src/core/json.js';
import { eventLeaf } from '../../src/log/leaf.js';
import { nodeSha256 } from '../../src/log/log.js';
import {
  decodeStoredPayload,
  encodeStoredPayload,
  PAYLOAD_DEFLATE_LEVEL,
  PAYLOAD_DEFLATE_V1,
  PAYLOAD_FAST_DEFLATE,
  PayloadCodecError,
} from '../../src/store/payload-codec.js';
import { PAYLOAD_DICTIONARY_V1 } from '../../src/store/payload-dictionary.js';
import { engines, storagesClosedAfterEach } from '../helpers/engines.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'opa', 'upload-batch.json');
/** The fixture's OPA decisions as the log stores them: lossless parse, deterministic CBOR. */
const decisions = (parseJson(readFileSync(FIXTURE, 'utf8')) as CborValue[]).map((e) => ({
  event: e,
  cbor: encodeDeterministic(e),
}));

/** Bytes as hex, so Buffers (what the engines and zlib return) compare with Uint8Arrays. */
const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

describe('payload codec', () => {
  test('OPA decisions are stored tagged, smaller than their CBOR, and decode to it exactly', () => {
    let cbor = 0;
    let stored = 0;
    for (const d of decisions) {
      const s = encodeStoredPayload(d.cbor);
      expect(s[0]).toBe(PAYLOAD_DEFLATE_V1);
      expect(s.length).toBeLessThan(d.cbor.length);
      expect(hex(decodeStoredPayload(s))).toBe(hex(d.cbor));
      cbor += d.cbor.length;
      stored += s.length;
    }
    // The dictionary was made from these decisions: far smaller (spec/storage.md has the
    // numbers on decisions it was not made from).
    expect(stored / cbor).toBeLessThan(0.25);
  });

  test('CBOR of every major type round-trips, never stored longer than it is', () => {
    const values: CborValue[] = [0, 1, 23, -1, 'x', '', [], [1, 2], {}, { a: 1 }, true, null, 1.5, 2n ** 64n];
    for (const v of values) {
      const cbor = encodeDeterministic(v);
      const s = encodeStoredPayload(cbor);
      // Stored raw unless deflate shrinks it; never longer than the CBOR.
      if (s[0] !== PAYLOAD_DEFLATE_V1) expect(hex(s)).toBe(hex(cbor));
      expect(s.length).toBeLessThanOrEqual(cbor.length);
      expect(hex(decodeStoredPayload(s))).toBe(hex(cbor));
    }
    const random = encodeDeterministic(
      new Uint8Array(Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7919) % 251))),
    );
    expect(hex(decodeStoredPayload(encodeStoredPayload(random)))).toBe(hex(random));
  });

  test('the reused deflate context is in use and writes what deflateRawSync writes, byte for byte', () => {
    expect(PAYLOAD_FAST_DEFLATE).toBe(true);
    const reference = (cbor: Uint8Array) => {
      const z = deflateRawSync(cbor, { level: PAYLOAD_DEFLATE_LEVEL, dictionary: PAYLOAD_DICTIONARY_V1 });
      return z.length + 1 < cbor.length
        ? Buffer.concat([Buffer.of(PAYLOAD_DEFLATE_V1), z])
        : Buffer.from(cbor);
    };
    const inputs = [
      ...decisions.map((d) => d.cbor),
      ...[0, 1, 2, 3, 4, 5, 16, 100, 5000, 70_000].map((n) =>
        encodeDeterministic('x'.repeat(n)).subarray(0, Math.max(1, n)),
      ),
      encodeDeterministic(new Uint8Array(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 251))),
    ];
    for (const cbor of inputs) {
      // Twice: the context is reset between payloads, so order does not matter.
      expect(hex(encodeStoredPayload(cbor))).toBe(hex(reference(cbor)));
      expect(hex(encodeStoredPayload(cbor))).toBe(hex(reference(cbor)));
    }
  });

  test('legacy rows (raw CBOR, first byte a CBOR head) are read as they are', () => {
    for (const d of decisions.slice(0, 5)) expect(decodeStoredPayload(d.cbor)).toBe(d.cbor);
    expect(decodeStoredPayload(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });

  test('an unknown reserved tag and a damaged row are errors with stable codes', () => {
    const code = (bytes: Uint8Array) => {
      try {
        decodeStoredPayload(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(PayloadCodecError);
        return (err as PayloadCodecError).code;
      }
      return 'decoded';
    };
    expect(code(Uint8Array.of(0x1d, 1, 2, 3))).toBe('unknown_payload_format');
    expect(code(Uint8Array.of(0xff))).toBe('unknown_payload_format');
    expect(code(Uint8Array.of(PAYLOAD_DEFLATE_V1, 0xff, 0xff, 0xff))).toBe('corrupt_payload');
  });
});

const { open } = storagesClosedAfterEach();

// SQLite stores payloads per bundle (payload-bundles.ts, test/store/payload-bundles.test.ts);
// PostgreSQL stores each row compressed.
describe.each(engines.filter((e) => e.name !== 'sqlite'))('$name stores payloads compressed', (engine) => {
  test('stored rows are tagged and smaller; payload() returns the CBOR; legacy rows still read', async () => {
    const location = await engine.location();
    const s = await open(location);
    const items = decisions
      .slice(0, 10)
      .map((d, i) =>
        eventLeaf({ kind: 'opa.decision', source: 'src', id: `d${i}`, event: d.event }, 1000 + i, nodeSha256),
      );
    await s.append(items);
    const rows = await engine.sql(location, 'SELECT idx, payload FROM payloads ORDER BY idx');
    expect(rows.length).toBe(10);
    for (const [i, r] of rows.entries()) {
      const stored = r.payload as Uint8Array;
      expect(stored[0]).toBe(PAYLOAD_DEFLATE_V1);
      expect(stored.length).toBeLessThan(decisions[i]!.cbor.length);
      expect(hex((await s.payload(i))?.payload)).toBe(hex(decisions[i]!.cbor));
    }
    // A row as builds before compression wrote it: the raw CBOR.
    await engine.sql(location, 'UPDATE payloads SET payload = ? WHERE idx = ?', [
      Buffer.from(decisions[3]!.cbor),
      3,
    ]);
    expect(hex((await s.payload(3))?.payload)).toBe(hex(decisions[3]!.cbor));
    // A resend is still recognised as the same content (dedup reads the stored payload's salt).
    const again = eventLeaf(
      { kind: 'opa.decision', source: 'src', id: 'd3', event: decisions[3]!.event },
      2000,
      nodeSha256,
    );
    expect((await s.append([again])).results).toEqual([{ index: 3, duplicate: true }]);
  });
});
