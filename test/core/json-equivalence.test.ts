/**
 * The fast JSON path (src/core/json*.ts) against the test oracle (test/core/json-oracle/, the
 * implementation before the issue-11 speedups): for generated texts, valid and not (random
 * structures, big integers in and out of strings, escapes, duplicate keys, deep nesting,
 * truncations, character flips, low limits), the parser returns the same value (bigint
 * included) or throws a JsonError with the same code, offset, item and message; the byte
 * guard refuses the same bodies at the same byte, whatever the chunking.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_JSON_LIMITS, JsonError, type JsonLimits, parseJsonSteps } from '../../src/core/json.js';
import { JsonByteGuard } from '../../src/core/json-guard.js';
import { fastScan } from '../../src/core/json-reader.js';
import { parseJsonSteps as oldParseJsonSteps } from './json-oracle/json.js';
import { JsonByteGuard as OldJsonByteGuard } from './json-oracle/json-guard.js';
import { JsonError as OldJsonError, JsonReader as OldJsonReader } from './json-oracle/json-reader.js';

const RUNS = 4000;

const ws = fc.constantFrom('', '', '', ' ', '\n', '\t ', '\r\n  ');
const keyText = fc.oneof(
  fc.constantFrom('a', 'b', 'items', '__proto__', 'time', 'now_ns', ''),
  fc.string({ maxLength: 6 }),
);
const bigInt = fc
  .tuple(fc.boolean(), fc.integer({ min: 1, max: 9 }), fc.stringMatching(/^\d{14,25}$/))
  .map(([neg, d, rest]) => `${neg ? '-' : ''}${d}${rest}`);
const number = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
  bigInt,
  fc.constantFrom(
    '0',
    '-0',
    '1e400',
    '9007199254740993',
    '-9007199254740993',
    '1.5e-7',
    '12345678901234567.5',
  ),
);
const stringText = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: 'binary', maxLength: 8 }).map((s) => JSON.stringify(s)),
  bigInt.map((n) => `"${n}"`),
  fc
    .array(fc.constantFrom('a', 'bcd', '\\\\', '\\"', '\\n', 'é', '😀', '\\u0041', ' '), { maxLength: 40 })
    .map((xs) => `"${xs.join('')}"`),
  fc.constantFrom(
    '"\\u00e9\\ud83d\\ude00"',
    '"a\\\\"',
    '"\\"\\\\\\/\\b\\f\\n\\r\\t"',
    '"\\\\\\""',
    '"\\u0000"',
  ),
);

/** Strings of 0 to ~300 characters, escapes anywhere (the guard reads short and long ones apart). */
const longString = fc
  .array(
    fc.constantFrom(
      'abcdefghijklmnopqrstuvwxyz0123456789',
      'x',
      'y'.repeat(31),
      'z'.repeat(32),
      '\\\\',
      '\\"',
      '\\u0041',
      'é',
    ),
    {
      maxLength: 16,
    },
  )
  .map((xs) => `"${xs.join('')}"`);

/** JSON-ish text: mostly valid, with duplicate keys, big integers and whitespace anywhere. */
const { value: jsonText } = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    number,
    stringText,
    fc.constantFrom('true', 'false', 'null'),
    fc
      .array(fc.tuple(ws, tie('value'), ws), { maxLength: 6 })
      .map((xs) => `[${xs.map(([a, v, b]) => a + v + b).join(',')}]`),
    fc
      .array(fc.tuple(ws, fc.oneof(keyText, keyText, fc.constant('a')), ws, tie('value')), { maxLength: 6 })
      .map((xs) => `{${xs.map(([a, k, b, v]) => `${a}${JSON.stringify(k)}${b}:${v}`).join(',')}}`),
  ),
}));

const NOISE = [
  '"',
  '\\',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '0',
  '9',
  '-',
  'e',
  '.',
  ' ',
  'x',
  '\u0001',
  'é',
  'u',
];

/** A text, possibly broken: truncated, a character replaced, inserted or deleted. */
const text = fc.oneof(
  jsonText,
  jsonText,
  fc.tuple(jsonText, fc.nat()).map(([t, n]) => t.slice(0, n % (t.length + 1))),
  fc.tuple(jsonText, fc.nat(), fc.constantFrom(...NOISE)).map(([t, n, c]) => {
    const i = n % (t.length + 1);
    return t.slice(0, i) + c + t.slice(i + 1);
  }),
  fc.tuple(jsonText, fc.nat(), fc.constantFrom(...NOISE)).map(([t, n, c]) => {
    const i = n % (t.length + 1);
    return t.slice(0, i) + c + t.slice(i);
  }),
  fc.tuple(fc.integer({ min: 1, max: 40 }), jsonText).map(([d, t]) => '['.repeat(d) + t + ']'.repeat(d)),
  jsonText.map((t) => `{"kind":"EventList","items":${t}}`),
  fc.array(jsonText, { maxLength: 8 }).map((xs) => `{"apiVersion":"v1","items":[${xs.join(',')}],"x":1}`),
  fc.array(jsonText, { maxLength: 8 }).map((xs) => `[${xs.join(',')}]`),
  fc.array(longString, { maxLength: 8 }).map((xs) => `[${xs.join(',')}]`),
  fc
    .array(fc.tuple(longString, longString), { maxLength: 4 })
    .map((xs) => `{${xs.map(([k, v]) => `${k}:${v}`).join(',')}}`),
);

/** Limits: the defaults, or low ones that generated texts reach. */
const limits: fc.Arbitrary<Partial<JsonLimits>> = fc.oneof(
  fc.constant({}),
  fc.constant({ batchKey: 'items' }),
  fc.record(
    {
      maxDepth: fc.integer({ min: 1, max: 8 }),
      maxNumberLength: fc.integer({ min: 1, max: 24 }),
      maxStringLength: fc.integer({ min: 0, max: 120 }),
      maxKeys: fc.integer({ min: 0, max: 5 }),
      maxItems: fc.integer({ min: 0, max: 6 }),
      batchKey: fc.constantFrom(undefined, 'items', 'a'),
    },
    { requiredKeys: [] },
  ),
);

type Outcome =
  | { value: unknown }
  | { code: string; offset: number; item: number | undefined; message: string };

function outcome(run: () => unknown): Outcome {
  try {
    return { value: run() };
  } catch (err) {
    if (!(err instanceof JsonError) && !(err instanceof OldJsonError)) throw err;
    return { code: err.code, offset: err.offset, item: err.item, message: err.message };
  }
}

function drain<T>(g: Generator<void, T, void>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

describe('JSON parser: same results and refusals as the oracle', () => {
  it('parses generated texts (valid and broken, any limits, any slice size) exactly as before', () => {
    fc.assert(
      fc.property(text, limits, fc.constantFrom(1 << 17, 1, 7, 64), (t, lim, slice) => {
        const want = outcome(() => drain(oldParseJsonSteps(t, lim)));
        const got = outcome(() => drain(parseJsonSteps(t, lim, slice)));
        expect(got).toEqual(want);
      }),
      { numRuns: RUNS, seed: 0x11_0001 },
    );
  });
});

describe('fastScan: the reader scan pass, or undefined where it throws', () => {
  it('finds the same batch array, element spans, key counts and big integers', () => {
    fc.assert(
      fc.property(text, limits, fc.constantFrom(1 << 17, 1, 5), (t, lim, slice) => {
        const full = { ...DEFAULT_JSON_LIMITS, ...lim };
        const got = drain(fastScan(t, full, slice));
        const want = outcome(() => {
          const r = new OldJsonReader(t, full, false);
          r.step(Number.POSITIVE_INFINITY);
          r.finish();
          const { spans, outside, batchDepth, batchStart, batchEnd } = r;
          return { spans, outside, batchDepth, batchStart, batchEnd };
        });
        if ('value' in want) expect(got).toEqual(want.value);
        else expect(got).toBeUndefined();
      }),
      { numRuns: RUNS, seed: 0x11_0003 },
    );
  });
});

/** The guards' outcomes for `t` fed in chunks cut at `cuts`. */
function guardOutcomes(t: string, lim: Partial<JsonLimits>, cuts: number[]): [Outcome, Outcome] {
  const bytes = Buffer.from(t, 'utf8');
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    chunks.push(bytes.subarray(prev, c));
    prev = c;
  }
  const oldGuard = new OldJsonByteGuard(lim);
  const newGuard = new JsonByteGuard(lim);
  return [
    outcome(() => chunks.map((c) => newGuard.push(c)).length),
    outcome(() => chunks.map((c) => oldGuard.push(c)).length),
  ];
}

describe('JSON byte guard: same refusals as the oracle', () => {
  it('refuses generated bodies at the same byte, whatever the chunking', () => {
    fc.assert(
      fc.property(text, limits, fc.array(fc.nat(), { maxLength: 6 }), (t, lim, cuts) => {
        const [got, want] = guardOutcomes(t, lim, cuts);
        expect(got).toEqual(want);
      }),
      { numRuns: RUNS, seed: 0x11_0002 },
    );
  });

  it('finds the same string ends (then commas) in arrays of long strings with escapes', () => {
    const lim = fc.record({
      maxItems: fc.integer({ min: 1, max: 8 }),
      maxStringLength: fc.integer({ min: 4, max: 120 }),
    });
    const body = fc.array(longString, { minLength: 1, maxLength: 10 }).map((xs) => `[${xs.join(',')}]`);
    fc.assert(
      fc.property(body, lim, fc.array(fc.nat(), { maxLength: 4 }), (t, l, cuts) => {
        const [got, want] = guardOutcomes(t, l, cuts);
        expect(got).toEqual(want);
      }),
      { numRuns: RUNS, seed: 0x11_0004 },
    );
  });
});
