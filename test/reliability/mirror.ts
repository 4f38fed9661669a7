/**
 * A client-side mirror of one log, used to judge it from the outside: it downloads entry
 * bundles, keeps every entry it saw, recomputes the tree with its own RFC 6962 code (node:crypto,
 * a compact range, independent of src/core/merkle), and remembers every checkpoint observed.
 *
 * It counts, without asserting (the tests assert the counts are 0):
 *  - lost: an acknowledged (source, id) that is missing, at another index, or whose leaf bytes
 *    changed since they were first seen;
 *  - duplicated: a (source, id) present at two indices;
 *  - forks: two observed checkpoints with one size and different roots, or an observed
 *    checkpoint that is not a prefix of the tree as downloaded (including a size beyond it).
 */
import { createHash } from 'node:crypto';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { decodeEntry } from '../../src/core/entry.js';
import { rootOfLeafHashes } from '../../src/core/merkle.js';
import { newEd25519Verifier } from '../../src/core/note.js';
import { entryBundlePath } from '../../src/core/tiles.js';
import { parseBundle } from '../helpers/server.js';
import { send, stats } from './harness.js';

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

export interface Observed {
  size: number;
  root: string;
}

/** Fetches and verifies /checkpoint (signature by `vkey`); throws on a bad note. */
export async function fetchCheckpoint(url: string, vkey: string): Promise<Observed & { note: string }> {
  const res = await send(`${url}/checkpoint`);
  const note = await res.text();
  if (res.status !== 200) throw new Error(`/checkpoint: HTTP ${res.status}: ${note}`);
  const cp = openCheckpoint(note, newEd25519Verifier(vkey)).checkpoint;
  return { size: cp.size, root: Buffer.from(cp.rootHash).toString('hex'), note };
}

/** Merkle tree head of a compact range (perfect subtrees, largest first). */
function foldRange(range: readonly Buffer[]): Buffer {
  if (range.length === 0) return sha();
  let h = range[range.length - 1]!;
  for (let i = range.length - 2; i >= 0; i--) h = sha(NODE, range[i]!, h);
  return h;
}

export class LogMirror {
  readonly vkey: string;
  /** Entry bytes by index, as first downloaded. */
  readonly entries: Buffer[] = [];
  readonly #keys: string[] = [];
  readonly #where = new Map<string, number>();
  /** Compact range of the mirrored prefix: [hash, size] of perfect subtrees, left to right. */
  #range: { h: Buffer; n: number }[] = [];
  /** Every checkpoint observed: size -> root (hex). */
  readonly #seen = new Map<number, string>();
  /** Observed sizes not yet reached by the mirror, ascending on use. */
  #pending = new Set<number>();
  /** Roots the mirror computed at observed sizes. */
  readonly #rootAt = new Map<number, string>();
  /** (key) -> index for every acknowledged leaf. */
  readonly #acked = new Map<string, number>();
  /** Acked keys not yet checked against a downloaded tree. */
  #unchecked: string[] = [];
  duplicated = 0;
  lost = 0;
  forks = 0;
  readonly problems: string[] = [];

  constructor(vkey: string) {
    this.vkey = vkey;
  }

  get size(): number {
    return this.entries.length;
  }

  #problem(msg: string): void {
    if (this.problems.length < 50) this.problems.push(msg);
  }

  /** Records a checkpoint seen at any time (poller, lookups). */
  observe(cp: Observed): void {
    const before = this.#seen.get(cp.size);
    if (before !== undefined) {
      if (before !== cp.root) {
        this.forks++;
        stats.forks++;
        this.#problem(`two roots for size ${cp.size}: ${before} and ${cp.root}`);
      }
      return;
    }
    this.#seen.set(cp.size, cp.root);
    if (cp.size <= this.size)
      this.#checkRootAt(cp.size, this.#rootAt.get(cp.size) ?? this.#rootOfPrefix(cp.size));
    else this.#pending.add(cp.size);
  }

  #checkRootAt(size: number, computed: string | undefined): void {
    const seen = this.#seen.get(size);
    if (seen === undefined || computed === undefined) return;
    if (seen !== computed) {
      this.forks++;
      stats.forks++;
      this.#problem(`checkpoint ${size} root ${seen} is not the root of the downloaded prefix (${computed})`);
    }
  }

  /** Records an acknowledged leaf: `key` is `${source}\0${id}`. */
  ack(key: string, index: number): void {
    const before = this.#acked.get(key);
    if (before !== undefined) {
      if (before !== index) {
        this.lost++;
        stats.lost++;
        this.#problem(`${JSON.stringify(key)} acknowledged at ${before}, later at ${index}`);
      }
      return;
    }
    this.#acked.set(key, index);
    this.#unchecked.push(key);
    stats.acknowledged++;
  }

  get acknowledged(): number {
    return this.#acked.size;
  }

  /** Index of an acknowledged key. */
  ackedIndex(key: string): number | undefined {
    return this.#acked.get(key);
  }

  ackedKeys(): IterableIterator<string> {
    return this.#acked.keys();
  }

  #append(e: Buffer): void {
    const idx = this.entries.length;
    this.entries.push(e);
    let key = '';
    try {
      const d = decodeEntry(e);
      key = `${d.src}\0${d.id}`;
    } catch (err) {
      this.#problem(`entry ${idx} does not decode: ${(err as Error).message}`);
    }
    this.#keys.push(key);
    if (key !== '' && !key.endsWith('\0')) {
      const prev = this.#where.get(key);
      if (prev !== undefined) {
        this.duplicated++;
        stats.duplicated++;
        this.#problem(`${JSON.stringify(key)} at ${prev} and ${idx}`);
      } else this.#where.set(key, idx);
    }
    // Extend the compact range.
    let node = { h: sha(LEAF, e), n: 1 };
    while (this.#range.length > 0 && this.#range[this.#range.length - 1]!.n === node.n) {
      const left = this.#range.pop()!;
      node = { h: sha(NODE, left.h, node.h), n: left.n * 2 };
    }
    this.#range.push(node);
    const size = idx + 1;
    if (this.#pending.has(size)) {
      this.#pending.delete(size);
      const r = this.root().toString('hex');
      this.#rootAt.set(size, r);
      this.#checkRootAt(size, r);
    }
  }

  /** Root of the first `size` mirrored leaves, recomputed (rare: a size observed late). */
  #rootOfPrefix(size: number): string {
    const range: { h: Buffer; n: number }[] = [];
    for (let i = 0; i < size; i++) {
      let node = { h: sha(LEAF, this.entries[i]!), n: 1 };
      while (range.length > 0 && range[range.length - 1]!.n === node.n) {
        const left = range.pop()!;
        node = { h: sha(NODE, left.h, node.h), n: left.n * 2 };
      }
      range.push(node);
    }
    const r = foldRange(range.map((x) => x.h)).toString('hex');
    this.#rootAt.set(size, r);
    return r;
  }

  /** Root of the mirrored prefix. */
  root(): Buffer {
    return foldRange(this.#range.map((x) => x.h));
  }

  /**
   * Brings the mirror up to the server's latest checkpoint: re-downloads from the bundle that
   * holds the mirror's last entry (comparing what it had), plus `recheck` random older full
   * bundles, then checks the root against the checkpoint and every acknowledged leaf not
   * checked yet. `full` re-downloads and compares everything.
   */
  async sync(url: string, opts: { recheck?: number; full?: boolean; rand?: () => number } = {}) {
    const cp = await fetchCheckpoint(url, this.vkey);
    this.observe(cp);
    if (cp.size < this.size) {
      this.lost += this.size - cp.size;
      stats.lost += this.size - cp.size;
      this.#problem(`tree shrank from ${this.size} to ${cp.size}`);
    }
    const rand = opts.rand ?? Math.random;
    const fullBundles = Math.floor(this.size / 256);
    const toCheck = new Set<number>();
    const first = opts.full ? 0 : fullBundles;
    for (let n = first; n * 256 < cp.size; n++) toCheck.add(n);
    for (let i = 0; i < (opts.recheck ?? 0) && fullBundles > 0; i++)
      toCheck.add(Math.floor(rand() * fullBundles));
    for (const n of [...toCheck].sort((a, b) => a - b)) {
      const width = Math.min(256, cp.size - n * 256);
      if (width <= 0) continue;
      const res = await send(`${url}/${entryBundlePath(n, width)}`);
      if (res.status !== 200) throw new Error(`bundle ${n}.p/${width}: HTTP ${res.status}`);
      const got = parseBundle(new Uint8Array(await res.arrayBuffer()));
      if (got.length !== width) throw new Error(`bundle ${n} has ${got.length} entries, want ${width}`);
      got.forEach((e, i) => {
        const idx = n * 256 + i;
        const b = Buffer.from(e);
        if (idx < this.size) {
          if (!b.equals(this.entries[idx]!)) {
            this.lost++;
            stats.lost++;
            this.#problem(`leaf ${idx} changed`);
          }
        } else if (idx === this.size) this.#append(b);
      });
    }
    if (this.size !== cp.size) throw new Error(`mirror has ${this.size} leaves, checkpoint ${cp.size}`);
    const root = this.root().toString('hex');
    if (root !== cp.root) {
      this.forks++;
      stats.forks++;
      this.#problem(`recomputed root ${root} differs from checkpoint ${cp.size} root ${cp.root}`);
    }
    // Every acknowledged leaf not yet checked is in place.
    const keys = opts.full ? [...this.#acked.keys()] : this.#unchecked;
    this.#unchecked = [];
    for (const key of keys) this.#checkAcked(key);
    return cp;
  }

  #checkAcked(key: string): void {
    const idx = this.#acked.get(key)!;
    if (idx >= this.size || this.#keys[idx] !== key) {
      this.lost++;
      stats.lost++;
      this.#problem(
        `acknowledged ${JSON.stringify(key)} at ${idx} is ${idx >= this.size ? 'beyond the tree' : `not there (found ${JSON.stringify(this.#keys[idx])})`}`,
      );
    }
  }

  /** Observed sizes beyond the downloaded tree: signed leaves that went missing. */
  finish(): void {
    for (const s of this.#pending) {
      if (s > this.size) {
        this.forks++;
        stats.forks++;
        this.#problem(`observed checkpoint ${s} is beyond the final tree ${this.size}`);
      }
    }
    this.#pending.clear();
    // Cross-check the independent root with src/core's implementation once.
    const mine = this.root().toString('hex');
    const theirs = Buffer.from(rootOfLeafHashes(this.entries.map((e) => sha(LEAF, e)))).toString('hex');
    if (mine !== theirs) this.#problem(`mirror root ${mine} != src/core root ${theirs}`);
  }

  /** Number of checkpoints (distinct sizes) observed. */
  get observedCount(): number {
    return this.#seen.size;
  }

  /** The leaf key at an index (`${src}\0${id}`). */
  keyAt(index: number): string | undefined {
    return this.#keys[index];
  }
}

/** The mirror key of a leaf. */
export const leafKey = (source: string, id: string): string => `${source}\0${id}`;
