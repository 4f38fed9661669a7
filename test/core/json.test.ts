/**
 * Lossless JSON: integers beyond 2^53 survive exactly (as bigint), everything else parses as
 * JSON.parse does, depth is limited with a clear error, and stringifyJson writes it all back.
 */
import { describe, expect, test } from 'vitest';
import { JsonError, parseJson, stringifyJson } from '../../src/core/json.js';

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

describe('stringifyJson', () => {
  test('writes bigints exactly and round-trips through parseJson', () => {
    const text = '{"a":[1,-2.5,"x\\"y",null,true,12345678901234567890],"b":{"c":-9007199254740993}}';
    const v = parseJson(text);
    expect(stringifyJson(v)).toBe(text);
    expect(stringifyJson(new Uint8Array([1, 2, 3]))).toBe('"AQID"');
    expect(stringifyJson(Number.NaN)).toBe('null');
  });
});
