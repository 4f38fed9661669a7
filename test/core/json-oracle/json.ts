// TEST ORACLE: a verbatim copy of src/core/json.ts as of commit aaa4e95 (before the issue-11 speedups),
// unchanged except the import paths of cbor.js/bytes.js. test/core/json-equivalence.test.ts checks
// that the current parser and byte guard give exactly its results and refusals. Do not edit.
/**
 * Lossless, bounded JSON parsing for audit data: every route that parses JSON goes through
 * here. JSON.parse rounds integers beyond 2^53 (OPA writes `time.now_ns` results and arbitrary
 * user integers exactly), and an audit log must commit to what it was sent: such integers are
 * returned as `bigint`, of any length up to the number limit, wherever they are and whatever
 * else the document holds. Duplicate object keys are refused (`duplicate_key`): JSON.parse
 * keeps the last one, so the same bytes could mean two things to two readers. A `__proto__`
 * key is an ordinary own property, as with JSON.parse.
 *
 * Limits (JsonLimits, DEFAULT_JSON_LIMITS) are enforced while reading, by one linear pass
 * (core/json-reader.ts) that stops at the first character past a limit. Only after that pass
 * accepted the whole text is it turned into values: groups of batch elements (the top-level
 * array, or a top-level object's `batchKey` array) of up to 1 Mi characters through the native
 * JSON.parse (fast) when they hold no 16+ digit integer, everything else through the exact
 * iterative reader. The work is a generator that pauses after every slice of about
 * `sliceChars` characters, so an I/O layer can yield to its event loop between slices
 * (parseJsonSteps); parseJson runs it to the end at once.
 */
import { toBase64 } from '../../../src/core/bytes.js';
import type { CborValue } from '../../../src/core/cbor.js';
import { type JsonLimits, JsonReader, type Span } from './json-reader.js';

export { JsonError, type JsonErrorCode, type JsonLimits } from './json-reader.js';

/**
 * Default limits. Numbers: 1000 characters (2^64 has 20 digits; OPA, Go and Kubernetes never
 * write more than ~25, and converting 1000 digits to a bigint takes microseconds, while 60
 * million took seconds). Strings: 16 MiB (more than any Kubernetes object). Keys: 100,000 per
 * object. Depth 512 (the CBOR encoder's own limit). Batch elements: unlimited (routes set it).
 */
export const DEFAULT_JSON_LIMITS: Readonly<JsonLimits> = {
  maxDepth: 512,
  maxNumberLength: 1000,
  maxStringLength: 16 * 1024 * 1024,
  maxKeys: 100_000,
  maxItems: Number.POSITIVE_INFINITY,
  batchKey: undefined,
};

/** Characters read between two pauses of parseJsonSteps. */
export const JSON_SLICE_CHARS = 1 << 17;

/**
 * Largest text given to the native JSON.parse at once (a group of batch elements, or a whole
 * document): native parsing is several times faster than the exact reader, so a few ms at a
 * time is worth it; larger texts go through the exact reader, which pauses.
 */
const NATIVE_MAX_CHARS = 1 << 20;

/**
 * Parses JSON text within `limits` (missing ones default): integers outside the safe range
 * become bigint; throws JsonError (with a stable `code`, and `item` = the batch element) on
 * invalid JSON, a duplicate key, or a limit exceeded. Same result as parseJsonSteps.
 */
export function parseJson(text: string, limits: Partial<JsonLimits> = {}): CborValue {
  const steps = parseJsonSteps(text, limits);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * parseJson as a generator that pauses (yields) after each slice of about `sliceChars`
 * characters of work, and returns the value: the caller decides what to do between slices
 * (e.g. let other requests run). A body is refused at the first character past a limit.
 */
export function* parseJsonSteps(
  text: string,
  limits: Partial<JsonLimits> = {},
  sliceChars = JSON_SLICE_CHARS,
): Generator<void, CborValue, void> {
  const lim: JsonLimits = { ...DEFAULT_JSON_LIMITS, ...limits };
  const scan = new JsonReader(text, lim, false);
  while (!scan.step(scan.pos + sliceChars)) yield;
  scan.finish();
  if (scan.batchStart < 0) return yield* single(text, lim, scan.outside, sliceChars);
  const items = yield* batchItems(text, lim, scan, sliceChars);
  if (scan.batchDepth === 1) return items;
  // An object around the batch (an EventList): the rest of it, with its batch array emptied.
  const rest = `${text.slice(0, scan.batchStart)}[]${text.slice(scan.batchEnd)}`;
  const obj = (yield* single(rest, lim, scan.outside, sliceChars)) as Record<string, CborValue>;
  obj[lim.batchKey!] = items;
  return obj;
}

/** One whole document: native JSON.parse when that is exact and small, else the exact reader. */
function* single(text: string, lim: JsonLimits, info: Span, slice: number): Generator<void, CborValue, void> {
  if (!info.big && text.length <= NATIVE_MAX_CHARS) {
    const v = nativeParse(text);
    if (v !== undefined && countKeys(v.value) === info.keys) return v.value;
  }
  return yield* exact(text, lim, 0, text.length, 0, undefined, slice);
}

/** The batch array's elements, in groups of up to NATIVE_MAX_CHARS characters. */
function* batchItems(
  text: string,
  lim: JsonLimits,
  scan: JsonReader,
  slice: number,
): Generator<void, CborValue[], void> {
  const items: CborValue[] = [];
  const spans = scan.spans;
  let first = 0;
  const flush = function* (upTo: number): Generator<void, void, void> {
    if (first < upTo) {
      const group = nativeParse(`[${text.slice(spans[first]!.start, spans[upTo - 1]!.end)}]`);
      for (let k = first; k < upTo; k++) {
        const v = (group?.value as CborValue[] | undefined)?.[k - first];
        const sp = spans[k]!;
        if (v !== undefined && countKeys(v) === sp.keys) items.push(v);
        else items.push(yield* exact(text, lim, sp.start, sp.end, scan.batchDepth, k, slice));
      }
      yield;
    }
    first = upTo;
  };
  for (let k = 0; k < spans.length; k++) {
    const sp = spans[k]!;
    if (sp.big || sp.end - sp.start > NATIVE_MAX_CHARS) {
      yield* flush(k);
      items.push(yield* exact(text, lim, sp.start, sp.end, scan.batchDepth, k, slice));
      first = k + 1;
    } else if (sp.end - spans[first]!.start > NATIVE_MAX_CHARS) yield* flush(k + 1);
  }
  yield* flush(spans.length);
  return items;
}

/** The exact reader over text[start, end), pausing every `slice` characters. */
function* exact(
  text: string,
  lim: JsonLimits,
  start: number,
  end: number,
  depth: number,
  item: number | undefined,
  slice: number,
): Generator<void, CborValue, void> {
  const r = new JsonReader(text, lim, true, start, end, depth, item);
  while (!r.step(r.pos + slice)) yield;
  return r.finish();
}

/** JSON.parse, or undefined if it throws (the exact reader then reports the error precisely). */
function nativeParse(text: string): { value: CborValue } | undefined {
  try {
    return { value: JSON.parse(text) as CborValue };
  } catch {
    return undefined;
  }
}

/** Keys of every object in a parsed value: fewer than were written means a duplicate was dropped. */
function countKeys(v: CborValue): number {
  if (v === null || typeof v !== 'object') return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v as CborValue[]) if (x !== null && typeof x === 'object') n += countKeys(x);
    return n;
  }
  for (const k in v as Record<string, CborValue>) {
    n++;
    const x = (v as Record<string, CborValue>)[k]!;
    if (x !== null && typeof x === 'object') n += countKeys(x);
  }
  return n;
}

/**
 * JSON text of a decoded payload, lossless: bigint is written as its exact digits (which
 * JSON.stringify cannot do), Uint8Array as a base64 string, non-finite floats as null.
 */
export function stringifyJson(v: CborValue | undefined): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
  }
  if (v instanceof Uint8Array) return JSON.stringify(toBase64(v));
  if (Array.isArray(v)) return `[${v.map((x) => stringifyJson(x)).join(',')}]`;
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
  return `{${entries.map(([k, x]) => `${JSON.stringify(String(k))}:${stringifyJson(x as CborValue)}`).join(',')}}`;
}
