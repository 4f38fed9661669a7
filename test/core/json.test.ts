/**
 * Lossless JSON: integers beyond 2^53 survive exactly (as bigint), everything else parses as
 * JSON.parse does, depth is limited with a clear error, and stringifyJson writes it all back.
 */
import { describe, expect, test } from 'vitest';
import { JsonError, parseJson, parseJsonSteps, stringifyJson } from '../../src/core/json.js';
import { JsonByteGuard } from '../../src/core/json-guard.js';

describe('parseJson', () => {
  test('integers beyond 2^53 become exact bigints, wherever they are', () => {
    expect(parseJson('1750000000123456789')).toBe(1750000000123456789n);
    expect(parseJson('-9007199254740993')).toBe(-9007199254740993n);
    expect(parseJson('[1, 9007199254740993, {"a": [18446744073709551617]}]')).toEqual([
      1,
      9007199254740993n,
      { a: [18446744073709551617n] },
    ]);
    // Safe integers and floats stay numbers; exponent forms are floats.
    expect(parseJson('[9007199254740991, 1.5, 1e300, -0.25, 1E2]')).toEqual([
      9007199254740991, 1.5, 1e300, -0.25, 100,
    ]);
  });

  test('only the array elements holding big integers are re-parsed, with tricky strings around them', () => {
    const text =
      '[{"s":"a,b]}[{\\"q\\"","n":1},\n{"t":"\\\\","big":12345678901234567890}\n,{"x":[1,2,{"y":"}"}]},{"big2":-12345678901234567890}]';
    expect(parseJson(text)).toEqual([
      { s: 'a,b]}[{"q"', n: 1 },
      { t: '\\', big: 12345678901234567890n },
      { x: [1, 2, { y: '}' }] },
      { big2: -12345678901234567890n },
    ]);
  });

  test('agrees with JSON.parse on ordinary documents, including OPA-style events', () => {
    const docs = [
      '{"labels":{"id":"x","version":"1.4.2"},"decision_id":"d","input":{"path":"/a?b\\u0026c"},"result":true,"metrics":{"timer_ns":595821}}',
      '[]',
      '{}',
      '"\\ud83d\\ude00 \\u00fc"',
      'null',
      ' [ true , false , null ] ',
    ];
    for (const d of docs) expect(parseJson(d)).toEqual(JSON.parse(d));
  });

  test('a "__proto__" key is plain data', () => {
    const v = parseJson('[{"__proto__":{"polluted":1}}, 12345678901234567890]') as Record<string, unknown>[];
    expect(Object.keys(v[0]!)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const w = parseJson('{"__proto__": 9007199254740993}') as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(w, '__proto__')?.value).toBe(9007199254740993n);
  });

  test('nesting past the limit is a JsonError, even past what JSON.parse can take', () => {
    expect(() => parseJson(`${'['.repeat(11)}${']'.repeat(11)}`, { maxDepth: 10 })).toThrow(JsonError);
    expect(parseJson(`${'['.repeat(10)}${']'.repeat(10)}`, { maxDepth: 10 })).toBeDefined();
    expect(() => parseJson(`[${'{"a":'.repeat(20)}1${'}'.repeat(20)}]`, { maxDepth: 10 })).toThrow(
      /nesting deeper/,
    );
    expect(() => parseJson(`${'['.repeat(200_000)}${']'.repeat(200_000)}`)).toThrow(JsonError);
  });

  test('invalid JSON is a JsonError with the offset', () => {
    for (const bad of ['', '{', '[1,]', '{"a" 1}', '"\\x"', '"a\nb"', '01', '[1] 2', 'tru', '-']) {
      expect(() => parseJson(bad), bad).toThrow(JsonError);
    }
    expect(() => parseJson('[1, @]')).toThrow(/offset 4/);
  });
});

/** The JsonError a parse throws (fails the test if it does not throw one). */
function refusal(text: string, limits: Parameters<typeof parseJson>[1] = {}): JsonError {
  try {
    parseJson(text, limits);
  } catch (err) {
    if (err instanceof JsonError) return err;
    throw err;
  }
  throw new Error(`accepted: ${text.slice(0, 80)}`);
}

describe('parseJson: one meaning per input (issue 15 part 4)', () => {
  test('a long integer is exact whatever else the document holds (was Infinity alone, bigint next to 2^53+1)', () => {
    const digits = `1${'0'.repeat(399)}`;
    const big = BigInt(digits);
    expect(parseJson(digits)).toBe(big);
    expect(parseJson(`[{"n":${digits}}]`)).toEqual([{ n: big }]);
    expect(parseJson(`[{"n":${digits},"m":9007199254740993}]`)).toEqual([{ n: big, m: 9007199254740993n }]);
    expect(parseJson(`{"n":-${digits}}`)).toEqual({ n: -big });
    expect(parseJson('[18446744073709551616, 9007199254740993]')).toEqual([
      18446744073709551616n,
      9007199254740993n,
    ]);
    // Floats stay floats, the same way on both paths.
    expect(parseJson(`[1e400, 1.5, -0, ${digits}.0]`)).toEqual([
      Number.POSITIVE_INFINITY,
      1.5,
      -0,
      Number.POSITIVE_INFINITY,
    ]);
  });

  test('duplicate keys are refused with duplicate_key, the element index and the key, at any depth', () => {
    const e = refusal('{"decision_id":"a","decision_id":"b"}');
    expect(e.code).toBe('duplicate_key');
    expect(e.message).toMatch(/"decision_id"/);
    const batch = refusal('[{"a":1},{"b":{"c":1,"c":2}},{"d":1}]');
    expect(batch.code).toBe('duplicate_key');
    expect(batch.item).toBe(1);
    expect(refusal('[{"a":1,"n":12345678901234567890,"a":2}]').item).toBe(0); // the exact path too
    expect(refusal('{"kind":"EventList","kind":"x","items":[]}', { batchKey: 'items' }).code).toBe(
      'duplicate_key',
    );
    expect(refusal('{"__proto__":1,"__proto__":2}').code).toBe('duplicate_key');
    // The same key in different objects is fine.
    expect(parseJson('[{"a":1},{"a":2}]')).toEqual([{ a: 1 }, { a: 2 }]);
  });
});

describe('parseJson: limits applied while reading (issue 15 part 2)', () => {
  test('a number literal over the limit is refused at once (60 million digits: no 10 s stall)', () => {
    const t0 = performance.now();
    const e = refusal(`[{"n":${'9'.repeat(60_000_000)}}]`);
    expect(e.code).toBe('number_too_long');
    expect(e.item).toBe(0);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(parseJson('9'.repeat(1000))).toBe(BigInt('9'.repeat(1000)));
    expect(refusal('9'.repeat(1001)).code).toBe('number_too_long');
    expect(refusal('1'.repeat(11), { maxNumberLength: 10 }).code).toBe('number_too_long');
  });

  test('strings, keys per object, depth and batch elements have limits too', () => {
    expect(refusal(`["${'a'.repeat(11)}"]`, { maxStringLength: 10 }).code).toBe('string_too_long');
    expect(parseJson(`["${'a'.repeat(10)}"]`, { maxStringLength: 10 })).toEqual(['a'.repeat(10)]);
    expect(refusal('{"a":1,"b":2,"c":3}', { maxKeys: 2 }).code).toBe('too_many_keys');
    expect(refusal('[1,2,3]', { maxItems: 2 }).code).toBe('too_many_items');
    expect(parseJson('[1,2]', { maxItems: 2 })).toEqual([1, 2]);
    expect(refusal('{"items":[{},{},{}]}', { maxItems: 2, batchKey: 'items' }).code).toBe('too_many_items');
    expect(parseJson('{"other":[{},{},{}]}', { maxItems: 2, batchKey: 'items' })).toEqual({
      other: [{}, {}, {}],
    });
    const t0 = performance.now();
    expect(refusal('['.repeat(16 * 1024 * 1024)).code).toBe('too_deep');
    expect(performance.now() - t0).toBeLessThan(500);
  });

  test('paused every few characters, the result is the same value', () => {
    const docs = [
      '[{"a":[1,{"b":"x\\u00e9\\"y"}],"big":123456789012345678901},{"c":null},true,-0.5,"s"]',
      '{"kind":"EventList","items":[{"auditID":"1","n":18446744073709551617},{"auditID":"2"}],"x":[1]}',
      '{"a":{"b":[1,2,3]},"n":-9007199254740993}',
      ' [ ] ',
    ];
    for (const d of docs) {
      for (const slice of [1, 3, 7, 64]) {
        const steps = parseJsonSteps(d, { batchKey: 'items' }, slice);
        let r = steps.next();
        let pauses = 0;
        while (!r.done) {
          pauses++;
          r = steps.next();
        }
        expect(r.value, `${d} / ${slice}`).toEqual(parseJson(d, { batchKey: 'items' }));
        if (slice === 1) expect(pauses).toBeGreaterThan(1);
      }
    }
  });

  test('grammar errors are found by the reading pass, as JSON.parse would', () => {
    for (const bad of [
      '[1 2]',
      '{"a":1 "b":2}',
      '[1,,2]',
      '{"a":}',
      '[1]]',
      '{"a":1,}',
      '"\\u12"',
      'nul',
      '1.',
      '-',
      '[01]',
    ]) {
      expect(() => parseJson(bad), bad).toThrow(JsonError);
      expect(() => JSON.parse(bad), bad).toThrow();
    }
  });
});

describe('JsonByteGuard: the pre-check of the bytes as they arrive', () => {
  const guarded = (text: string, limits: Parameters<typeof parseJson>[1] = {}, chunk = 3) => {
    const g = new JsonByteGuard(limits);
    const bytes = new TextEncoder().encode(text);
    for (let i = 0; i < bytes.length; i += chunk) g.push(bytes.subarray(i, i + chunk));
  };
  test('refuses at the first byte past a limit, across chunk boundaries', () => {
    const at = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return [(e as JsonError).code, (e as JsonError).offset];
      }
      return undefined;
    };
    expect(at(() => guarded(`[${'9'.repeat(5000)}`, { maxNumberLength: 1000 }))).toEqual([
      'number_too_long',
      1001,
    ]);
    expect(at(() => guarded('['.repeat(1000), { maxDepth: 128 }))).toEqual(['too_deep', 128]);
    expect(at(() => guarded('[1,2,3,4]', { maxItems: 3 }))).toEqual(['too_many_items', 6]);
  });
  test('never refuses what the parser accepts under the same limits', () => {
    const docs = [
      `[{"s":"${'x'.repeat(50)}, ][[[ \\" 99999999","n":${'1'.repeat(20)}},{"e":1e5,"t":true,"f":false}]`,
      `{"items":[1,2,3,4,5],"a":[[["é€😀"]]]}`,
      `[${'['.repeat(9)}${']'.repeat(9)}]`,
    ];
    const limits = { maxDepth: 10, maxNumberLength: 20, maxItems: 2, maxStringLength: 100 };
    for (const d of docs) {
      expect(() => parseJson(d, limits), d).not.toThrow();
      for (const chunk of [1, 2, 7, 1000]) expect(() => guarded(d, limits, chunk), d).not.toThrow();
    }
  });
});

describe('stringifyJson', () => {
  test('writes bigints exactly and round-trips through parseJson', () => {
    const text = '{"a":[1,-2.5,"x\\"y",null,true,12345678901234567890],"b":{"c":-9007199254740993}}';
    const v = parseJson(text);
    expect(stringifyJson(v)).toBe(text);
    expect(stringifyJson(new Uint8Array([1, 2, 3]))).toBe('"AQID"');
    expect(stringifyJson(Number.NaN)).toBe('null');
  });
});
