/**
 * Large top-level arrays are parsed piece by piece between the byte guard's cuts
 * (src/http/body.ts parseJsonPieces): the values must be exactly the whole-text parser's, and
 * no body the whole-text parser refuses may be accepted (a refused piece falls back to it).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CborValue } from '../../src/core/cbor.js';
import { parseJson } from '../../src/core/json.js';
import { JSON_PIECE_BYTES, JsonByteGuard } from '../../src/core/json-guard.js';
import { parseJsonPieces } from '../../src/http/body.js';

const events = JSON.parse(readFileSync('test/fixtures/opa/upload-batch.json', 'utf8')) as Record<
  string,
  unknown
>[];
const LIMITS = { maxDepth: 128, maxItems: 100_000 };
const enc = new TextEncoder();

/** What the whole-text parser says: the value, or the error code. */
function whole(bytes: Uint8Array): { value: CborValue } | { error: string } {
  let text = Buffer.from(bytes).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return { value: parseJson(text, LIMITS) };
  } catch (e) {
    return { error: (e as { code: string }).code };
  }
}

/** The guard's cuts for `bytes` fed in chunks, then the piecewise parse (undefined: fell back). */
async function pieces(bytes: Uint8Array): Promise<{ cuts: number; value: CborValue[] | undefined }> {
  const guard = new JsonByteGuard(LIMITS);
  for (let o = 0; o < bytes.length; o += 7_777) guard.push(bytes.subarray(o, o + 7_777));
  return { cuts: guard.cuts.length, value: await parseJsonPieces(bytes, guard, LIMITS) };
}

function body(n: number, tweak?: (e: Record<string, unknown>, i: number) => void): string {
  const out = [];
  for (let i = 0; i < n; i++) {
    const e = structuredClone(events[i % events.length]!);
    e.decision_id = `id-${i}`;
    tweak?.(e, i);
    out.push(JSON.stringify(e));
  }
  return `[${out.join(',')}]`;
}

describe('piecewise parsing of large arrays', () => {
  it('gives exactly the whole-text values: big integers, unicode, a BOM, odd whitespace', async () => {
    const texts = [
      body(400),
      body(300, (e, i) => {
        e.input = { n: i, note: 'é✓ \u2028 "q" \\ end', list: [1, 2.5, -0, null, true] };
      }),
      `\ufeff${body(200)}`,
      body(250)
        .replace(/,"decision_id"/g, ' ,\n\t"decision_id"')
        .replace(/\},\{/g, '}\n ,\n {'),
      // 19-digit integers, which must stay exact (bigint), in every piece.
      body(300).replace(/"decision_id"/g, '"big":1234567890123456789,"decision_id"'),
      // Big integers in some pieces only, long floats, odd numbers, __proto__ keys, colons and
      // escaped quotes inside strings (which must not count as keys).
      body(400, (e, i) => {
        e.input = { 'k:"x"': 'a:b\\"c:', n: [1e300, -0, 0.1, 12345.678901234567] };
        if (i % 97 === 0) (e.input as Record<string, unknown>).t = 'BIG';
      })
        .replace(/"BIG"/g, '-98765432109876543210')
        .replace(/"decision_id"/g, '"__proto__":{"x":1},"decision_id"'),
    ];
    for (const t of texts) {
      const bytes = enc.encode(t);
      const p = await pieces(bytes);
      expect(p.cuts).toBeGreaterThan(2);
      expect(p.value).toBeDefined();
      expect(p.value).toEqual((whole(bytes) as { value: CborValue }).value);
    }
  });

  it('never accepts a body the whole-text parser refuses (corruptions at and around the cuts)', async () => {
    const good = enc.encode(body(300));
    const guard = new JsonByteGuard(LIMITS);
    guard.push(good);
    const cuts = guard.cuts;
    expect(cuts.length).toBeGreaterThan(2);
    const variants: Uint8Array[] = [
      enc.encode(`[${' '.repeat(JSON_PIECE_BYTES + 10)},${body(100).slice(1)}`), // an empty first piece
      enc.encode(`${body(100).slice(0, -1)},${' '.repeat(JSON_PIECE_BYTES + 10)},1]`), // an empty middle piece
      enc.encode(`${body(200)} trailing`),
      enc.encode(`${body(200)}]`),
      enc.encode(`${body(100)},${body(100)}`), // two arrays
      enc.encode(body(200).replace('"id-3"', '"id-3","labels":{"id":"a","id":"b"}')), // a nested duplicate key in the first piece
      enc.encode(body(200).replace('"id-199"', '"id-199","x":1.0e400,"x":2')), // in the last
      enc.encode(
        body(200, (e, i) => {
          if (i === 150) (e as Record<string, unknown>).path = undefined;
        }).replace('"id-150"', '"id-150","decision_id":"again"'),
      ), // a duplicate key in a later piece
    ];
    for (const c of cuts) {
      for (const d of [-1, 0, 1]) {
        for (const b of [0x5d, 0x5b, 0x2c, 0x22, 0x7d, 0x20]) {
          const v = good.slice();
          v[c + d] = b;
          variants.push(v);
        }
      }
    }
    let refused = 0;
    for (const v of variants) {
      const w = whole(v);
      const p = await pieces(v);
      if ('error' in w) {
        refused++;
        expect(p.value).toBeUndefined();
      } else if (p.value !== undefined) {
        expect(p.value).toEqual(w.value);
      }
    }
    expect(refused).toBeGreaterThan(variants.length / 2);
  });

  it('is not used for small bodies without long numbers, objects or NDJSON', async () => {
    const small = body(10).replace(/\d{16,}/g, '1');
    for (const t of [small, `{"items":${body(300)}}`, body(300).slice(1, -1).replace(/\},\{/g, '}\n{')]) {
      expect((await pieces(enc.encode(t))).cuts).toBe(0);
    }
  });

  it('gives an element with a 16+ character number a piece of its own, anywhere in the array', async () => {
    for (const at of [0, 5, 9]) {
      const t = body(10, (e, i) => {
        e.input = i === at ? { n: 'BIG' } : { n: 1 };
      })
        .replace(/\d{16,}/g, '1')
        .replace('"BIG"', '12345678901234567890');
      const bytes = enc.encode(t);
      const guard = new JsonByteGuard(LIMITS);
      guard.push(bytes);
      const facts = guard.pieceFacts();
      expect(facts.filter((f) => f.longNumber)).toHaveLength(1);
      const values = (await parseJsonPieces(bytes, guard, LIMITS))!;
      expect(values).toEqual((whole(bytes) as { value: CborValue }).value);
      expect((values[at] as { input: { n: unknown } }).input.n).toBe(12345678901234567890n);
      // The long element's piece holds it alone: its keys are one element's keys.
      const alone = facts.find((f) => f.longNumber)!;
      expect(alone.keys).toBeLessThan(facts.reduce((n, f) => n + f.keys, 0) / 3);
    }
  });
});
