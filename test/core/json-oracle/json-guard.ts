// TEST ORACLE: a verbatim copy of src/core/json-guard.ts as of commit aaa4e95 (before the issue-11 speedups),
// unchanged except the import paths of cbor.js/bytes.js. test/core/json-equivalence.test.ts checks
// that the current parser and byte guard give exactly its results and refusals. Do not edit.
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

  /** A guard for one body, under the parser's `limits` (missing ones default as there). */
  constructor(limits: Partial<JsonLimits> = {}) {
    this.#lim = { ...DEFAULT_JSON_LIMITS, ...limits };
  }

  /** Checks the next bytes of the body; throws JsonError (offset in bytes) past a limit. */
  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (b === 0x5c) this.#escape = true;
        else if (b === 0x22) {
          this.#inString = false;
          continue;
        }
        if (++this.#str > 3 * this.#lim.maxStringLength) this.#fail('string too long', 'string_too_long', i);
      } else if (
        (b >= 0x30 && b <= 0x39) ||
        b === 0x2d ||
        b === 0x2b ||
        b === 0x2e ||
        b === 0x65 ||
        b === 0x45
      ) {
        if (++this.#num > this.#lim.maxNumberLength) {
          this.#fail(`number longer than ${this.#lim.maxNumberLength} characters`, 'number_too_long', i);
        }
      } else {
        this.#num = 0;
        this.#structural(b, i);
      }
    }
    this.#offset += chunk.length;
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
    else if (b === 0x2c && this.#depth === 1 && this.#topArray && ++this.#commas >= this.#lim.maxItems) {
      this.#fail(`more than ${this.#lim.maxItems} elements`, 'too_many_items', i);
    }
  }

  #fail(message: string, code: JsonError['code'], i: number): never {
    const item = this.#topArray && this.#depth >= 1 ? this.#commas : undefined;
    throw new JsonError(message, this.#offset + i, code, item);
  }
}
