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
 * (core/json-reader.ts: fastScan, or the reader's scan for the precise error) that stops at the
 * first character past a limit. Only after that pass accepted the whole text is it turned into
 * values: a top-level array of up to 1 Mi characters by one native JSON.parse (an element with
 * a 16+ digit integer parsed again with the integers put back exactly), other batch elements
 * (a top-level object's `batchKey` array) in groups of up to 1 Mi characters through JSON.parse
 * when they hold no 16+ digit integer; everything else, and any element that lost a duplicate
 * key, through the exact iterative reader. The work is a generator that pauses after every
 * slice of about `sliceChars` characters, so an I/O layer can yield to its event loop between
 * slices (parseJsonSteps); parseJson runs it to the end at once.
 */
import { toBase64 } from './bytes.js';
import type { CborValue } from './cbor.js';
import { fastScan, type JsonLimits, JsonReader, type ScanResult, type Span } from './json-reader.js';

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
  const scan = (yield* fastScan(text, lim, sliceChars)) ?? (yield* slowScan(text, lim, sliceChars));
  if (scan.batchStart < 0) return yield* single(text, lim, scan.outside, sliceChars);
  const items = yield* batchItems(text, lim, scan, sliceChars);
  if (scan.batchDepth === 1) return items;
  // An object around the batch (an EventList): the rest of it, with its batch array emptied.
  const rest = `${text.slice(0, scan.batchStart)}[]${text.slice(scan.batchEnd)}`;
  const obj = (yield* single(rest, lim, scan.outside, sliceChars)) as Record<string, CborValue>;
  obj[lim.batchKey!] = items;
  return obj;
}

/**
 * The reader's scan pass, after fastScan found the text malformed or past a limit: it throws
 * the precise error (offset, code, item), or returns what fastScan would have.
 */
function* slowScan(text: string, lim: JsonLimits, slice: number): Generator<void, ScanResult, void> {
  const scan = new JsonReader(text, lim, false);
  while (!scan.step(scan.pos + slice)) yield;
  scan.finish();
  return scan;
}

/** One whole document: native JSON.parse when that is exact and small, else the exact reader. */
function* single(text: string, lim: JsonLimits, info: Span, slice: number): Generator<void, CborValue, void> {
  if (!info.big && text.length <= NATIVE_MAX_CHARS) {
    const v = nativeParseCounted(text, info.keys);
    if (v !== undefined) return v;
  }
  return yield* exact(text, lim, 0, text.length, 0, undefined, slice);
}

/** The batch array's elements, in groups of up to NATIVE_MAX_CHARS characters. */
function* batchItems(
  text: string,
  lim: JsonLimits,
  scan: ScanResult,
  slice: number,
): Generator<void, CborValue[], void> {
  const spans = scan.spans;
  // A top-level array small enough: one native parse of the whole text, no group copies. If it
  // throws, some element is invalid and the groups below find which, as before.
  const whole = scan.batchDepth === 1 && text.length <= NATIVE_MAX_CHARS ? nativeParse(text) : undefined;
  if (whole !== undefined) return yield* checkedItems(text, lim, scan, whole.value as CborValue[], slice);
  const items: CborValue[] = [];
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

/**
 * The batch elements of a natively parsed top-level array: each as JSON.parse gave it (one
 * with a big integer parsed again, see withBigIntegers), unless it lost a duplicate key (fewer
 * keys than written) or cannot be read that way, then the exact reader's.
 */
function* checkedItems(
  text: string,
  lim: JsonLimits,
  scan: ScanResult,
  native: CborValue[],
  slice: number,
): Generator<void, CborValue[], void> {
  const spans = scan.spans;
  const items: CborValue[] = new Array(spans.length);
  for (let k = 0; k < spans.length; k++) {
    const sp = spans[k]!;
    const v = sp.big ? withBigIntegers(text.slice(sp.start, sp.end)) : native[k]!;
    if (v !== undefined && countKeys(v) === sp.keys) items[k] = v;
    else items[k] = yield* exact(text, lim, sp.start, sp.end, scan.batchDepth, k, slice);
  }
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

/** A string literal, or a number literal of valid JSON text (outside strings, only these hold `"` or digits). */
const LITERAL = /"[^"\\]*(?:\\[\s\S][^"\\]*)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * A valid JSON element holding integers of 16+ digits, natively parsed and exact: each such
 * integer is replaced by a marker string ("\u0000" and its index) before JSON.parse and the
 * marker by the integer after (number if safe, else bigint, as the exact reader gives it).
 * Undefined (the caller uses the exact reader) if the text already holds a `\u0000` escape,
 * which could be taken for a marker, or does not parse.
 */
function withBigIntegers(element: string): CborValue | undefined {
  if (element.includes('\\u0000')) return undefined;
  const ints: string[] = [];
  const marked = element.replace(LITERAL, (t) => {
    const c = t.charCodeAt(0);
    if (c === 0x22 || t.length - (c === 0x2d ? 1 : 0) < 16 || /[.eE]/.test(t)) return t;
    ints.push(t);
    return `"\\u0000${ints.length - 1}"`;
  });
  const parsed = nativeParse(marked);
  return parsed && unmark(parsed.value, ints);
}

/** The integer a marker string stands for, or undefined if `x` is not a marker. */
function marker(x: CborValue, ints: string[]): number | bigint | undefined {
  if (typeof x !== 'string' || x.charCodeAt(0) !== 0) return undefined;
  const t = ints[Number(x.slice(1))]!;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : BigInt(t);
}

/** `v` with every marker string (withBigIntegers) replaced by its integer, in place. */
function unmark(v: CborValue, ints: string[]): CborValue {
  const m = marker(v, ints);
  if (m !== undefined) return m;
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, CborValue>;
  for (const k of Object.keys(o)) {
    const x = o[k]!;
    const y = x !== null && typeof x === 'object' ? unmark(x, ints) : marker(x, ints);
    // defineProperty: a "__proto__" key is data (as JSON.parse made it), not the prototype.
    if (y !== undefined && y !== x)
      Object.defineProperty(o, k, { value: y, enumerable: true, writable: true, configurable: true });
  }
  return v;
}

/**
 * JSON.parse's value of `text` if it holds exactly `keys` object keys (the number written in the
 * text, counted by the caller: fewer means JSON.parse dropped a duplicate), else undefined, also
 * when JSON.parse throws. Exact only for a text the caller knows holds no integer JSON.parse
 * could round and is within the limits: the parser's own native path checks the same way.
 */
export function nativeParseCounted(text: string, keys: number): CborValue | undefined {
  const v = nativeParse(text);
  return v !== undefined && countKeys(v.value) === keys ? v.value : undefined;
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
