/**
 * The memory budget of request bodies being decoded: the text bytes (inflated, or as sent when
 * not compressed) that all decodes in flight hold together. Each decode may inflate up to the
 * per-request cap, so without a shared bound the worst case is that cap times the decodes
 * allowed at once (4 gzip bombs at 64 MiB: 256 MiB of text, as much again decoded); with it,
 * the text in flight stays under one budget however the caps multiply.
 */
import { HttpError } from './errors.js';

/** One decode's share of a {@link DecodeBudget}: taken as its bytes arrive, released at its end. */
export interface DecodeReservation {
  /** Takes `bytes` more; throws HttpError 503 `overloaded` (Retry-After: 1) if the budget is spent. */
  take(bytes: number): void;
  /** Gives back everything this decode took; idempotent. */
  release(): void;
}

/**
 * A byte budget shared by the decodes in flight. A decode takes bytes as its text grows and
 * never waits for them: past the budget it is refused at once (503, retry later), which frees
 * its bytes for the others, so no decode can hold bytes while waiting for another's (no
 * deadlock, no stalled loop). A decode that is the only holder may go past the budget: its own
 * per-request cap bounds it, and a body under that cap must never be refused forever.
 */
export class DecodeBudget {
  readonly #max: number;
  #used = 0;
  #holders = 0;

  /** A budget of `maxBytes` bytes in flight. */
  constructor(maxBytes: number) {
    if (!(maxBytes > 0)) throw new RangeError('the decode budget must be positive');
    this.#max = maxBytes;
  }

  /** Bytes held by the decodes in flight now. */
  get usedBytes(): number {
    return this.#used;
  }

  /** The budget, bytes. */
  get maxBytes(): number {
    return this.#max;
  }

  /** A new reservation, holding nothing yet, for one decode. */
  open(): DecodeReservation {
    let held = 0;
    let released = false;
    return {
      take: (bytes) => {
        if (released) throw new Error('decode reservation used after release');
        const alone = this.#holders === (held > 0 ? 1 : 0);
        if (this.#used + bytes > this.#max && !alone) {
          throw new HttpError(
            503,
            'overloaded',
            `bodies being decoded hold ${this.#used} of ${this.#max} bytes; retry later`,
            { 'Retry-After': '1' },
          );
        }
        if (held === 0 && bytes > 0) this.#holders++;
        held += bytes;
        this.#used += bytes;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#used -= held;
        if (held > 0) this.#holders--;
        held = 0;
      },
    };
  }
}
