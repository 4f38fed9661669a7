/**
 * The memory budget of request bodies being decoded: the text bytes (inflated, or as sent when
 * not compressed) that all decodes in flight hold together. Each decode may inflate up to the
 * per-request cap, so without a shared bound the worst case is that cap times the decodes
 * allowed at once (4 gzip bombs at 64 MiB: 256 MiB of text, as much again decoded); with it,
 * the others hold at most the budget while the oldest runs to its cap.
 */

/** One decode's share of a {@link DecodeBudget}: taken as its bytes arrive, released at its end. */
export interface DecodeReservation {
  /**
   * Takes `bytes` more: undefined if granted now, else a promise that resolves once they are
   * (the caller stops reading until then).
   */
  take(bytes: number): Promise<void> | undefined;
  /** Gives back everything this decode took (and drops a pending take); idempotent. */
  release(): void;
}

interface Holder {
  readonly seq: number;
  held: number;
  waiting?: { bytes: number; grant(): void };
}

/**
 * A byte budget shared by the decodes in flight. A decode past the budget waits (its reading
 * paused) until others release bytes, in the order the decodes started, except the oldest
 * decode, which never waits: it alone may go past the budget, bounded by its own per-request
 * cap, and its end frees its bytes for the next. So the loop never stalls, no decode waits on
 * one that waits, and the bytes held are at most the budget plus one request's cap.
 */
export class DecodeBudget {
  readonly #max: number;
  #used = 0;
  #seq = 0;
  /** Open reservations, oldest first. */
  readonly #open: Holder[] = [];

  /** A budget of `maxBytes` bytes in flight (the oldest decode excepted). */
  constructor(maxBytes: number) {
    if (!(maxBytes > 0)) throw new RangeError('the decode budget must be positive');
    this.#max = maxBytes;
  }

  /** Bytes held by the decodes in flight now. */
  get usedBytes(): number {
    return this.#used;
  }

  /** Bytes held now by every decode but the oldest (the part the budget bounds). */
  get boundedBytes(): number {
    return this.#used - (this.#open[0]?.held ?? 0);
  }

  /** A new reservation, holding nothing yet, for one decode (younger than all open ones). */
  open(): DecodeReservation {
    const h: Holder = { seq: this.#seq++, held: 0 };
    this.#open.push(h);
    let released = false;
    return {
      take: (bytes) => {
        if (released) throw new Error('decode reservation used after release');
        if (h.waiting) throw new Error('decode reservation: one take at a time');
        if (this.#fits(h, bytes)) {
          this.#grant(h, bytes);
          return undefined;
        }
        return new Promise<void>((resolve) => {
          h.waiting = { bytes, grant: resolve };
        });
      },
      release: () => {
        if (released) return;
        released = true;
        this.#used -= h.held;
        h.held = 0;
        h.waiting = undefined;
        this.#open.splice(this.#open.indexOf(h), 1);
        this.#wake();
      },
    };
  }

  #fits(h: Holder, bytes: number): boolean {
    return this.#open[0] === h || this.#used + bytes <= this.#max;
  }

  #grant(h: Holder, bytes: number): void {
    h.held += bytes;
    this.#used += bytes;
  }

  /** Grants pending takes in the order their decodes started, while they fit. */
  #wake(): void {
    for (const h of this.#open) {
      const w = h.waiting;
      if (!w) continue;
      if (!this.#fits(h, w.bytes)) break;
      h.waiting = undefined;
      this.#grant(h, w.bytes);
      w.grant();
    }
  }
}
