/**
 * A streaming pre-check of a JSON body's UTF-8 bytes, fed chunk by chunk as they arrive or
 * inflate, before any of it is decoded to text: it refuses at the first byte past the nesting,
 * number-length or batch-size limit, so a hostile body (one 60-million-digit number inflated
 * from 58 KB, 16 MiB of `[`, millions of tiny events) costs a few kilobytes of work instead
 * of inflating, copying and decoding tens of megabytes. It never refuses what the parser
 * (core/json.ts) would accept under the same limits: for valid JSON its depth, number runs and
 * top-level element count are the parser's; strings are checked loosely (3 bytes per
 * character, the most UTF-8 needs per UTF-16 unit) and exactly later, by the parser.
 */
import { DEFAULT_JSON_LIMITS } from './json.js';
import { JsonError, type JsonLimits } from './json-reader.js';

/** Bytes between two cut points (see JsonByteGuard.cuts): pieces of ~32 KiB decode and parse cheaply. */
export const JSON_PIECE_BYTES = 32 * 1024;

/** Characters of a number literal from which JSON.parse may round it (json.ts uses 16 digits too). */
const LONG_NUMBER = 16;

/** One piece of a body between two cuts (JsonByteGuard.pieceFacts). */
export interface PieceFacts {
  /** Byte offset of the cut (comma) that ends the piece; undefined for the last piece. */
  readonly end: number | undefined;
  /** Keys written in the piece (colons outside strings). */
  readonly keys: number;
  /** The piece holds a number literal of 16 or more characters. */
  readonly longNumber: boolean;
}

export class JsonByteGuard {
  readonly #lim: Pick<JsonLimits, 'maxDepth' | 'maxNumberLength' | 'maxStringLength' | 'maxItems'>;
  #offset = 0;
  #depth = 0;
  #topArray = false;
  #commas = 0;
  #inString = false;
  #escape = false;
  #str = 0;
  #num = 0;
  /** Next backslash in the current chunk at or after the string cursor (-1: none, -2: not looked). */
  #bs = -2;
  readonly #cuts: number[] = [];
  #lastCut = 0;
  /** Colons outside strings (in valid JSON: keys written) and number runs of 16+ characters, so far. */
  #colons = 0;
  #longNumbers = 0;
  /** Those two counts as they were at each cut. */
  readonly #cutColons: number[] = [];
  readonly #cutLongNumbers: number[] = [];
  /** The last comma between top-level elements (-1: none yet), with the two counts there. */
  #prevComma = -1;
  #prevColons = 0;
  #prevLongNumbers = 0;

  /**
   * Byte offsets of commas between elements of a top-level array, at least JSON_PIECE_BYTES
   * apart, and on both sides of every element holding a number literal of 16 or more
   * characters (such an element is a piece alone: see {@link pieceFacts}). For a valid body
   * the bytes between two cuts are whole elements, so the body can be
   * decoded and parsed piece by piece (src/http/body.ts) instead of as one string. (A V8
   * string of ~128 KiB to 1 MiB costs ~1 ms to allocate, 50x a 32 KiB one: measured,
   * bench/README.md session 6.) Empty for any other body. For an invalid body they mean
   * nothing: the parser of the whole text gives the error.
   */
  get cuts(): readonly number[] {
    return this.#finalCuts().at;
  }

  /**
   * For each piece between the cuts (cuts.length + 1 of them, after the whole body was
   * pushed): the cut that ends it (none for the last), the keys written in it (colons outside strings: in valid JSON, one per key) and
   * whether it holds a number literal of 16 or more characters (one JSON.parse may round). Lets
   * the piece parser take JSON.parse's value as it is when the piece parses, holds as many keys
   * as JSON.parse kept (no duplicate dropped) and no long number. Meaningless for invalid JSON,
   * which JSON.parse refuses.
   */
  pieceFacts(): PieceFacts[] {
    const cuts = this.#finalCuts();
    const out: PieceFacts[] = [];
    let colons = 0;
    let longs = 0;
    for (let k = 0; k <= cuts.at.length; k++) {
      const c = k < cuts.at.length ? cuts.colons[k]! : this.#colons;
      const l = k < cuts.at.length ? cuts.longs[k]! : this.#longNumbers;
      out.push({ end: cuts.at[k], keys: c - colons, longNumber: l > longs });
      colons = c;
      longs = l;
    }
    return out;
  }

  /**
   * The cuts with the counts at each, once the whole body was pushed: as recorded, plus one
   * before the last element if it holds a long number (so that element is a piece alone).
   */
  #finalCuts(): { at: readonly number[]; colons: readonly number[]; longs: readonly number[] } {
    if (!this.#topArray) return { at: [], colons: [], longs: [] };
    const lastLong = this.#longNumbers > this.#prevLongNumbers;
    if (!lastLong || this.#prevComma <= this.#lastCut) {
      return { at: this.#cuts, colons: this.#cutColons, longs: this.#cutLongNumbers };
    }
    return {
      at: [...this.#cuts, this.#prevComma],
      colons: [...this.#cutColons, this.#prevColons],
      longs: [...this.#cutLongNumbers, this.#prevLongNumbers],
    };
  }

  /** A guard for one body, under the parser's `limits` (missing ones default as there). */
  constructor(limits: Partial<JsonLimits> = {}) {
    this.#lim = { ...DEFAULT_JSON_LIMITS, ...limits };
  }

  /** Checks the next bytes of the body; throws JsonError (offset in bytes) past a limit. */
  push(chunk: Uint8Array): void {
    this.#bs = -2;
    let i = 0;
    while (i < chunk.length) {
      if (this.#inString) {
        i = this.#stringBytes(chunk, i);
        continue;
      }
      const b = chunk[i]!;
      if ((b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2b || b === 0x2e || b === 0x65 || b === 0x45) {
        if (++this.#num === LONG_NUMBER) this.#longNumbers++;
        if (this.#num > this.#lim.maxNumberLength) {
          this.#fail(`number longer than ${this.#lim.maxNumberLength} characters`, 'number_too_long', i);
        }
      } else {
        this.#num = 0;
        this.#structural(b, i);
      }
      i++;
    }
    this.#offset += chunk.length;
  }

  /**
   * Inside a string from chunk[i]: jumps (native indexOf, not a byte loop: string contents are
   * most of an OPA body) to the next quote or backslash, counting every byte between the quotes
   * (escapes included) against the loose length limit, refused at the first byte past it.
   * Returns where to go on.
   */
  #stringBytes(chunk: Uint8Array, i: number): number {
    const max = 3 * this.#lim.maxStringLength;
    if (this.#escape) {
      this.#escape = false;
      if (++this.#str > max) this.#fail('string too long', 'string_too_long', i);
      return i + 1;
    }
    const stop = this.#special(chunk, i);
    if (this.#str + (stop - i) > max) this.#fail('string too long', 'string_too_long', i + max - this.#str);
    this.#str += stop - i;
    if (stop === chunk.length) return stop;
    if (chunk[stop] === 0x22) {
      this.#inString = false;
      return stop + 1;
    }
    this.#escape = true;
    if (++this.#str > max) this.#fail('string too long', 'string_too_long', stop);
    return stop + 1;
  }

  /**
   * The next quote or backslash from chunk[i] (chunk.length if none): a byte loop for the first
   * 32 bytes (most strings are shorter, and a native call costs more), native indexOf beyond.
   */
  #special(chunk: Uint8Array, i: number): number {
    const short = Math.min(chunk.length, i + 32);
    for (let j = i; j < short; j++) {
      const b = chunk[j]!;
      if (b === 0x22 || b === 0x5c) return j;
    }
    if (short === chunk.length) return short;
    let q = chunk.indexOf(0x22, short);
    if (q < 0) q = chunk.length;
    if (this.#bs !== -1 && this.#bs < short) this.#bs = chunk.indexOf(0x5c, short);
    return this.#bs >= 0 && this.#bs < q ? this.#bs : q;
  }

  #structural(b: number, i: number): void {
    if (b === 0x22) {
      this.#inString = true;
      this.#str = 0;
    } else if (b === 0x5b || b === 0x7b) {
      if (++this.#depth > this.#lim.maxDepth)
        this.#fail(`nesting deeper than ${this.#lim.maxDepth}`, 'too_deep', i);
      if (this.#depth === 1) this.#topArray = b === 0x5b;
    } else if (b === 0x5d || b === 0x7d) this.#depth--;
    else if (b === 0x3a) this.#colons++;
    else if (b === 0x2c && this.#depth === 1 && this.#topArray) {
      if (++this.#commas >= this.#lim.maxItems)
        this.#fail(`more than ${this.#lim.maxItems} elements`, 'too_many_items', i);
      const at = this.#offset + i;
      if (this.#longNumbers > this.#prevLongNumbers) {
        // The element just closed holds a long number: a piece alone, so that only it goes
        // through the exact parser and the elements around it through JSON.parse.
        if (this.#prevComma > this.#lastCut)
          this.#cut(this.#prevComma, this.#prevColons, this.#prevLongNumbers);
        this.#cut(at, this.#colons, this.#longNumbers);
      } else if (at - this.#lastCut >= JSON_PIECE_BYTES) this.#cut(at, this.#colons, this.#longNumbers);
      this.#prevComma = at;
      this.#prevColons = this.#colons;
      this.#prevLongNumbers = this.#longNumbers;
    }
  }

  #cut(at: number, colons: number, longs: number): void {
    this.#cuts.push(at);
    this.#cutColons.push(colons);
    this.#cutLongNumbers.push(longs);
    this.#lastCut = at;
  }

  #fail(message: string, code: JsonError['code'], i: number): never {
    const item = this.#topArray && this.#depth >= 1 ? this.#commas : undefined;
    throw new JsonError(message, this.#offset + i, code, item);
  }
}
