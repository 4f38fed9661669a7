/**
 * The bounded JSON reader behind core/json.ts: one iterative (never recursive) pass over JSON
 * text that validates the grammar exactly and enforces every size limit as it reads (number
 * literal length, string length, nesting depth, keys per object, elements of the batch array),
 * so a hostile body is refused at the first character past a limit, whatever follows. It can
 * stop at any point and resume (`step`), which lets a caller yield between slices of a large
 * body. In scan mode it builds nothing and records where each batch element lies (checking
 * structure, but leaving the inside of strings and numbers to the second pass, which reads
 * every element again); in build mode it validates everything and constructs the value exactly
 * (integers beyond 2^53 as bigint, duplicate keys refused). fastScan is the scan mode as one
 * tight loop, for the common case of a text the scan accepts.
 */
import type { CborObject, CborValue } from './cbor.js';

/** Stable codes of JSON refusals: malformed text, or a limit exceeded. */
export type JsonErrorCode =
  | 'invalid_json'
  | 'too_deep'
  | 'number_too_long'
  | 'string_too_long'
  | 'too_many_keys'
  | 'too_many_items'
  | 'duplicate_key';

/** Error with a stable code, the character offset, and the batch element it is in (if any). */
export class JsonError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly code: JsonErrorCode = 'invalid_json',
    /** 0-based index of the batch-array element holding the problem. */
    readonly item?: number,
  ) {
    super(`${message} at offset ${offset}`);
    this.name = 'JsonError';
  }
}

/** Limits applied while reading; see DEFAULT_JSON_LIMITS in json.ts for the defaults. */
export interface JsonLimits {
  /** Deepest array/object nesting. */
  maxDepth: number;
  /** Longest number literal, in characters (sign, digits, fraction and exponent). */
  maxNumberLength: number;
  /** Longest string (key or value), in characters of the JSON text between its quotes. */
  maxStringLength: number;
  /** Most keys in one object. */
  maxKeys: number;
  /** Most elements in the batch array (the top-level array, or the object's `batchKey` array). */
  maxItems: number;
  /** When the document is an object, the key of its batch array (Kubernetes: "items"). */
  batchKey: string | undefined;
}

/** Where a batch element lies in the text, and what the fast path must know about it. */
export interface Span {
  start: number;
  end: number;
  /** Object keys written inside it (JSON.parse drops duplicates: a lower count reveals one). */
  keys: number;
  /** Holds an integer literal of 16+ digits (JSON.parse may round it). */
  big: boolean;
}

enum Want {
  Value,
  ValueOrClose,
  KeyOrClose,
  Key,
  Colon,
  CommaOrClose,
  End,
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids raw control characters in strings; this run stops at them.
const PLAIN_STRING = /[^"\\\u0000-\u001f]*/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

type Container = CborValue[] | CborObject;

export class JsonReader {
  #i: number;
  readonly #s: string;
  readonly #end: number;
  readonly #lim: JsonLimits;
  readonly #build: boolean;
  readonly #base: number;
  readonly #item: number | undefined;
  #want = Want.Value;
  readonly #objs: boolean[] = [];
  readonly #keyCounts: number[] = [];
  readonly #vals: Container[] = [];
  readonly #keys: string[] = [];
  #result: CborValue = null;
  // Scan mode: the batch array and its elements.
  readonly spans: Span[] = [];
  readonly outside: Span = { start: 0, end: 0, keys: 0, big: false };
  #cur: Span | undefined;
  #batchKeyNext = false;
  batchDepth = -1;
  batchStart = -1;
  batchEnd = -1;

  /** Reads s[start, end) as one JSON value nested `base` levels deep; `build` constructs it. */
  constructor(
    s: string,
    lim: JsonLimits,
    build: boolean,
    start = 0,
    end = s.length,
    base = 0,
    item?: number,
  ) {
    this.#s = s;
    this.#lim = lim;
    this.#build = build;
    this.#i = start;
    this.#end = end;
    this.#base = base;
    this.#item = item;
  }

  get pos(): number {
    return this.#i;
  }

  /** Reads on until offset `until` (a token may run past it); true once the end is reached. */
  step(until: number): boolean {
    const stop = Math.min(until, this.#end);
    while (this.#i < stop) {
      const c = this.#s.charCodeAt(this.#i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.#i++;
      else this.#token(c);
    }
    return this.#i >= this.#end;
  }

  /** The value read; throws unless the text held exactly one complete value. */
  finish(): CborValue {
    if (this.#want !== Want.End) this.#fail('unexpected end of JSON');
    return this.#result;
  }

  #token(c: number): void {
    const w = this.#want;
    const obj = this.#objs[this.#objs.length - 1] === true;
    if (w === Want.Value || w === Want.ValueOrClose) {
      if (c === 0x5d && w === Want.ValueOrClose) this.#close();
      else this.#value(c);
    } else if (w === Want.KeyOrClose || w === Want.Key) {
      if (c === 0x7d && w === Want.KeyOrClose) this.#close();
      else if (c === 0x22) this.#key();
      else this.#fail('expected a string key');
    } else if (w === Want.Colon) {
      if (c !== 0x3a) this.#fail("expected ':'");
      this.#i++;
      this.#want = Want.Value;
    } else if (w === Want.CommaOrClose) {
      if (c === 0x2c) {
        this.#i++;
        this.#want = obj ? Want.Key : Want.Value;
      } else if (c === (obj ? 0x7d : 0x5d)) this.#close();
      else this.#fail(obj ? "expected ',' or '}'" : "expected ',' or ']'");
    } else this.#fail('unexpected data after the JSON value');
  }

  #value(c: number): void {
    this.#beginValue();
    if (c === 0x7b || c === 0x5b) {
      this.#open(c === 0x7b);
      return;
    }
    let v: CborValue;
    if (c === 0x22) v = this.#string();
    else if (c === 0x74) v = this.#literal('true', true);
    else if (c === 0x66) v = this.#literal('false', false);
    else if (c === 0x6e) v = this.#literal('null', null);
    else v = this.#number();
    this.#put(v);
  }

  #open(obj: boolean): void {
    const n = this.#objs.length;
    if (this.#base + n + 1 > this.#lim.maxDepth)
      this.#fail(`nesting deeper than ${this.#lim.maxDepth}`, 'too_deep');
    const batch = !obj && this.batchStart < 0 && !this.#build && (n === 0 || (n === 1 && this.#batchKeyNext));
    this.#objs.push(obj);
    this.#keyCounts.push(0);
    if (this.#build) this.#vals.push(obj ? {} : []);
    this.#i++;
    this.#want = obj ? Want.KeyOrClose : Want.ValueOrClose;
    if (batch) {
      this.batchDepth = n + 1;
      this.batchStart = this.#i - 1;
    }
  }

  #close(): void {
    const n = this.#objs.length;
    this.#objs.pop();
    this.#keyCounts.pop();
    this.#i++;
    if (n === this.batchDepth && this.batchEnd < 0 && this.batchStart >= 0) this.batchEnd = this.#i;
    this.#put(this.#build ? this.#vals.pop()! : null);
  }

  /** A value starts: in scan mode, a batch element may start here. */
  #beginValue(): void {
    if (this.#build || this.#objs.length !== this.batchDepth || this.batchEnd >= 0) return;
    if (this.spans.length >= this.#lim.maxItems) {
      this.#fail(`more than ${this.#lim.maxItems} elements`, 'too_many_items');
    }
    this.#cur = { start: this.#i, end: 0, keys: 0, big: false };
  }

  /** A value is complete: attach it to its container, end a batch element, move on. */
  #put(v: CborValue): void {
    const n = this.#objs.length;
    if (this.#build) {
      if (n === 0) this.#result = v;
      else if (this.#objs[n - 1]) {
        // defineProperty: a "__proto__" key must be data, not the prototype (as JSON.parse does).
        Object.defineProperty(this.#vals[n - 1]!, this.#keys[n - 1]!, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else (this.#vals[n - 1] as CborValue[]).push(v);
    } else if (this.#cur && n === this.batchDepth && this.batchEnd < 0) {
      this.#cur.end = this.#i;
      this.spans.push(this.#cur);
      this.#cur = undefined;
    }
    this.#want = n === 0 ? Want.End : Want.CommaOrClose;
  }

  #key(): void {
    const at = this.#i;
    const k = this.#string();
    const n = this.#objs.length;
    if (++this.#keyCounts[n - 1]! > this.#lim.maxKeys) {
      this.#fail(`more than ${this.#lim.maxKeys} keys in one object`, 'too_many_keys', at);
    }
    (this.#cur ?? this.outside).keys++;
    if (this.#build) {
      if (Object.hasOwn(this.#vals[n - 1]!, k))
        this.#fail(`duplicate key ${JSON.stringify(k)}`, 'duplicate_key', at);
      this.#keys[n - 1] = k;
    } else if (n === 1) {
      const bk = this.#lim.batchKey;
      this.#batchKeyNext = bk !== undefined && this.#s.slice(at + 1, this.#i - 1) === bk;
    }
    this.#want = Want.Colon;
  }

  #literal<T extends CborValue>(word: string, v: T): T {
    if (!this.#s.startsWith(word, this.#i) || this.#i + word.length > this.#end)
      this.#fail('invalid literal');
    this.#i += word.length;
    return v;
  }

  #number(): number | bigint {
    if (!this.#build) return this.#skipNumber();
    const start = this.#i;
    const max = start + this.#lim.maxNumberLength;
    let j = start;
    let integer = true;
    for (; j < this.#end; j++) {
      const c = this.#s.charCodeAt(j);
      if (c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b) integer = false;
      else if (!((c >= 0x30 && c <= 0x39) || c === 0x2d)) break;
      if (j >= max)
        this.#fail(`number longer than ${this.#lim.maxNumberLength} characters`, 'number_too_long', start);
    }
    const t = this.#s.slice(start, j);
    if (t === '') this.#fail('unexpected character');
    if (!NUMBER.test(t)) this.#fail('invalid number');
    this.#i = j;
    // 16+ digits may be beyond 2^53: JSON.parse would round it, so the exact path reads it.
    if (integer && t.length - (t.charCodeAt(0) === 0x2d ? 1 : 0) >= 16)
      (this.#cur ?? this.outside).big = true;
    if (!integer) return Number(t);
    const n = Number(t);
    return Number.isSafeInteger(n) ? n : BigInt(t);
  }

  /**
   * Scan mode: the number's extent, length limit and whether it may be a big integer. Its
   * syntax is checked later, by JSON.parse or the exact reader, which read every element.
   */
  #skipNumber(): 0 {
    const start = this.#i;
    const j = numberRun(this.#s, start, this.#end, this.#lim.maxNumberLength);
    if (j < 0)
      this.#fail(`number longer than ${this.#lim.maxNumberLength} characters`, 'number_too_long', start);
    if (j === start) this.#fail('unexpected character');
    this.#i = j;
    if (bigInteger(this.#s, start, j)) (this.#cur ?? this.outside).big = true;
    return 0;
  }

  /** Scan mode: the string's extent and length limit (escapes are checked later, as numbers). */
  #skipString(): string {
    const start = ++this.#i;
    const j = closingQuote(this.#s, start, this.#end);
    if ((j < 0 ? this.#end : j) - start > this.#lim.maxStringLength) {
      this.#fail(`string longer than ${this.#lim.maxStringLength} characters`, 'string_too_long', start - 1);
    }
    if (j < 0) this.#fail('unterminated string', 'invalid_json', this.#end);
    this.#i = j + 1;
    return '';
  }

  #string(): string {
    if (!this.#build) return this.#skipString();
    const start = ++this.#i; // past the opening quote
    let out = '';
    for (;;) {
      PLAIN_STRING.lastIndex = this.#i;
      const run = PLAIN_STRING.exec(this.#s)![0];
      if (this.#build) out += run;
      this.#i += run.length;
      if (this.#i - start > this.#lim.maxStringLength) {
        this.#fail(
          `string longer than ${this.#lim.maxStringLength} characters`,
          'string_too_long',
          start - 1,
        );
      }
      const c = this.#s[this.#i];
      if (c === '"' && this.#i < this.#end) {
        this.#i++;
        return out;
      }
      if (c === undefined || this.#i >= this.#end) this.#fail('unterminated string');
      if (c !== '\\') this.#fail('control character in string');
      out += this.#escape();
    }
  }

  /** The character an escape sequence at the cursor stands for (advancing past it). */
  #escape(): string {
    const e = this.#s[this.#i + 1] ?? '';
    const simple = ESCAPES[e];
    if (simple !== undefined) {
      this.#i += 2;
      return simple;
    }
    if (e !== 'u') this.#fail('invalid escape');
    const hex = this.#s.slice(this.#i + 2, this.#i + 6);
    if (!HEX4.test(hex)) this.#fail('invalid \\u escape');
    this.#i += 6;
    return String.fromCharCode(Number.parseInt(hex, 16));
  }

  #fail(message: string, code: JsonErrorCode = 'invalid_json', at = this.#i): never {
    let item = this.#item;
    if (item === undefined && this.#cur) item = this.spans.length;
    throw new JsonError(message, at, code, item);
  }
}

/**
 * Index of the quote closing a string whose contents start at `start` (the first quote not
 * escaped by an odd run of backslashes), or -1 if there is none before `end`.
 */
function closingQuote(s: string, start: number, end: number): number {
  let j = start;
  for (;;) {
    j = s.indexOf('"', j);
    if (j < 0 || j >= end) return -1;
    let b = j - 1;
    while (s.charCodeAt(b) === 0x5c) b--;
    if ((j - 1 - b) % 2 === 0) return j; // an even run of backslashes: the closing quote
    j++;
  }
}

/**
 * End of the run of number characters (digits, `-+.eE`) from `start`, or -1 as soon as it is
 * longer than `maxLength` (the scan checks its syntax no further: a second pass reads it).
 */
function numberRun(s: string, start: number, end: number, maxLength: number): number {
  const max = start + maxLength;
  let j = start;
  for (; j < end; j++) {
    const c = s.charCodeAt(j);
    if (!((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b))
      break;
    if (j >= max) return -1;
  }
  return j;
}

/** Whether the number run s[start, j) is an integer of 16+ digits (JSON.parse may round it). */
function bigInteger(s: string, start: number, j: number): boolean {
  if (j - start - (s.charCodeAt(start) === 0x2d ? 1 : 0) < 16) return false;
  for (let k = start; k < j; k++) {
    const c = s.charCodeAt(k);
    if (c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b) return false;
  }
  return true;
}

/** What the scan pass found: the batch array's place and elements, and the rest of the text. */
export interface ScanResult {
  readonly spans: Span[];
  readonly outside: Span;
  batchDepth: number;
  batchStart: number;
  batchEnd: number;
}

/**
 * End of the scalar value starting at s[i] (first character `c`) as the scan pass reads it, -1
 * where JsonReader's scan would throw; marks `span` when it is a big integer.
 */
function scalarEnd(s: string, i: number, c: number, lim: JsonLimits, span: Span): number {
  if (c === 0x22) {
    const j = closingQuote(s, i + 1, s.length);
    return j < 0 || j - i - 1 > lim.maxStringLength ? -1 : j + 1;
  }
  if (c === 0x74) return s.startsWith('true', i) ? i + 4 : -1;
  if (c === 0x66) return s.startsWith('false', i) ? i + 5 : -1;
  if (c === 0x6e) return s.startsWith('null', i) ? i + 4 : -1;
  const j = numberRun(s, i, s.length, lim.maxNumberLength);
  if (j <= i) return -1;
  if (bigInteger(s, i, j)) span.big = true;
  return j;
}

/** A batch element starting at `start` (or the text outside the batch array: 0). */
function span(start: number): Span {
  return { start, end: 0, keys: 0, big: false };
}

/**
 * fastScan opens an object or array at s[i] (JsonReader's #open): false if too deep; records
 * the batch array if this is it (top level, or the array of the batch key at depth 1).
 */
function open(
  r: ScanResult,
  objs: boolean[],
  keys: number[],
  lim: JsonLimits,
  i: number,
  obj: boolean,
  keyNext: boolean,
): boolean {
  const n = objs.length;
  if (n + 1 > lim.maxDepth) return false;
  if (!obj && r.batchStart < 0 && (n === 0 || (n === 1 && keyNext))) {
    r.batchDepth = n + 1;
    r.batchStart = i;
  }
  objs.push(obj);
  keys.push(0);
  return true;
}

/**
 * The scan pass of JsonReader (scan mode over a whole text) as one tight loop, several times
 * faster (the reader's per-token dispatch dominated an OPA body's parse): for a text the reader
 * accepts, it returns exactly the reader's ScanResult; where the reader would throw (malformed
 * text or a limit passed) it returns undefined, and the caller rescans with JsonReader, which
 * reports the precise error. Pauses after about every `slice` characters. (At the loop's end a
 * value is complete, as in the reader's #put: a batch element may end there.)
 */
export function* fastScan(
  s: string,
  lim: JsonLimits,
  slice: number,
): Generator<void, ScanResult | undefined> {
  const r: ScanResult = { spans: [], outside: span(0), batchDepth: -1, batchStart: -1, batchEnd: -1 };
  const objs: boolean[] = [];
  const keys: number[] = [];
  const bk = lim.batchKey;
  let cur: Span | undefined;
  let keyNext = false;
  let want = Want.Value;
  let pause = slice;
  for (let i = 0; i < s.length; ) {
    if (i >= pause) {
      yield;
      pause = i + slice;
    }
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      i++;
      continue;
    }
    let n = objs.length;
    let close = true; // `}` or `]`, unless a value is read below
    if (want === Want.Colon) {
      if (c !== 0x3a) return undefined;
      i++;
      want = Want.Value;
      continue;
    }
    if (want === Want.Key || want === Want.KeyOrClose) {
      if (c === 0x22) {
        const j = closingQuote(s, i + 1, s.length);
        if (j < 0 || j - i - 1 > lim.maxStringLength || ++keys[n - 1]! > lim.maxKeys) return undefined;
        (cur ?? r.outside).keys++;
        if (n === 1) keyNext = bk !== undefined && j - i - 1 === bk.length && s.startsWith(bk, i + 1);
        i = j + 1;
        want = Want.Colon;
        continue;
      }
      if (c !== 0x7d || want === Want.Key) return undefined;
    } else if (want === Want.CommaOrClose) {
      if (c === 0x2c) {
        i++;
        want = objs[n - 1] ? Want.Key : Want.Value;
        continue;
      }
      if (c !== (objs[n - 1] ? 0x7d : 0x5d)) return undefined;
    } else if (want === Want.End) return undefined;
    else if (c !== 0x5d || want === Want.Value) {
      if (n === r.batchDepth && r.batchEnd < 0) {
        if (r.spans.length >= lim.maxItems) return undefined;
        cur = span(i);
      }
      if (c === 0x7b || c === 0x5b) {
        if (!open(r, objs, keys, lim, i++, c === 0x7b, keyNext)) return undefined;
        want = c === 0x7b ? Want.KeyOrClose : Want.ValueOrClose;
        continue;
      }
      i = scalarEnd(s, i, c, lim, cur ?? r.outside);
      if (i < 0) return undefined;
      close = false;
    }
    if (close) {
      objs.pop();
      keys.pop();
      i++;
      if (n === r.batchDepth && r.batchEnd < 0 && r.batchStart >= 0) r.batchEnd = i;
      n--;
    }
    if (cur && n === r.batchDepth && r.batchEnd < 0) {
      cur.end = i;
      r.spans.push(cur);
      cur = undefined;
    }
    want = n === 0 ? Want.End : Want.CommaOrClose;
  }
  return want === Want.End ? r : undefined;
}
