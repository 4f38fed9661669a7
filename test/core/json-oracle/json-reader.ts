// TEST ORACLE: a verbatim copy of src/core/json-reader.ts as of commit aaa4e95 (before the issue-11 speedups),
// unchanged except the import paths of cbor.js/bytes.js. test/core/json-equivalence.test.ts checks
// that the current parser and byte guard give exactly its results and refusals. Do not edit.
/**
 * The bounded JSON reader behind core/json.ts: one iterative (never recursive) pass over JSON
 * text that validates the grammar exactly and enforces every size limit as it reads (number
 * literal length, string length, nesting depth, keys per object, elements of the batch array),
 * so a hostile body is refused at the first character past a limit, whatever follows. It can
 * stop at any point and resume (`step`), which lets a caller yield between slices of a large
 * body. In scan mode it builds nothing and records where each batch element lies (checking
 * structure, but leaving the inside of strings and numbers to the second pass, which reads
 * every element again); in build mode it validates everything and constructs the value exactly
 * (integers beyond 2^53 as bigint, duplicate keys refused).
 */
import type { CborObject, CborValue } from '../../../src/core/cbor.js';

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
    const max = start + this.#lim.maxNumberLength;
    const s = this.#s;
    let j = start;
    let integer = true;
    for (; j < this.#end; j++) {
      const c = s.charCodeAt(j);
      if (c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b) integer = false;
      else if (!((c >= 0x30 && c <= 0x39) || c === 0x2d)) break;
      if (j >= max)
        this.#fail(`number longer than ${this.#lim.maxNumberLength} characters`, 'number_too_long', start);
    }
    if (j === start) this.#fail('unexpected character');
    this.#i = j;
    if (integer && j - start - (s.charCodeAt(start) === 0x2d ? 1 : 0) >= 16)
      (this.#cur ?? this.outside).big = true;
    return 0;
  }

  /** Scan mode: the string's extent and length limit (escapes are checked later, as numbers). */
  #skipString(): string {
    const s = this.#s;
    const start = ++this.#i;
    let j = start;
    for (;;) {
      j = s.indexOf('"', j);
      if (j < 0 || j >= this.#end) {
        j = -1;
        break;
      }
      let b = j - 1;
      while (s.charCodeAt(b) === 0x5c) b--;
      if ((j - 1 - b) % 2 === 0) break; // an even run of backslashes: the closing quote
      j++;
    }
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
