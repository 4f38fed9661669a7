/**
 * Deterministic CBOR: RFC 8949 §4.2.1 "core deterministic encoding requirements", hand-written
 * so that one value has exactly one byte string. Browser-safe (no Buffer, no node:*).
 *
 * Encoding rules (the spec, `spec/entry-format.md`, is normative):
 * - integers (major types 0/1) with the shortest head; integers outside ±2^64 as tag 2/3
 *   bignums whose content has no leading zero byte;
 * - JavaScript numbers that are integral and within [-2^64, 2^64-1] are integers: JS cannot
 *   tell `1.0` from `1`, so JSON's `1.0` and `1` become the same CBOR;
 * - every other number (fractions, -0, NaN, ±Infinity, huge integral values) as the shortest
 *   of float16 / float32 / float64 that holds it exactly; NaN is always `f9 7e00`;
 * - definite lengths only; map keys sorted by the bytewise order of their encodings;
 * - text must be valid Unicode (a lone surrogate cannot be UTF-8 and is rejected).
 *
 * The encoder writes into one reused, growing buffer and allocates only the result, plus, per
 * map, its key list and an array of key encodings (cached for short keys): it is on the ingest
 * hot path (~200-290k OPA events of ~720 B JSON per second on a 2-vCPU EPYC, Node 20).
 */
import type { ByteSlab } from './bytes.js';
import { hasLoneSurrogate, isSafeUint } from './check.js';

/** A value the deterministic encoder accepts and the decoder returns. */
export type CborValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | readonly CborValue[]
  | CborObject
  | ReadonlyMap<CborMapKey, CborValue>;

/** A text-keyed map given as a plain object (prototype `Object.prototype` or `null`). */
export interface CborObject {
  [key: string]: CborValue;
}

/** Keys allowed in a `Map` value: text or a safe integer. */
export type CborMapKey = string | number;

/** Stable machine-readable reasons for a `CborError`. */
export type CborErrorCode =
  | 'invalid_argument'
  | 'unsupported_type'
  | 'invalid_string'
  | 'invalid_key'
  | 'duplicate_key'
  | 'cycle'
  | 'depth_exceeded'
  | 'truncated'
  | 'trailing_bytes'
  | 'malformed'
  | 'indefinite_length'
  | 'unsupported_tag'
  | 'unsupported_simple'
  | 'invalid_utf8'
  | 'not_deterministic';

/** Error thrown by the encoder and decoder; `code` is stable, `message` is for humans. */
export class CborError extends Error {
  /** Stable reason code. */
  readonly code: CborErrorCode;
  constructor(code: CborErrorCode, message: string) {
    super(`cbor: ${message}`);
    this.name = 'CborError';
    this.code = code;
  }
}

/** Options of `encodeDeterministic` and `decodeDeterministic`. */
export interface CborOptions {
  /** Maximum nesting of arrays and maps (a scalar at the top is depth 0). Default 512. */
  maxDepth?: number;
  /**
   * Encoding only: return the bytes as a view into this slab instead of their own buffer
   * (a hot path that encodes many short-lived values; see ByteSlab for what a view implies).
   */
  slab?: ByteSlab;
}

/** Default maximum nesting depth of arrays and maps. */
export const DEFAULT_MAX_DEPTH = 512;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const TWO32 = 2 ** 32;
const TWO64 = 2 ** 64;
const MAX_SAFE_BIG = BigInt(MAX_SAFE);
const TWO64_BIG = 1n << 64n;
const INITIAL_SIZE = 16 * 1024;
/** Buffers that grew beyond this are dropped after use instead of kept for the next call. */
const KEEP_SIZE = 1024 * 1024;
/** Short map keys have their encoding cached (bounded: keys come from untrusted input). */
const KEY_CACHE_MAX_ENTRIES = 4096;
const KEY_CACHE_MAX_LENGTH = 64;
/** Strings at least this long go through TextEncoder.encodeInto instead of a JS loop. */
const LONG_STRING = 48;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const keyCache = new Map<string, Uint8Array>();
const hasOwn = Object.prototype.hasOwnProperty;
/** Longest key arrays the encoder keeps between objects (longer ones are let go after use). */
const SCRATCH_KEEP = 256;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') {
    const ctor = (v as { constructor?: { name?: unknown } }).constructor;
    return typeof ctor?.name === 'string' && ctor.name !== '' ? `an instance of ${ctor.name}` : 'an object';
  }
  return typeof v;
}

function checkOptions(opts: CborOptions | undefined): number {
  const d = opts?.maxDepth;
  if (d === undefined) return DEFAULT_MAX_DEPTH;
  if (!isSafeUint(d)) {
    throw new CborError('invalid_argument', `maxDepth must be a non-negative integer, got ${String(d)}`);
  }
  return d;
}

/** UTF-8 length of `s`, or -1 if it holds a lone surrogate. */
function utf8Length(s: string): number {
  const n = s.length;
  let len = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) len += 1;
    else if (c < 0xd800 || c > 0xdfff) len += 2;
    else if (c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d < 0xdc00 || d > 0xdfff) return -1;
      len += 2; // 4 bytes for 2 code units
      i++;
    } else return -1;
  }
  return len;
}

function badString(): CborError {
  return new CborError(
    'invalid_string',
    'text contains a lone surrogate (not valid Unicode, cannot be UTF-8)',
  );
}

/** float16 bits of the float32 with bits `b` if that conversion is exact, else -1. */
function halfBits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : -1;
  if (exp === 0) return mant === 0 ? sign : -1; // float32 subnormals are far below float16's range
  const e = exp - 127;
  if (e > 15) return -1;
  if (e >= -14) return (mant & 0x1fff) === 0 ? sign | ((e + 15) << 10) | (mant >>> 13) : -1;
  if (e < -24) return -1;
  const sig = mant | 0x800000;
  const shift = -e - 1; // float16 subnormal: sig * 2^(e-23) = m * 2^-24
  return (sig & ((1 << shift) - 1)) === 0 ? sign | (sig >>> shift) : -1;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

class Encoder {
  buf: Uint8Array = new Uint8Array(INITIAL_SIZE);
  view: DataView = new DataView(this.buf.buffer);
  pos = 0;
  depth = 0;
  maxDepth = DEFAULT_MAX_DEPTH;
  /** Containers on the current path, only read to tell a cycle from deep nesting. */
  stack: unknown[] = [];
  highWater = 0;
  busy = false;
  /** Per depth: the current object's keys and their encodings (see object()). */
  keysAt: string[][] = [];
  encsAt: Uint8Array[][] = [];

  run(value: CborValue, maxDepth: number, slab?: ByteSlab): Uint8Array {
    this.pos = 0;
    this.depth = 0;
    this.maxDepth = maxDepth;
    this.highWater = 0;
    try {
      this.value(value);
      return slab ? slab.copy(this.buf.subarray(0, this.pos)) : this.buf.slice(0, this.pos);
    } finally {
      const stack = this.stack; // do not retain the caller's objects
      for (let i = 0; i < this.highWater; i++) stack[i] = undefined;
      if (this.buf.length > KEEP_SIZE) {
        this.buf = new Uint8Array(INITIAL_SIZE);
        this.view = new DataView(this.buf.buffer);
      }
    }
  }

  grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }

  /** Head of major type `mt` (already shifted: 0x00, 0x20, ...) with argument 0 <= n < 2^64. */
  head(mt: number, n: number): void {
    if (this.pos + 9 > this.buf.length) this.grow(9);
    const buf = this.buf;
    const p = this.pos;
    if (n < 24) {
      buf[p] = mt | n;
      this.pos = p + 1;
    } else if (n < 0x100) {
      buf[p] = mt | 24;
      buf[p + 1] = n;
      this.pos = p + 2;
    } else if (n < 0x10000) {
      buf[p] = mt | 25;
      buf[p + 1] = n >>> 8;
      buf[p + 2] = n & 0xff;
      this.pos = p + 3;
    } else if (n < TWO32) {
      buf[p] = mt | 26;
      this.view.setUint32(p + 1, n);
      this.pos = p + 5;
    } else {
      buf[p] = mt | 27;
      const hi = Math.floor(n / TWO32); // exact: n is an integer below 2^64
      this.view.setUint32(p + 1, hi);
      this.view.setUint32(p + 5, n - hi * TWO32);
      this.pos = p + 9;
    }
  }

  value(v: CborValue): void {
    switch (typeof v) {
      case 'string':
        this.text(v);
        return;
      case 'number':
        this.number(v);
        return;
      case 'boolean':
        this.byte(v ? 0xf5 : 0xf4);
        return;
      case 'bigint':
        this.bigint(v);
        return;
      case 'object':
        if (v === null) this.byte(0xf6);
        else this.container(v);
        return;
      default:
        throw new CborError('unsupported_type', `cannot encode ${typeof v}`);
    }
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = b;
  }

  number(v: number): void {
    if (Number.isInteger(v)) {
      if (v > 0 || (v === 0 && 1 / v > 0)) {
        if (v < TWO64) {
          this.head(0x00, v);
          return;
        }
      } else if (v < 0) {
        if (v >= -MAX_SAFE) {
          this.head(0x20, -1 - v);
          return;
        }
        if (v >= -TWO64) {
          this.bigint(BigInt(v)); // -1 - v is not exact in a double here
          return;
        }
      }
    }
    this.float(v);
  }

  float(v: number): void {
    if (this.pos + 9 > this.buf.length) this.grow(9);
    const buf = this.buf;
    const p = this.pos;
    if (Number.isNaN(v)) {
      buf[p] = 0xf9;
      buf[p + 1] = 0x7e;
      buf[p + 2] = 0x00;
      this.pos = p + 3;
      return;
    }
    if (Math.fround(v) === v) {
      this.view.setFloat32(p + 1, v);
      const h = halfBits(this.view.getUint32(p + 1));
      if (h >= 0) {
        buf[p] = 0xf9;
        buf[p + 1] = h >>> 8;
        buf[p + 2] = h & 0xff;
        this.pos = p + 3;
      } else {
        buf[p] = 0xfa;
        this.pos = p + 5;
      }
      return;
    }
    buf[p] = 0xfb;
    this.view.setFloat64(p + 1, v);
    this.pos = p + 9;
  }

  bigint(v: bigint): void {
    let mt = 0x00;
    let n = v;
    if (v < 0n) {
      mt = 0x20;
      n = -1n - v;
    }
    if (n <= MAX_SAFE_BIG) {
      this.head(mt, Number(n));
    } else if (n < TWO64_BIG) {
      if (this.pos + 9 > this.buf.length) this.grow(9);
      this.buf[this.pos] = mt | 27;
      this.view.setBigUint64(this.pos + 1, n);
      this.pos += 9;
    } else {
      this.byte(mt === 0 ? 0xc2 : 0xc3); // tag 2 / tag 3
      let hex = n.toString(16);
      if (hex.length % 2 === 1) hex = `0${hex}`;
      const len = hex.length / 2;
      this.head(0x40, len);
      if (this.pos + len > this.buf.length) this.grow(len);
      for (let i = 0; i < len; i++) this.buf[this.pos + i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
      this.pos += len;
    }
  }

  text(s: string): void {
    const n = s.length;
    if (n >= LONG_STRING) {
      this.longText(s);
      return;
    }
    const len = utf8Length(s);
    if (len < 0) throw badString();
    this.head(0x60, len);
    if (this.pos + len > this.buf.length) this.grow(len);
    const buf = this.buf;
    let p = this.pos;
    if (len === n) {
      for (let i = 0; i < n; i++) buf[p + i] = s.charCodeAt(i);
      this.pos = p + n;
      return;
    }
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) buf[p++] = c;
      else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >>> 6);
        buf[p++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        buf[p++] = 0xe0 | (c >>> 12);
        buf[p++] = 0x80 | ((c >>> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      } else {
        c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00); // pair checked above
        buf[p++] = 0xf0 | (c >>> 18);
        buf[p++] = 0x80 | ((c >>> 12) & 0x3f);
        buf[p++] = 0x80 | ((c >>> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      }
    }
    this.pos = p;
  }

  /** Long text: reserve the head for the worst case (3 bytes per code unit), fix it after. */
  longText(s: string): void {
    if (hasLoneSurrogate(s)) throw badString();
    const max = s.length * 3;
    const hs = max < 0x100 ? 2 : max < 0x10000 ? 3 : max < TWO32 ? 5 : 9;
    if (this.pos + hs + max > this.buf.length) this.grow(hs + max);
    const start = this.pos;
    const { written } = textEncoder.encodeInto(s, this.buf.subarray(start + hs));
    const need = written < 24 ? 1 : written < 0x100 ? 2 : written < 0x10000 ? 3 : written < TWO32 ? 5 : 9;
    if (need !== hs) this.buf.copyWithin(start + need, start + hs, start + hs + written);
    this.head(0x60, written);
    this.pos = start + need + written;
  }

  bytes(b: Uint8Array): void {
    const len = b.length;
    this.head(0x40, len);
    if (this.pos + len > this.buf.length) this.grow(len);
    this.buf.set(b, this.pos);
    this.pos += len;
  }

  enter(v: object): void {
    const d = this.depth;
    if (d >= this.maxDepth) {
      for (let i = 0; i < d; i++) {
        if (this.stack[i] === v) throw new CborError('cycle', 'value contains a reference cycle');
      }
      throw new CborError('depth_exceeded', `nesting deeper than ${this.maxDepth} arrays/maps`);
    }
    this.stack[d] = v;
    this.depth = d + 1;
    if (this.depth > this.highWater) this.highWater = this.depth;
  }

  container(v: object): void {
    if (Array.isArray(v)) {
      this.enter(v);
      const n = v.length;
      this.head(0x80, n);
      for (let i = 0; i < n; i++) {
        const item: CborValue | undefined = v[i];
        if (item === undefined)
          throw new CborError('unsupported_type', `cannot encode undefined (array index ${i})`);
        this.value(item);
      }
      this.depth--;
      return;
    }
    if (v instanceof Uint8Array) {
      this.bytes(v);
      return;
    }
    if (v instanceof Map) {
      this.enter(v);
      this.map(v as ReadonlyMap<unknown, unknown>);
      this.depth--;
      return;
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new CborError('unsupported_type', `cannot encode ${describe(v)}`);
    }
    this.enter(v);
    this.object(v as CborObject);
    this.depth--;
  }

  object(o: CborObject): void {
    // The keys and their encodings in arrays kept per depth, not two new arrays per object:
    // this runs for every object of every decision on the thread that parses uploads.
    const d = this.depth;
    let keys = this.keysAt[d];
    let encs = this.encsAt[d];
    if (keys === undefined || encs === undefined) {
      keys = this.keysAt[d] = [];
      encs = this.encsAt[d] = [];
    }
    let n = 0;
    let long = false;
    for (const k in o) {
      if (!hasOwn.call(o, k)) continue; // own keys only, as Object.keys gives them
      keys[n] = k;
      encs[n++] = keyBytes(k);
      if (k.length > KEY_CACHE_MAX_LENGTH) long = true;
    }
    this.head(0xa0, n);
    if (n > 1) sortKeys(encs, keys, n);
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const e = encs[i]!;
      const len = e.length;
      if (this.pos + len > this.buf.length) this.grow(len);
      const buf = this.buf;
      const p = this.pos;
      if (len <= 16) for (let j = 0; j < len; j++) buf[p + j] = e[j]!;
      else buf.set(e, p);
      this.pos = p + len;
      const item: CborValue | undefined = o[k];
      if (item === undefined)
        throw new CborError('unsupported_type', `cannot encode undefined (key ${JSON.stringify(k)})`);
      this.value(item);
    }
    if (n > SCRATCH_KEEP || long) {
      keys.length = 0; // do not hold a huge object's keys, or long ones, until the next object
      encs.length = 0;
    }
  }

  map(m: ReadonlyMap<unknown, unknown>): void {
    const n = m.size;
    const encs: Uint8Array[] = [];
    const vals: unknown[] = [];
    for (const [k, val] of m) {
      if (typeof k === 'string') encs.push(keyBytes(k));
      else if (typeof k === 'number' && Number.isSafeInteger(k) && !Object.is(k, -0)) encs.push(intBytes(k));
      else
        throw new CborError('invalid_key', `Map keys must be strings or safe integers, got ${describe(k)}`);
      vals.push(val);
    }
    const order = encs.map((_, i) => i).sort((a, b) => compareBytes(encs[a]!, encs[b]!));
    this.head(0xa0, n);
    for (let i = 0; i < n; i++) {
      const e = encs[order[i]!]!;
      if (i > 0 && compareBytes(encs[order[i - 1]!]!, e) === 0) {
        throw new CborError('duplicate_key', 'Map has two keys with the same encoding');
      }
      if (this.pos + e.length > this.buf.length) this.grow(e.length);
      this.buf.set(e, this.pos);
      this.pos += e.length;
      const item = vals[order[i]!];
      if (item === undefined) throw new CborError('unsupported_type', 'cannot encode undefined (Map value)');
      this.value(item as CborValue);
    }
  }
}

/** Sorts `encs[0..n)` bytewise and applies the same permutation to `keys[0..n)`. */
function sortKeys(encs: Uint8Array[], keys: string[], n: number): void {
  if (n <= 16) {
    for (let i = 1; i < n; i++) {
      const e = encs[i]!;
      const k = keys[i]!;
      let j = i - 1;
      while (j >= 0 && compareBytes(encs[j]!, e) > 0) {
        encs[j + 1] = encs[j]!;
        keys[j + 1] = keys[j]!;
        j--;
      }
      encs[j + 1] = e;
      keys[j + 1] = k;
    }
    return;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => compareBytes(encs[a]!, encs[b]!));
  const e2 = order.map((i) => encs[i]!);
  const k2 = order.map((i) => keys[i]!);
  for (let i = 0; i < n; i++) {
    encs[i] = e2[i]!;
    keys[i] = k2[i]!;
  }
}

/** Encoded text-string item of a map key (cached for short keys). */
function keyBytes(k: string): Uint8Array {
  const hit = keyCache.get(k);
  if (hit !== undefined) return hit;
  const len = utf8Length(k);
  if (len < 0) throw badString();
  const body = textEncoder.encode(k);
  const out = new Uint8Array(headSize(len) + len);
  writeHeadTo(out, 0x60, len);
  out.set(body, out.length - len);
  if (k.length <= KEY_CACHE_MAX_LENGTH && keyCache.size < KEY_CACHE_MAX_ENTRIES) keyCache.set(k, out);
  return out;
}

function intBytes(k: number): Uint8Array {
  const mt = k < 0 ? 0x20 : 0x00;
  const n = k < 0 ? -1 - k : k;
  const out = new Uint8Array(headSize(n));
  writeHeadTo(out, mt, n);
  return out;
}

/** Bytes of the head of argument `n` (0 <= n < 2^64): 1, 2, 3, 5 or 9 (shortest form). */
export function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < TWO32 ? 5 : 9;
}

/**
 * Writes the shortest head of major type `mt` (already shifted: 0x00, 0x20, ...) with argument
 * `n` into `out` at `at`; returns the position after it.
 */
export function writeHeadTo(out: Uint8Array, mt: number, n: number, at = 0): number {
  const size = headSize(n);
  out[at] = mt | (size === 1 ? n : size === 2 ? 24 : size === 3 ? 25 : size === 5 ? 26 : 27);
  let rest = n;
  for (let i = size - 1; i >= 1; i--) {
    out[at + i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return at + size;
}

const shared = new Encoder();

/**
 * Encodes `value` as deterministic CBOR (RFC 8949 §4.2.1, see the module comment for the number
 * rules). Accepts null, booleans, numbers, bigints, strings, Uint8Arrays, arrays, plain objects
 * (own enumerable string keys) and Maps with string / safe-integer keys. Throws a `CborError`
 * for anything else: undefined, functions, symbols, other class instances, lone surrogates,
 * reference cycles, nesting deeper than `opts.maxDepth` (default 512).
 */
export function encodeDeterministic(value: CborValue, opts?: CborOptions): Uint8Array {
  const maxDepth = checkOptions(opts);
  const enc = shared.busy ? new Encoder() : shared; // re-entrant use (e.g. from a getter)
  enc.busy = true;
  try {
    return enc.run(value, maxDepth, opts?.slab);
  } finally {
    enc.busy = false;
  }
}

class Decoder {
  readonly b: Uint8Array;
  readonly view: DataView;
  readonly maxDepth: number;
  pos = 0;

  constructor(b: Uint8Array, maxDepth: number) {
    this.b = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.maxDepth = maxDepth;
  }

  need(n: number): void {
    if (n > this.b.length - this.pos) {
      throw new CborError('truncated', `input ends early (need ${n} more bytes at offset ${this.pos})`);
    }
  }

  /** Argument of a head with additional info `ai` (< 28): a number if safe, else a bigint. */
  arg(ai: number, start: number): number | bigint {
    if (ai < 24) return ai;
    let v: number | bigint;
    let min: number;
    if (ai === 24) {
      this.need(1);
      v = this.b[this.pos]!;
      this.pos += 1;
      min = 24;
    } else if (ai === 25) {
      this.need(2);
      v = this.view.getUint16(this.pos);
      this.pos += 2;
      min = 0x100;
    } else if (ai === 26) {
      this.need(4);
      v = this.view.getUint32(this.pos);
      this.pos += 4;
      min = 0x10000;
    } else {
      this.need(8);
      const hi = this.view.getUint32(this.pos);
      const lo = this.view.getUint32(this.pos + 4);
      this.pos += 8;
      v = hi * TWO32 + lo;
      if (v > MAX_SAFE) v = (BigInt(hi) << 32n) | BigInt(lo);
      min = TWO32;
    }
    if (v < min)
      throw new CborError('not_deterministic', `head at offset ${start} is not in its shortest form`);
    return v;
  }

  length(v: number | bigint, unit: number, what: string, start: number): number {
    if (typeof v === 'bigint' || v * unit > this.b.length - this.pos) {
      throw new CborError('truncated', `${what} at offset ${start} is longer than the input`);
    }
    return v;
  }

  item(depth: number): CborValue {
    const start = this.pos;
    this.need(1);
    const ib = this.b[this.pos++]!;
    const major = ib >>> 5;
    const ai = ib & 31;
    if (major === 7) return this.simple(ai, start);
    if (ai >= 28) {
      if (ai === 31 && major >= 2 && major <= 5) {
        throw new CborError('indefinite_length', `indefinite-length item at offset ${start}`);
      }
      throw new CborError('malformed', `reserved additional information ${ai} at offset ${start}`);
    }
    const a = this.arg(ai, start);
    switch (major) {
      case 0:
        return a;
      case 1:
        return typeof a === 'number' && a < MAX_SAFE ? -1 - a : -1n - BigInt(a);
      case 2: {
        const n = this.length(a, 1, 'byte string', start);
        const out = this.b.slice(this.pos, this.pos + n);
        this.pos += n;
        return out;
      }
      case 3: {
        const n = this.length(a, 1, 'text string', start);
        return this.text(n, start);
      }
      case 4: {
        const n = this.length(a, 1, 'array', start);
        if (depth >= this.maxDepth) throw depthError(this.maxDepth);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const n = this.length(a, 2, 'map', start);
        if (depth >= this.maxDepth) throw depthError(this.maxDepth);
        return this.map(n, depth);
      }
      default:
        return this.tag(a, start);
    }
  }

  text(n: number, start: number): string {
    const bytes = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return textDecoder.decode(bytes);
    } catch {
      throw new CborError('invalid_utf8', `text string at offset ${start} is not valid UTF-8`);
    }
  }

  map(n: number, depth: number): CborObject | Map<CborMapKey, CborValue> {
    let obj: CborObject | undefined;
    let map: Map<CborMapKey, CborValue> | undefined;
    let prevStart = 0;
    let prevEnd = 0;
    for (let i = 0; i < n; i++) {
      const ks = this.pos;
      this.need(1);
      const major = this.b[ks]! >>> 5;
      if (major !== 0 && major !== 1 && major !== 3) {
        throw new CborError('invalid_key', `map key at offset ${ks} is not a text string or an integer`);
      }
      const key = this.item(depth + 1);
      if (typeof key === 'bigint') {
        throw new CborError('invalid_key', `integer map key at offset ${ks} is beyond the safe range`);
      }
      const ke = this.pos;
      if (i > 0) {
        const c = compareBytes(this.b.subarray(prevStart, prevEnd), this.b.subarray(ks, ke));
        if (c === 0) throw new CborError('duplicate_key', `duplicate map key at offset ${ks}`);
        if (c > 0) throw new CborError('not_deterministic', `map keys not in bytewise order at offset ${ks}`);
      }
      prevStart = ks;
      prevEnd = ke;
      const val = this.item(depth + 1);
      if (typeof key === 'string' && map === undefined) {
        obj ??= {};
        if (key === '__proto__') {
          Object.defineProperty(obj, key, {
            value: val,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else obj[key] = val;
      } else {
        // Integer keys sort before text keys, so a map with any integer key starts with one.
        map ??= new Map();
        map.set(key as CborMapKey, val);
      }
    }
    return map ?? obj ?? {};
  }

  tag(t: number | bigint, start: number): bigint {
    if (t !== 2 && t !== 3)
      throw new CborError('unsupported_tag', `tag ${t} at offset ${start} is not supported`);
    const cs = this.pos;
    this.need(1);
    if (this.b[cs]! >>> 5 !== 2)
      throw new CborError('malformed', `bignum at offset ${start} is not a byte string`);
    const content = this.item(0) as Uint8Array;
    if (content.length <= 8 || content[0] === 0) {
      throw new CborError('not_deterministic', `bignum at offset ${start} is not in its shortest form`);
    }
    let n = 0n;
    for (const byte of content) n = (n << 8n) | BigInt(byte);
    return t === 2 ? n : -1n - n;
  }

  simple(ai: number, start: number): CborValue {
    switch (ai) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 25: {
        this.need(2);
        const v = decodeHalf(this.view.getUint16(this.pos));
        this.pos += 2;
        return this.checkFloat(v, start);
      }
      case 26: {
        this.need(4);
        const v = this.view.getFloat32(this.pos);
        this.pos += 4;
        return this.checkFloat(v, start);
      }
      case 27: {
        this.need(8);
        const v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return this.checkFloat(v, start);
      }
      case 28:
      case 29:
      case 30:
        throw new CborError('malformed', `reserved additional information ${ai} at offset ${start}`);
      case 31:
        throw new CborError('malformed', `unexpected break at offset ${start}`);
      default:
        throw new CborError('unsupported_simple', `simple value at offset ${start} is not supported`);
    }
  }

  /** A float must be exactly what the encoder writes for its value (shortest, NaN canonical). */
  checkFloat(v: number, start: number): number {
    const again = encodeDeterministic(v);
    const got = this.b.subarray(start, this.pos);
    if (compareBytes(again, got) !== 0) {
      throw new CborError('not_deterministic', `float at offset ${start} is not in its deterministic form`);
    }
    return v;
  }
}

function depthError(max: number): CborError {
  return new CborError('depth_exceeded', `nesting deeper than ${max} arrays/maps`);
}

function decodeHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/**
 * Decodes one deterministic CBOR item that spans all of `bytes`, and rejects (with a
 * `CborError`) anything that is not exactly what `encodeDeterministic` would produce for the
 * decoded value: non-shortest heads or floats, unsorted or duplicate map keys, indefinite
 * lengths, tags other than bignums 2/3, simple values other than false/true/null, invalid UTF-8,
 * trailing bytes. Text-keyed maps become plain objects (a `__proto__` key is an own property);
 * maps with integer keys become `Map`s; integers outside the safe range become bigints.
 */
export function decodeDeterministic(bytes: Uint8Array, opts?: CborOptions): CborValue {
  if (!(bytes instanceof Uint8Array)) {
    throw new CborError('invalid_argument', `expected a Uint8Array, got ${describe(bytes)}`);
  }
  const maxDepth = checkOptions(opts);
  const d = new Decoder(bytes, maxDepth);
  const v = d.item(0);
  if (d.pos !== bytes.length) {
    throw new CborError('trailing_bytes', `${bytes.length - d.pos} bytes after the item at offset ${d.pos}`);
  }
  // Belt and braces: the checks above should already imply this.
  if (compareBytes(encodeDeterministic(v, { maxDepth }), bytes) !== 0) {
    throw new CborError('not_deterministic', 'input is not in deterministic form');
  }
  return v;
}
