/**
 * An independent, deliberately naive RFC 6962 §2.1 Merkle tree, written straight from the
 * recursive definitions (MTH, PATH, PROOF/SUBPROOF) over an array of leaves. It shares no
 * code with src/core: hashing is node:crypto SHA-256, splitting is done with BigInt or plain
 * arithmetic exactly as the RFC states it. Test oracle only: obviously correct, not fast
 * (the only concession is memoising MTH of a leaf range, which is a pure function of the
 * immutable leaf array).
 */
import { createHash } from 'node:crypto';

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** RFC 6962: MTH({}) = SHA-256(). */
export const NAIVE_EMPTY_ROOT: Uint8Array = sha256();

/** RFC 6962: leaf hash = SHA-256(0x00 || d). */
export function naiveLeafHash(d: Uint8Array): Uint8Array {
  return sha256(Uint8Array.of(0), d);
}

/** RFC 6962: interior node = SHA-256(0x01 || left || right). Children may be any bytes. */
export function naiveNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(Uint8Array.of(1), left, right);
}

/** "k is the largest power of two smaller than n" (n > 1). */
export function largestPow2Below(n: number): number {
  if (n < 2) throw new Error(`no split point for n=${n}`);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** A naive Merkle tree over a fixed list of entries D[0..n). */
export class NaiveTree {
  readonly leaves: readonly Uint8Array[];
  readonly #memo = new Map<string, Uint8Array>();

  constructor(entries: readonly Uint8Array[]) {
    this.leaves = entries.slice();
  }

  /** MTH(D[lo:hi]). */
  mth(lo: number, hi: number): Uint8Array {
    if (lo > hi || lo < 0 || hi > this.leaves.length) throw new Error(`bad range [${lo}, ${hi})`);
    const n = hi - lo;
    if (n === 0) return NAIVE_EMPTY_ROOT;
    if (n === 1) return naiveLeafHash(this.leaves[lo]!);
    const key = `${lo},${hi}`;
    const cached = this.#memo.get(key);
    if (cached) return cached;
    const k = largestPow2Below(n);
    const h = naiveNodeHash(this.mth(lo, lo + k), this.mth(lo + k, hi));
    this.#memo.set(key, h);
    return h;
  }

  /** PATH(m, D[0:n]), the audit path for leaf m in the tree of the first n leaves. */
  path(m: number, n: number): Uint8Array[] {
    if (!(m >= 0 && m < n && n <= this.leaves.length)) throw new Error(`no PATH(${m}, ${n})`);
    return this.#path(m, 0, n);
  }

  // PATH(m, D[lo:hi]) with m relative to lo.
  #path(m: number, lo: number, hi: number): Uint8Array[] {
    const n = hi - lo;
    if (n === 1) return [];
    const k = largestPow2Below(n);
    if (m < k) return [...this.#path(m, lo, lo + k), this.mth(lo + k, hi)];
    return [...this.#path(m - k, lo + k, hi), this.mth(lo, lo + k)];
  }

  /**
   * PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true). For m = 0 (undefined in the RFC) this returns
   * the deployed convention, the empty proof.
   */
  proof(m: number, n: number): Uint8Array[] {
    if (!(m >= 0 && m <= n && n <= this.leaves.length)) throw new Error(`no PROOF(${m}, ${n})`);
    if (m === 0) return [];
    return this.#subproof(m, 0, n, true);
  }

  // SUBPROOF(m, D[lo:hi], b) with m relative to lo.
  #subproof(m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
    const n = hi - lo;
    if (m === n) return b ? [] : [this.mth(lo, hi)];
    const k = largestPow2Below(n);
    if (m <= k) return [...this.#subproof(m, lo, lo + k, b), this.mth(lo + k, hi)];
    return [...this.#subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
  }
}

/**
 * The root implied by an audit path, by running the PATH recursion backwards (the shape of
 * Go's tlog.runRecordProof): undefined when the proof has the wrong number of elements.
 */
export function naiveRootFromPath(
  m: number,
  n: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array | undefined {
  if (!(m >= 0 && m < n)) return undefined;
  if (n === 1) return proof.length === 0 ? leaf : undefined;
  if (proof.length === 0) return undefined;
  const k = largestPow2Below(n);
  const last = proof[proof.length - 1]!;
  const rest = proof.slice(0, -1);
  if (m < k) {
    const left = naiveRootFromPath(m, k, leaf, rest);
    return left && naiveNodeHash(left, last);
  }
  const right = naiveRootFromPath(m - k, n - k, leaf, rest);
  return right && naiveNodeHash(last, right);
}

/**
 * The [old root, new root] implied by a consistency proof for 0 < m <= n, by running the
 * SUBPROOF recursion backwards (the shape of Go's tlog.runTreeProof); undefined when the proof
 * has the wrong number of elements. `oldRoot` is the claimed MTH(D[0:m]), used where SUBPROOF
 * omitted it (b = true).
 */
export function naiveRootsFromProof(
  m: number,
  n: number,
  oldRoot: Uint8Array,
  proof: readonly Uint8Array[],
): [Uint8Array, Uint8Array] | undefined {
  if (!(m > 0 && m <= n)) return undefined;
  const run = (p: readonly Uint8Array[], lo: number, hi: number): [Uint8Array, Uint8Array] | undefined => {
    // Invariant: lo < m <= hi.
    if (m === hi) {
      if (lo === 0) return p.length === 0 ? [oldRoot, oldRoot] : undefined;
      return p.length === 1 ? [p[0]!, p[0]!] : undefined;
    }
    if (p.length === 0) return undefined;
    const k = largestPow2Below(hi - lo);
    const last = p[p.length - 1]!;
    if (m <= lo + k) {
      const r = run(p.slice(0, -1), lo, lo + k);
      return r && [r[0], naiveNodeHash(r[1], last)];
    }
    const r = run(p.slice(0, -1), lo + k, hi);
    return r && [naiveNodeHash(last, r[0]), naiveNodeHash(last, r[1])];
  };
  return run(proof, 0, n);
}

// ---------------------------------------------------------------------------------------------
// BigInt versions of the same recursions, returning the *ranges* [lo, hi) whose MTH forms each
// proof element. Used to check that the production code never truncates indices to 32 bits.

export type BigRange = readonly [bigint, bigint];

export function largestPow2BelowBig(n: bigint): bigint {
  if (n < 2n) throw new Error(`no split point for n=${n}`);
  let k = 1n;
  while (k * 2n < n) k *= 2n;
  return k;
}

/** Ranges of PATH(m, D[lo:hi]) (m absolute), leaf sibling first. */
export function pathRangesBig(m: bigint, lo: bigint, hi: bigint): BigRange[] {
  if (!(lo <= m && m < hi)) throw new Error('m out of range');
  if (hi - lo === 1n) return [];
  const k = largestPow2BelowBig(hi - lo);
  if (m < lo + k) return [...pathRangesBig(m, lo, lo + k), [lo + k, hi]];
  return [...pathRangesBig(m, lo + k, hi), [lo, lo + k]];
}

/** Ranges of PROOF(m, D[0:n]); empty for m = 0 and m = n. */
export function proofRangesBig(m: bigint, n: bigint): BigRange[] {
  if (!(0n <= m && m <= n)) throw new Error('m out of range');
  if (m === 0n) return [];
  const sub = (mm: bigint, lo: bigint, hi: bigint, b: boolean): BigRange[] => {
    if (lo + mm === hi) return b ? [] : [[lo, hi]];
    const k = largestPow2BelowBig(hi - lo);
    if (mm <= k) return [...sub(mm, lo, lo + k, b), [lo + k, hi]];
    return [...sub(mm - k, lo + k, hi, false), [lo, lo + k]];
  };
  return sub(m, 0n, n, true);
}

/**
 * A huge virtual tree in which every leaf hash equals `filler` except for a few `special`
 * leaves. MTH of any range is computed by the RFC recursion, short-cutting only ranges that
 * hold no special leaf and have a power-of-two length (their MTH is the perfect tree of
 * identical leaves, computed by repeated self-hashing). Lets us evaluate trees of 2^52 leaves.
 */
export class SparseTree {
  readonly #special: Map<bigint, Uint8Array>;
  readonly #sortedSpecial: bigint[];
  readonly #perfect: Uint8Array[] = [];
  readonly #memo = new Map<string, Uint8Array>();

  constructor(special: ReadonlyMap<bigint, Uint8Array>, filler: Uint8Array) {
    this.#special = new Map(special);
    this.#sortedSpecial = [...special.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.#perfect.push(filler);
    for (let i = 1; i <= 64; i++)
      this.#perfect.push(naiveNodeHash(this.#perfect[i - 1]!, this.#perfect[i - 1]!));
  }

  leafHash(i: bigint): Uint8Array {
    return this.#special.get(i) ?? this.#perfect[0]!;
  }

  #hasSpecial(lo: bigint, hi: bigint): boolean {
    return this.#sortedSpecial.some((s) => lo <= s && s < hi);
  }

  mth(lo: bigint, hi: bigint): Uint8Array {
    const n = hi - lo;
    if (n <= 0n) throw new Error('empty range');
    if (n === 1n) return this.leafHash(lo);
    const key = `${lo},${hi}`;
    const cached = this.#memo.get(key);
    if (cached) return cached;
    let h: Uint8Array;
    const pow = (n & (n - 1n)) === 0n;
    if (pow && !this.#hasSpecial(lo, hi)) {
      h = this.#perfect[n.toString(2).length - 1]!;
    } else {
      const k = largestPow2BelowBig(n);
      h = naiveNodeHash(this.mth(lo, lo + k), this.mth(lo + k, hi));
    }
    this.#memo.set(key, h);
    return h;
  }
}
