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

  /**
   * Byte offsets of commas between elements of a top-level array, at least JSON_PIECE_BYTES
   * apart: for a valid body, the bytes between two cuts are whole elements, so the body can be
   * decoded and parsed piece by piece (src/http/body.ts) instead of as one string. (A V8
   * string of ~128 KiB to 1 MiB costs ~1 ms to allocate, 50x a 32 KiB one: measured,
   * bench/README.md session 6.) Empty for any other body. For an invalid body they mean
   * nothing: the parser of the whole text gives the error.
   */
  get cuts(): readonly number[] {
    return this.#topArray ? this.#cuts : [];
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
        if (++this.#num > this.#lim.maxNumberLength) {
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
    else if (b === 0x2c && this.#depth === 1 && this.#topArray) {
      if (++this.#commas >= this.#lim.maxItems)
        this.#fail(`more than ${this.#lim.maxItems} elements`, 'too_many_items', i);
      const at = this.#offset + i;
      if (at - this.#lastCut >= JSON_PIECE_BYTES) {
        this.#cuts.push(at);
        this.#lastCut = at;
      }
    }
  }

  #fail(message: string, code: JsonError['code'], i: number): never {
    const item = this.#topArray && this.#depth >= 1 ? this.#commas : undefined;
    throw new JsonError(message, this.#offset + i, code, item);
  }
}
