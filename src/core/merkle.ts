/**
 * RFC 6962 / RFC 9162 Merkle tree math: hashing, proof *building* from a hash reader, and
 * proof *checking*. Pure and browser-safe.
 *
 * Sizes and indices are JavaScript numbers restricted to safe integers (< 2^53), and all index
 * math is done with arithmetic, never with 32-bit bitwise operators, so trees far beyond 2^32
 * leaves work. (Go's tlog uses int64; no real log approaches 2^53 leaves.)
 *
 * Every hash a proof needs is MTH(D[lo:hi]) for a range that is a node of the tree clipped at
 * the tree size. Such a range splits into complete, aligned subtrees ({@link Subtree}), and a
 * store answers complete-subtree hashes (from tiles). Building a proof is therefore: compute
 * the ranges (pure), read the subtree hashes (I/O, sync or async), fold (pure).
 */
import { bytesEqual, Scratch } from './bytes.js';
import { isHash, isSafeUint } from './check.js';
import { HASH_SIZE, type Sha256, sha256 } from './hash.js';

/** MTH of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/**
 * The input of a leaf or node hash (prefix || bytes), reused: a fresh 65-byte array per
 * interior node was an off-heap allocation each (see ByteSlab in bytes.ts). Sha256 must not
 * keep its input, so one buffer serves every call.
 */
const scratch = new Scratch();

/** RFC 6962 leaf hash: SHA-256(0x00 || entry). */
export function leafHash(entry: Uint8Array, sha: Sha256 = sha256): Uint8Array {
  const buf = scratch.take(1 + entry.length);
  buf[0] = 0;
  buf.set(entry, 1);
  return sha(buf);
}

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array, sha: Sha256 = sha256): Uint8Array {
  checkHash('left child', left);
  checkHash('right child', right);
  const buf = scratch.take(1 + 2 * HASH_SIZE);
  buf[0] = 1;
  buf.set(left, 1);
  buf.set(right, 1 + HASH_SIZE);
  return sha(buf);
}

/** Error with a stable `code`, thrown by proof checking and by invalid arguments. */
export class MerkleError extends Error {
  constructor(
    readonly code:
      | 'invalid_argument'
      | 'index_out_of_range'
      | 'wrong_proof_size'
      | 'root_mismatch'
      | 'invalid_hash',
    message: string,
  ) {
    super(message);
    this.name = 'MerkleError';
  }
}

function checkCount(name: string, n: number): void {
  if (!isSafeUint(n)) {
    throw new MerkleError('invalid_argument', `${name} must be a non-negative safe integer, got ${n}`);
  }
}

function checkHash(name: string, h: Uint8Array): void {
  if (!isHash(h)) {
    throw new MerkleError('invalid_hash', `${name} must be ${HASH_SIZE} bytes`);
  }
}

/** Largest power of two strictly less than n, for n > 1 (RFC 6962's split point k). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** A complete, aligned subtree: the 2^level leaves [index*2^level, (index+1)*2^level). */
export interface Subtree {
  readonly level: number;
  readonly index: number;
}

/** A half-open leaf range [lo, hi) whose MTH is one element of a proof. */
export type Range = readonly [lo: number, hi: number];

/**
 * Splits a proof range [lo, hi) into complete aligned subtrees, left to right, largest first.
 * Valid for every range that is a tree node clipped at the tree size (all ranges produced
 * here): then lo is a multiple of the largest power of two not exceeding hi - lo, and
 * MTH(D[lo:hi]) is the right fold of the subtree hashes ({@link foldSubtreeHashes}).
 */
export function rangeSubtrees(lo: number, hi: number): Subtree[] {
  checkCount('lo', lo);
  checkCount('hi', hi);
  if (hi <= lo) throw new MerkleError('invalid_argument', `empty range [${lo}, ${hi})`);
  const out: Subtree[] = [];
  let start = lo;
  while (start < hi) {
    let level = 0;
    let size = 1;
    // Grow while the next power of two is aligned at `start` and still fits.
    while (start % (size * 2) === 0 && start + size * 2 <= hi) {
      size *= 2;
      level++;
    }
    out.push({ level, index: start / size });
    start += size;
  }
  return out;
}

/** Folds subtree hashes (left to right) into one hash: acc = NH(h_i, acc) from the right. */
export function foldSubtreeHashes(hashes: readonly Uint8Array[], sha: Sha256 = sha256): Uint8Array {
  if (hashes.length === 0) throw new MerkleError('invalid_argument', 'no hashes to fold');
  let acc = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc, sha);
  return acc;
}

/**
 * The ranges whose hashes form the inclusion proof PATH(index, D[0:size]) (RFC 9162
 * 2.1.3.1), leaf sibling first. Throws if index >= size.
 */
export function inclusionProofRanges(index: number, size: number): Range[] {
  checkCount('index', index);
  checkCount('size', size);
  if (index >= size) {
    throw new MerkleError('index_out_of_range', `index ${index} is not below tree size ${size}`);
  }
  const out: Range[] = [];
  let lo = 0;
  let hi = size;
  // Walk down from the root, collecting the sibling of each node on the path; reverse at the end.
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index - lo < k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo = lo + k;
    }
  }
  return out.reverse();
}

/**
 * The ranges whose hashes form the consistency proof PROOF(m, D[0:n]) (RFC 9162 2.1.4.1).
 * Empty when m == n or m == 0 (the empty tree is consistent with every tree). Throws if m > n.
 */
export function consistencyProofRanges(m: number, n: number): Range[] {
  checkCount('old size', m);
  checkCount('new size', n);
  if (m > n) throw new MerkleError('invalid_argument', `old size ${m} exceeds new size ${n}`);
  if (m === 0 || m === n) return [];
  const out: Range[] = [];
  let lo = 0;
  let hi = n;
  let mm = m; // m relative to lo
  let complete = true; // the RFC's b flag: is [lo, lo+mm) the whole old tree?
  while (mm !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (mm <= k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo = lo + k;
      mm -= k;
      complete = false;
    }
  }
  if (!complete) out.push([lo, hi]);
  return out.reverse();
}

/** Synchronous reader of complete-subtree hashes (e.g. from SQLite tiles). */
export type SubtreeReader = (subtrees: readonly Subtree[]) => Uint8Array[];
/** Asynchronous reader of complete-subtree hashes (e.g. from tiles fetched over HTTP). */
export type AsyncSubtreeReader = (subtrees: readonly Subtree[]) => Promise<Uint8Array[]>;

function splitRanges(ranges: readonly Range[]): { all: Subtree[]; counts: number[] } {
  const all: Subtree[] = [];
  const counts: number[] = [];
  for (const [lo, hi] of ranges) {
    const s = rangeSubtrees(lo, hi);
    counts.push(s.length);
    all.push(...s);
  }
  return { all, counts };
}

function foldRanges(counts: number[], hashes: Uint8Array[], sha: Sha256): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 0;
  for (const c of counts) {
    const part = hashes.slice(o, o + c);
    for (const h of part) checkHash('subtree hash from reader', h);
    out.push(foldSubtreeHashes(part, sha));
    o += c;
  }
  return out;
}

/** MTH of each range, reading complete-subtree hashes in one batch from `read`. */
export function hashRanges(
  ranges: readonly Range[],
  read: SubtreeReader,
  sha: Sha256 = sha256,
): Uint8Array[] {
  const { all, counts } = splitRanges(ranges);
  const hashes = all.length ? read(all) : [];
  if (hashes.length !== all.length) throw new MerkleError('invalid_argument', 'reader returned wrong count');
  return foldRanges(counts, hashes, sha);
}

/** {@link hashRanges} with an asynchronous reader. */
export async function hashRangesAsync(
  ranges: readonly Range[],
  read: AsyncSubtreeReader,
  sha: Sha256 = sha256,
): Promise<Uint8Array[]> {
  const { all, counts } = splitRanges(ranges);
  const hashes = all.length ? await read(all) : [];
  if (hashes.length !== all.length) throw new MerkleError('invalid_argument', 'reader returned wrong count');
  return foldRanges(counts, hashes, sha);
}

/** MTH(D[0:size]) from a subtree reader; the empty-tree root for size 0. */
export function treeHash(size: number, read: SubtreeReader, sha: Sha256 = sha256): Uint8Array {
  checkCount('size', size);
  if (size === 0) return EMPTY_ROOT;
  return hashRanges([[0, size]], read, sha)[0]!;
}

/** Inclusion proof PATH(index, D[0:size]) built from a subtree reader. */
export function inclusionProof(
  index: number,
  size: number,
  read: SubtreeReader,
  sha: Sha256 = sha256,
): Uint8Array[] {
  return hashRanges(inclusionProofRanges(index, size), read, sha);
}

/** Consistency proof PROOF(m, D[0:n]) built from a subtree reader. */
export function consistencyProof(
  m: number,
  n: number,
  read: SubtreeReader,
  sha: Sha256 = sha256,
): Uint8Array[] {
  return hashRanges(consistencyProofRanges(m, n), read, sha);
}

/** MTH of an in-memory list of leaf hashes (reference use and small trees). */
export function rootOfLeafHashes(leafHashes: readonly Uint8Array[], sha: Sha256 = sha256): Uint8Array {
  if (leafHashes.length === 0) return EMPTY_ROOT;
  const read: SubtreeReader = (subtrees) => subtrees.map((s) => perfectRoot(leafHashes, s, sha));
  return treeHash(leafHashes.length, read, sha);
}

/** Root of a complete subtree from the leaf hashes that make it up. */
function perfectRoot(leafHashes: readonly Uint8Array[], s: Subtree, sha: Sha256): Uint8Array {
  const width = 2 ** s.level;
  return perfectRootOf(leafHashes.slice(s.index * width, (s.index + 1) * width), sha);
}

/**
 * Root of a perfect subtree given its 2^k bottom-row hashes, hashing pairwise upward.
 * Used for tiles: a tile is the bottom row of a height-8 subtree.
 */
export function perfectRootOf(row: readonly Uint8Array[], sha: Sha256 = sha256): Uint8Array {
  let n = row.length;
  if (n === 0 || (n & (n - 1)) !== 0) {
    // n is at most 256 here (tile rows), so the bitwise power-of-two test is safe.
    throw new MerkleError('invalid_argument', `row of ${n} hashes is not a power of two`);
  }
  let level = row.slice();
  while (n > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < n; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!, sha));
    level = next;
    n /= 2;
  }
  return level[0]!;
}

// ---------------------------------------------------------------------------------------------
// Checking (RFC 9162 2.1.3.2 and 2.1.4.2). Short enough to audit in one sitting.

const isOdd = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

/**
 * Computes the root implied by an inclusion proof (RFC 9162 2.1.3.2), or throws a MerkleError
 * if the proof has the wrong number of elements for (index, size).
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  sha: Sha256 = sha256,
): Uint8Array {
  checkCount('index', index);
  checkCount('size', size);
  checkHash('leaf hash', leaf);
  if (index >= size) {
    throw new MerkleError('index_out_of_range', `index ${index} is not below tree size ${size}`);
  }
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    checkHash('proof element', p);
    if (sn === 0) throw new MerkleError('wrong_proof_size', 'inclusion proof is too long');
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r, sha);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p, sha);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new MerkleError('wrong_proof_size', 'inclusion proof is too short');
  return r;
}

/**
 * Proves that the leaf with hash `leaf` is at `index` in the tree of `size` leaves whose root
 * is `root`. Throws a MerkleError (code root_mismatch, wrong_proof_size, ...) otherwise.
 */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
  sha: Sha256 = sha256,
): void {
  checkHash('root', root);
  const computed = rootFromInclusionProof(index, size, leaf, proof, sha);
  if (!bytesEqual(computed, root)) {
    throw new MerkleError('root_mismatch', 'inclusion proof does not lead to the expected root');
  }
}

/**
 * Proves that the tree of size `m` with root `rootM` is a prefix of the tree of size `n` with
 * root `rootN` (RFC 9162 2.1.4.2). Edge cases as deployed: m == n needs an empty proof and
 * equal roots; m == 0 needs an empty proof and the empty-tree root for rootM. Throws a
 * MerkleError on any failure.
 */
export function verifyConsistency(
  m: number,
  n: number,
  rootM: Uint8Array,
  rootN: Uint8Array,
  proof: readonly Uint8Array[],
  sha: Sha256 = sha256,
): void {
  checkCount('old size', m);
  checkCount('new size', n);
  checkHash('old root', rootM);
  checkHash('new root', rootN);
  for (const p of proof) checkHash('proof element', p);
  if (m > n) throw new MerkleError('invalid_argument', `old size ${m} exceeds new size ${n}`);
  if (m === 0) {
    if (proof.length !== 0)
      throw new MerkleError('wrong_proof_size', 'proof from the empty tree must be empty');
    if (!bytesEqual(rootM, EMPTY_ROOT))
      throw new MerkleError('root_mismatch', 'size-0 root is not the empty root');
    return;
  }
  if (m === n) {
    if (proof.length !== 0)
      throw new MerkleError('wrong_proof_size', 'proof between equal sizes must be empty');
    if (!bytesEqual(rootM, rootN)) throw new MerkleError('root_mismatch', 'roots of equal sizes differ');
    return;
  }
  if (proof.length === 0) throw new MerkleError('wrong_proof_size', 'consistency proof is empty');
  const path = isPowerOfTwo(m) ? [rootM, ...proof] : [...proof];
  let fn = m - 1;
  let sn = n - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) throw new MerkleError('wrong_proof_size', 'consistency proof is too long');
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr, sha);
      sr = nodeHash(c, sr, sha);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c, sha);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new MerkleError('wrong_proof_size', 'consistency proof is too short');
  if (!bytesEqual(fr, rootM))
    throw new MerkleError('root_mismatch', 'consistency proof does not match the old root');
  if (!bytesEqual(sr, rootN))
    throw new MerkleError('root_mismatch', 'consistency proof does not match the new root');
}

function isPowerOfTwo(x: number): boolean {
  let p = 1;
  while (p < x) p *= 2;
  return p === x;
}
