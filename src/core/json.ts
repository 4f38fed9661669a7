/**
 * Lossless JSON parsing for audit data. JSON.parse rounds integers beyond 2^53 (OPA writes
 * `time.now_ns` results and arbitrary user integers exactly), and an audit log must commit to
 * what it was sent. This parser returns such integers as `bigint`; everything else is what
 * JSON.parse returns. The common case (no integer literal of 16+ digits anywhere) takes the
 * native JSON.parse fast path.
 *
 * Other guarantees: nesting is limited (default 512) with a clear error instead of a stack
 * overflow; a `__proto__` key is an ordinary own property, as with JSON.parse.
 */
import { toBase64 } from './bytes.js';
import type { CborValue } from './cbor.js';

/** Error with the character offset where parsing failed. */
export class JsonError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
    this.name = 'JsonError';
  }
}

export interface JsonOptions {
  /** Deepest array/object nesting accepted (default 512). */
  maxDepth?: number;
}

/**
 * Parses JSON text; integers outside the safe range become bigint. Throws JsonError on
 * invalid JSON or nesting deeper than `maxDepth`.
 *
 * Fast path: native JSON.parse, then a walk that looks for integers JSON.parse may have
 * rounded. Only if there are any is text re-parsed with the lossless parser, and for a
 * top-level array only the elements concerned (OPA batches carry a big `time.now_ns` in a
 * few events, not in all).
 */
export function parseJson(text: string, opts: JsonOptions = {}): CborValue {
  const maxDepth = opts.maxDepth ?? 512;
  // A large body nested past the limit goes straight to the bounded parser: JSON.parse would
  // spend seconds on megabytes of '[' before failing. (Brackets inside strings count too,
  // which can only send a legitimate body to the slower, exact path.)
  if (text.length > 1 << 20 && deeperThan(text, maxDepth)) return new Parser(text, maxDepth).parseDocument();
  let v: CborValue;
  try {
    v = JSON.parse(text) as CborValue;
  } catch {
    return new Parser(text, maxDepth).parseDocument(); // a precise error (or depth, or bigints)
  }
  if (Array.isArray(v)) {
    const elements = v as CborValue[];
    let flagged: number[] | undefined;
    for (let i = 0; i < elements.length; i++) {
      const r = inspect(elements[i], 1, maxDepth);
      if (r === 'deep') return new Parser(text, maxDepth).parseDocument();
      if (r === 'lossy') {
        flagged ??= [];
        flagged.push(i);
      }
    }
    if (!flagged) return v;
    const bounds = arrayElementBounds(text);
    for (const i of flagged) {
      const [a, b] = bounds[i]!;
      elements[i] = new Parser(text.slice(a, b), maxDepth - 1).parseDocument();
    }
    return v;
  }
  return inspect(v, 0, maxDepth) === 'ok' ? v : new Parser(text, maxDepth).parseDocument();
}

/** True if bracket nesting anywhere in `text` exceeds `max`. */
function deeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** 'lossy' if a value holds an integer JSON.parse may have rounded; 'deep' past maxDepth. */
function inspect(v: CborValue | undefined, depth: number, max: number): 'ok' | 'lossy' | 'deep' {
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v) ? 'lossy' : 'ok';
  if (v === null || typeof v !== 'object') return 'ok';
  if (depth + 1 > max) return 'deep';
  let out: 'ok' | 'lossy' = 'ok';
  const values = Array.isArray(v) ? (v as CborValue[]) : Object.values(v as Record<string, CborValue>);
  for (const x of values) {
    const r = inspect(x, depth + 1, max);
    if (r === 'deep') return r;
    if (r === 'lossy') out = r;
  }
  return out;
}

/** [start, end) of each element of a top-level JSON array (the text is known to be valid JSON). */
function arrayElementBounds(text: string): [number, number][] {
  const out: [number, number][] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth === 1) start = i + 1;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0 && text.slice(start, i).trim() !== '') out.push([start, i]);
    } else if (c === 0x2c && depth === 1) {
      out.push([start, i]);
      start = i + 1;
    }
  }
  return out;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids raw control characters in strings; this run stops at them.
const PLAIN_STRING = /[^"\\\u0000-\u001f]*/y;

class Parser {
  #i = 0;
  readonly #s: string;
  readonly #max: number;

  constructor(s: string, max: number) {
    this.#s = s;
    this.#max = max;
  }

  parseDocument(): CborValue {
    this.#ws();
    const v = this.#value(0);
    this.#ws();
    if (this.#i !== this.#s.length) throw new JsonError('unexpected data after the JSON value', this.#i);
    return v;
  }

  #ws(): void {
    while (this.#i < this.#s.length && WS.has(this.#s.charCodeAt(this.#i))) this.#i++;
  }

  #value(depth: number): CborValue {
    const c = this.#s[this.#i];
    if (c === '{') return this.#object(depth + 1);
    if (c === '[') return this.#array(depth + 1);
    if (c === '"') return this.#string();
    if (c === 't') return this.#literal('true', true);
    if (c === 'f') return this.#literal('false', false);
    if (c === 'n') return this.#literal('null', null);
    return this.#number();
  }

  #literal<T extends CborValue>(word: string, v: T): T {
    if (!this.#s.startsWith(word, this.#i)) throw new JsonError('invalid literal', this.#i);
    this.#i += word.length;
    return v;
  }

  #number(): number | bigint {
    NUMBER.lastIndex = this.#i;
    const m = NUMBER.exec(this.#s);
    if (!m || m[0].length === 0 || m[0] === '-') throw new JsonError('unexpected character', this.#i);
    this.#i += m[0].length;
    const t = m[0];
    if (!/[.eE]/.test(t)) {
      const n = Number(t);
      if (!Number.isSafeInteger(n)) return BigInt(t);
      return n;
    }
    return Number(t);
  }

  #string(): string {
    this.#i++; // opening quote
    let out = '';
    for (;;) {
      PLAIN_STRING.lastIndex = this.#i;
      const m = PLAIN_STRING.exec(this.#s)!;
      out += m[0];
      this.#i += m[0].length;
      const c = this.#s[this.#i];
      if (c === '"') {
        this.#i++;
        return out;
      }
      if (c === undefined) throw new JsonError('unterminated string', this.#i);
      if (c !== '\\') throw new JsonError('control character in string', this.#i);
      const e = this.#s[this.#i + 1];
      this.#i += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = this.#s.slice(this.#i, this.#i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JsonError('invalid \\u escape', this.#i);
          out += String.fromCharCode(Number.parseInt(hex, 16));
          this.#i += 4;
          break;
        }
        default:
          throw new JsonError('invalid escape', this.#i - 1);
      }
    }
  }

  #array(depth: number): CborValue[] {
    if (depth > this.#max) throw new JsonError(`nesting deeper than ${this.#max}`, this.#i);
    this.#i++;
    const out: CborValue[] = [];
    this.#ws();
    if (this.#s[this.#i] === ']') {
      this.#i++;
      return out;
    }
    for (;;) {
      this.#ws();
      out.push(this.#value(depth));
      this.#ws();
      const c = this.#s[this.#i++];
      if (c === ']') return out;
      if (c !== ',') throw new JsonError("expected ',' or ']'", this.#i - 1);
    }
  }

  #object(depth: number): { [k: string]: CborValue } {
    if (depth > this.#max) throw new JsonError(`nesting deeper than ${this.#max}`, this.#i);
    this.#i++;
    const out: { [k: string]: CborValue } = {};
    this.#ws();
    if (this.#s[this.#i] === '}') {
      this.#i++;
      return out;
    }
    for (;;) {
      this.#ws();
      if (this.#s[this.#i] !== '"') throw new JsonError('expected a string key', this.#i);
      const k = this.#string();
      this.#ws();
      if (this.#s[this.#i++] !== ':') throw new JsonError("expected ':'", this.#i - 1);
      this.#ws();
      // defineProperty: a "__proto__" key must be data, not the prototype (as JSON.parse does).
      Object.defineProperty(out, k, {
        value: this.#value(depth),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.#ws();
      const c = this.#s[this.#i++];
      if (c === '}') return out;
      if (c !== ',') throw new JsonError("expected ',' or '}'", this.#i - 1);
    }
  }
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
