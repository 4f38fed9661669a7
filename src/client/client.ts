/**
 * The verifying client of one log. It trusts the log's key (and a witness policy) and nothing
 * the server says: checkpoints are verified, then proven consistent with the last trusted
 * checkpoint (consistency proofs built from tiles by default, or taken from the JSON proof
 * API), inclusion is proven from tiles or from the lookup answer, and decisions are checked
 * down to the commitment of their payload. Browser-safe: `fetch` and the pure core only.
 */
import { bytesEqual, fromBase64, toBase64 } from '../core/bytes.js';
import { isHash, isSafeUint } from '../core/check.js';
import type { Entry } from '../core/entry.js';
import { decodeEntry, isErasure } from '../core/entry.js';
import {
  consistencyProofRanges,
  hashRangesAsync,
  inclusionProofRanges,
  leafHash,
  MerkleError,
  verifyConsistency,
  verifyInclusion,
} from '../core/merkle.js';
import type { NoteVerifier } from '../core/note.js';
import type { Policy } from '../core/policy.js';
import { TILE_WIDTH, tileAtSize } from '../core/tiles.js';
import { makeTrust, type Trust, type VerifiedCheckpoint, verifyCheckpointNote } from './checkpoint.js';
import {
  type EntryExpectation,
  type EntryVerification,
  parseEntryResponse,
  verifyEntryResponse,
} from './decision.js';
import { VerifyError } from './errors.js';
import { type FetchLike, HttpSource, NotFound } from './http.js';
import { MemoryStateStore, type TrustedStateStore } from './state.js';
import { TileCache, TileFetcher } from './tiles.js';
import { verifyTlogProof } from './tlog-proof.js';

/** Where consistency proofs come from. */
export type ProofSource = 'tiles' | 'api';

/** Options of {@link LogClient}. */
export interface LogClientOptions {
  /** The log prefix URL (where /checkpoint and /tile/ live). */
  readonly url: string;
  /** The log's verifier key (vkey string or verifier). */
  readonly vkey: string | NoteVerifier;
  /** A witness policy (tlog-policy text or parsed) every checkpoint must satisfy. */
  readonly policy?: string | Policy;
  /** Trusted-state store; defaults to a fresh {@link MemoryStateStore}. */
  readonly store?: TrustedStateStore;
  /** The `fetch` to use; defaults to the global one. */
  readonly fetch?: FetchLike;
  /** Read token for payloads (sent as `Authorization: Bearer <token>` on lookups). */
  readonly token?: string;
  /** Tile cache (shared between clients if desired). */
  readonly cache?: TileCache;
  /** How to obtain consistency proofs (default 'tiles'). */
  readonly consistency?: ProofSource;
}

/** How a checkpoint relates to the trusted state. */
export type CheckpointStatus =
  /** No trusted state yet: the checkpoint is now trusted (trust on first use). */
  | 'first_use'
  /** Same as the trusted checkpoint. */
  | 'unchanged'
  /** Larger tree, proven consistent: the checkpoint replaced the trusted one. */
  | 'advanced'
  /** Smaller tree, proven to be a prefix of the trusted one (state unchanged). */
  | 'older';

/** Result of {@link LogClient.update} and {@link LogClient.reconcile}. */
export interface CheckpointCheck {
  readonly checkpoint: VerifiedCheckpoint;
  /** The trusted checkpoint it was compared with (undefined on first use). */
  readonly trusted?: VerifiedCheckpoint;
  readonly status: CheckpointStatus;
  /** The consistency proof that was checked (empty when none was needed). */
  readonly proof: readonly Uint8Array[];
  /** Where that proof came from. */
  readonly proofSource: ProofSource;
}

/** A leaf verified from the tiles alone (works with any tlog-tiles log). */
export interface TileEntryVerification {
  readonly index: number;
  /** The entry bytes from the entry bundle. */
  readonly entryBytes: Uint8Array;
  /** The entry decoded as an opa-tlog entry, or undefined if it is opaque to this client. */
  readonly entry?: Entry;
  readonly leafHash: Uint8Array;
  /** The inclusion proof built from tiles. */
  readonly proof: readonly Uint8Array[];
  readonly checkpoint: VerifiedCheckpoint;
}

/** A verified decision or entry lookup, checked against the trusted state. */
export interface LookupVerification extends EntryVerification {
  /** How the answer's checkpoint relates to the trusted state. */
  readonly consistency: CheckpointCheck;
  /** For an erased payload: the verified erasure entry. */
  readonly erasure?: EntryVerification;
}

/** Options of {@link LogClient.verifyDecision} and {@link LogClient.verifyEntry}. */
export interface LookupOptions {
  /** The decision's source (OPA `labels.id`). */
  readonly source?: string;
  /** Read token, overriding the client's. */
  readonly token?: string;
  /** Accept an answer whose payload is withheld (then only inclusion is checked). Default false. */
  readonly allowWithheld?: boolean;
  /** Also prove the inclusion from tiles (independently of the answer's proof). Default false. */
  readonly tiles?: boolean;
}

/** A verifying client for one log. */
export class LogClient {
  /** The keys and policy this client trusts. */
  readonly trust: Trust;
  /** The HTTP source of the log. */
  readonly http: HttpSource;
  /** Tile fetcher (with its cache). */
  readonly tiles: TileFetcher;
  /** Trusted-state store. */
  readonly store: TrustedStateStore;
  readonly #token: string | undefined;
  readonly #consistency: ProofSource;

  /** A client for the log at `opts.url` trusting `opts.vkey` (and `opts.policy`). */
  constructor(opts: LogClientOptions) {
    this.trust = makeTrust(opts.vkey, opts.policy);
    this.http = new HttpSource(opts.url, opts.fetch ? { fetch: opts.fetch } : {});
    this.tiles = new TileFetcher(this.http, opts.cache ?? new TileCache());
    this.store = opts.store ?? new MemoryStateStore();
    this.#token = opts.token;
    this.#consistency = opts.consistency ?? 'tiles';
  }

  /** The log origin (the log key's name). */
  get origin(): string {
    return this.trust.log.name;
  }

  /** Fetches `/checkpoint` and verifies its signature and quorum (not its consistency). */
  async fetchCheckpoint(): Promise<VerifiedCheckpoint> {
    return verifyCheckpointNote(await this.http.text('checkpoint'), this.trust);
  }

  /**
   * The trusted checkpoint, re-verified with the log key (a store is not trusted to keep notes
   * intact); 'bad_state' if the stored note does not verify.
   */
  async trusted(): Promise<VerifiedCheckpoint | undefined> {
    const note = await this.store.load(this.origin);
    if (note === undefined) return undefined;
    try {
      return verifyCheckpointNote(note, { log: this.trust.log });
    } catch (err) {
      if (!(err instanceof VerifyError)) throw err;
      throw new VerifyError('bad_state', `the stored trusted checkpoint does not verify: ${err.message}`, {
        trusted: note,
        ...(err.evidence.cause !== undefined ? { cause: err.evidence.cause } : {}),
      });
    }
  }

  /**
   * Fetches the latest checkpoint, verifies it and proves it consistent with the trusted one;
   * on success it becomes the trusted checkpoint. Refuses 'rollback' for a smaller tree,
   * 'fork' for a proven split view, 'inconsistent' / 'bad_tile' when consistency is not proven.
   */
  async update(source: ProofSource = this.#consistency): Promise<CheckpointCheck> {
    return this.reconcile(await this.fetchCheckpoint(), { allowOlder: false, source });
  }

  /**
   * Checks an already verified checkpoint against the trusted state. A larger tree must be
   * proven consistent (then it is stored); an equal size must have the same root ('fork'
   * otherwise); a smaller tree is 'rollback' unless `allowOlder`, in which case it must be
   * proven to be a prefix of the trusted tree (the state is kept).
   */
  async reconcile(
    cp: VerifiedCheckpoint,
    opts: { allowOlder?: boolean; source?: ProofSource } = {},
  ): Promise<CheckpointCheck> {
    const source = opts.source ?? this.#consistency;
    const trusted = await this.trusted();
    if (trusted === undefined) {
      await this.store.save(this.origin, cp.note);
      return { checkpoint: cp, status: 'first_use', proof: [], proofSource: source };
    }
    const m = trusted.checkpoint.size;
    const n = cp.checkpoint.size;
    if (n === m) {
      if (!bytesEqual(trusted.checkpoint.rootHash, cp.checkpoint.rootHash)) {
        throw new VerifyError('fork', `two signed checkpoints of size ${n} have different roots`, {
          trusted: trusted.note,
          checkpoint: cp.note,
          size: n,
          expected: toBase64(trusted.checkpoint.rootHash),
          actual: toBase64(cp.checkpoint.rootHash),
        });
      }
      return { checkpoint: cp, trusted, status: 'unchanged', proof: [], proofSource: source };
    }
    if (n > m) {
      const proof = await this.proveConsistency(trusted, cp, source, 'old');
      await this.store.save(this.origin, cp.note);
      return { checkpoint: cp, trusted, status: 'advanced', proof, proofSource: source };
    }
    if (!opts.allowOlder) {
      throw new VerifyError(
        'rollback',
        `the log presents a tree of size ${n}, smaller than the trusted size ${m}`,
        { trusted: trusted.note, checkpoint: cp.note, size: n, expected: `>= ${m}`, actual: String(n) },
      );
    }
    const proof = await this.proveConsistency(cp, trusted, source, 'new');
    return { checkpoint: cp, trusted, status: 'older', proof, proofSource: source };
  }

  /** Consistency proof PROOF(m, n) from tiles of the tree of size n, or from the JSON API. */
  async consistencyProof(
    m: number,
    n: number,
    source: ProofSource = this.#consistency,
  ): Promise<{ proof: Uint8Array[]; claimedOldRoot?: Uint8Array }> {
    if (source === 'tiles') {
      return { proof: await hashRangesAsync(consistencyProofRanges(m, n), this.tiles.reader(n)) };
    }
    const path = `v1/proof/consistency?from=${m}&to=${n}`;
    const body = await this.http.json(path);
    const o = (body ?? {}) as Record<string, unknown>;
    const url = this.http.url(path);
    if (!Array.isArray(o.proof)) {
      throw new VerifyError('malformed_response', 'consistency answer has no proof array', { url });
    }
    const proof = o.proof.map((h) => {
      const b = typeof h === 'string' ? fromBase64(h) : undefined;
      if (b === undefined || !isHash(b)) {
        throw new VerifyError('malformed_response', 'consistency proof hash is not base64 of 32 bytes', {
          url,
        });
      }
      return b;
    });
    const from = typeof o.from_root === 'string' ? fromBase64(o.from_root) : undefined;
    return { proof, ...(from !== undefined && from.length === 32 ? { claimedOldRoot: from } : {}) };
  }

  /**
   * Proves that `older` is a prefix of `newer` (both verified, older.size < newer.size).
   * `trustedSide` says which of the two is the trusted one (for the evidence). On failure:
   * 'fork' if the newer tree is proven to have another root at the older size, else
   * 'bad_tile' (tiles do not hash to the signed root) or 'inconsistent'.
   */
  async proveConsistency(
    older: VerifiedCheckpoint,
    newer: VerifiedCheckpoint,
    source: ProofSource = this.#consistency,
    trustedSide: 'old' | 'new' = 'old',
  ): Promise<Uint8Array[]> {
    const m = older.checkpoint.size;
    const n = newer.checkpoint.size;
    const oldRoot = older.checkpoint.rootHash;
    const newRoot = newer.checkpoint.rootHash;
    const { proof, claimedOldRoot } = await this.consistencyProof(m, n, source);
    const evidence = {
      trusted: trustedSide === 'old' ? older.note : newer.note,
      checkpoint: trustedSide === 'old' ? newer.note : older.note,
      proof: proof.map(toBase64),
      proofSource: source,
    } as const;
    let cause: string;
    try {
      verifyConsistency(m, n, oldRoot, newRoot, proof);
      return proof;
    } catch (err) {
      if (!(err instanceof MerkleError)) throw err;
      cause = err.code;
    }
    // Not consistent. Is it a proven fork: does the newer (signed) tree have another root at m?
    let alt = claimedOldRoot;
    if (source === 'tiles' && m > 0) {
      try {
        alt = (await hashRangesAsync([[0, m]], this.tiles.reader(n)))[0];
      } catch {
        alt = undefined;
      }
    }
    if (alt !== undefined && !bytesEqual(alt, oldRoot) && consistent(m, n, alt, newRoot, proof)) {
      throw new VerifyError(
        'fork',
        `split view: the signed tree of size ${n} has root ${toBase64(alt)} at size ${m}, ` +
          `but the log also signed root ${toBase64(oldRoot)} for size ${m}`,
        { ...evidence, forkedRoot: toBase64(alt), size: m, cause },
      );
    }
    if (source === 'tiles' && !(await this.#tilesMatchRoot(n, newRoot))) {
      this.tiles.cache.clear();
      throw new VerifyError('bad_tile', `the tiles of the tree of size ${n} do not hash to its signed root`, {
        ...evidence,
        size: n,
        cause,
      });
    }
    throw new VerifyError('inconsistent', `checkpoint of size ${n} is not proven consistent with size ${m}`, {
      ...evidence,
      cause,
    });
  }

  async #tilesMatchRoot(size: number, root: Uint8Array): Promise<boolean> {
    if (size === 0) return true;
    try {
      const [r] = await hashRangesAsync([[0, size]], this.tiles.reader(size));
      return r !== undefined && bytesEqual(r, root);
    } catch (err) {
      if (err instanceof VerifyError && (err.code === 'network' || err.code === 'unauthorized')) throw err;
      return false;
    }
  }

  /**
   * Checks that the tiles of `cp`'s tree hash to its signed root (the right-edge tiles and the
   * tiles below the largest complete subtrees); throws 'bad_tile' otherwise.
   */
  async verifyTreeTiles(cp: VerifiedCheckpoint): Promise<void> {
    const { size, rootHash } = cp.checkpoint;
    if (size === 0) return;
    const [root] = await hashRangesAsync([[0, size]], this.tiles.reader(size));
    if (!bytesEqual(root!, rootHash)) {
      this.tiles.cache.clear();
      throw new VerifyError(
        'bad_tile',
        `the tiles of the tree of size ${size} do not hash to its signed root`,
        {
          checkpoint: cp.note,
          size,
          expected: toBase64(rootHash),
          actual: toBase64(root!),
          proofSource: 'tiles',
        },
      );
    }
  }

  /**
   * Proves from tiles that `leaf` is at `index` in `cp`'s tree; returns the proof. Throws
   * 'bad_inclusion' when the tiles are proven honest but hold another leaf at `index`, and
   * 'bad_tile' when the tiles do not lead to the signed root.
   */
  async proveInclusionFromTiles(
    index: number,
    leaf: Uint8Array,
    cp: VerifiedCheckpoint,
  ): Promise<Uint8Array[]> {
    const size = cp.checkpoint.size;
    if (!isSafeUint(index) || index >= size) {
      throw new VerifyError('bad_inclusion', `index ${index} is not below the tree size ${size}`, {
        index,
        size,
        checkpoint: cp.note,
      });
    }
    const reader = this.tiles.reader(size);
    const proof = await hashRangesAsync(inclusionProofRanges(index, size), reader);
    if (included(index, size, leaf, proof, cp.checkpoint.rootHash)) return proof;
    const evidence = {
      index,
      size,
      leafHash: toBase64(leaf),
      proof: proof.map(toBase64),
      proofSource: 'tiles' as const,
      checkpoint: cp.note,
    };
    const tile = tileAtSize(size, 0, Math.floor(index / TILE_WIDTH))!;
    const data = await this.tiles.hashTile(0, tile.index, tile.width);
    const o = (index % TILE_WIDTH) * 32;
    const tileLeaf = data.slice(o, o + 32);
    if (!bytesEqual(tileLeaf, leaf) && included(index, size, tileLeaf, proof, cp.checkpoint.rootHash)) {
      throw new VerifyError('bad_inclusion', `the signed tree holds another leaf at index ${index}`, {
        ...evidence,
        expected: toBase64(tileLeaf),
        actual: toBase64(leaf),
      });
    }
    this.tiles.cache.clear();
    throw new VerifyError(
      'bad_tile',
      `the tiles do not prove any leaf at ${index} against the signed root`,
      evidence,
    );
  }

  /**
   * Verifies leaf `index` from the tiles alone: the entry from its bundle, its leaf hash, and an
   * inclusion proof built from hash tiles, against `cp` (default: the latest checkpoint, after
   * {@link update}). Entries that are not opa-tlog entries are returned as opaque bytes.
   */
  async verifyEntryFromTiles(index: number, cp?: VerifiedCheckpoint): Promise<TileEntryVerification> {
    const checkpoint = cp ?? (await this.update()).checkpoint;
    const size = checkpoint.checkpoint.size;
    if (!isSafeUint(index) || index >= size) {
      throw new VerifyError('not_found', `index ${index} is not below the tree size ${size}`, {
        index,
        size,
      });
    }
    const bundle = tileAtSize(size, 0, Math.floor(index / TILE_WIDTH))!;
    const entries = await this.tiles.entryBundle(bundle.index, bundle.width);
    const entryBytes = entries[index % TILE_WIDTH]!;
    const leaf = leafHash(entryBytes);
    const proof = await this.proveInclusionFromTiles(index, leaf, checkpoint);
    let entry: Entry | undefined;
    try {
      entry = decodeEntry(entryBytes);
    } catch {
      entry = undefined;
    }
    return { index, entryBytes, ...(entry ? { entry } : {}), leafHash: leaf, proof, checkpoint };
  }

  /**
   * Looks up a decision (`GET /v1/decisions/{id}[?source=]`) and verifies it: entry, id and
   * source, commitment, checkpoint, inclusion, the answer's tlog-proof, consistency with the
   * trusted state and, for an erased payload, the erasure entry.
   */
  async verifyDecision(id: string, opts: LookupOptions = {}): Promise<LookupVerification> {
    if (id === '') throw new VerifyError('usage', 'decision id is empty');
    const q = opts.source !== undefined ? `?source=${encodeURIComponent(opts.source)}` : '';
    return this.#lookup(`v1/decisions/${encodeURIComponent(id)}${q}`, { id, ...sourceOf(opts) }, opts);
  }

  /** Looks up leaf `index` (`GET /v1/entries/{index}`) and verifies it like {@link verifyDecision}. */
  async verifyEntry(index: number, opts: LookupOptions = {}): Promise<LookupVerification> {
    if (!isSafeUint(index)) throw new VerifyError('usage', `bad index ${index}`);
    return this.#lookup(`v1/entries/${index}`, { index }, opts);
  }

  async #lookup(path: string, expect: EntryExpectation, opts: LookupOptions): Promise<LookupVerification> {
    const token = opts.token ?? this.#token;
    let body: unknown;
    try {
      body = await this.http.json(path, token !== undefined ? { Authorization: `Bearer ${token}` } : {});
    } catch (err) {
      if (err instanceof NotFound)
        throw new VerifyError('not_found', `the log has no such entry: ${err.url}`, { url: err.url });
      throw err;
    }
    const r = parseEntryResponse(body);
    const v = verifyEntryResponse(r, this.trust, expect);
    if (v.commitment === 'withheld' && !opts.allowWithheld) {
      throw new VerifyError(
        'unauthorized',
        `the log withheld the payload of entry ${v.index} (give a read token); its inclusion verified`,
        { index: v.index, url: this.http.url(path) },
      );
    }
    if (opts.tiles) await this.proveInclusionFromTiles(v.index, v.leafHash, v.checkpoint);
    const consistency = await this.reconcile(v.checkpoint, { allowOlder: true });
    if (r.tlogProof !== null) {
      const p = verifyTlogProof(r.tlogProof, this.trust, r.entry);
      if (p.index !== v.index) {
        throw new VerifyError(
          'bad_inclusion',
          `the answer's tlog-proof is for index ${p.index}, not ${v.index}`,
          {
            index: v.index,
            expected: String(v.index),
            actual: String(p.index),
            proofSource: 'file',
          },
        );
      }
      await this.reconcile(p.checkpoint, { allowOlder: true });
    }
    let erasure: EntryVerification | undefined;
    if (v.commitment === 'erased' && v.erased !== null)
      erasure = await this.#checkErasure(v.index, v.erased.erasureIndex);
    return { ...v, consistency, ...(erasure ? { erasure } : {}) };
  }

  async #checkErasure(index: number, erasureIndex: number): Promise<EntryVerification> {
    let e: LookupVerification;
    try {
      e = await this.verifyEntry(erasureIndex, { allowWithheld: true });
    } catch (err) {
      if (!(err instanceof VerifyError) || !['not_found', 'entry_mismatch', 'bad_entry'].includes(err.code))
        throw err;
      throw new VerifyError(
        'bad_erasure',
        `the claimed erasure entry ${erasureIndex} does not check: ${err.message}`,
        {
          ...err.evidence,
          index,
        },
      );
    }
    if (!isErasure(e.entry) || e.entry.erases !== index) {
      throw new VerifyError('bad_erasure', `entry ${erasureIndex} is not an erasure of entry ${index}`, {
        index: erasureIndex,
        entry: toBase64(e.entryBytes),
        expected: `erasure of ${index}`,
        actual: isErasure(e.entry) ? `erasure of ${e.entry.erases}` : `kind ${e.entry.kind}`,
      });
    }
    return e;
  }
}

function sourceOf(opts: LookupOptions): { source?: string } {
  return opts.source !== undefined ? { source: opts.source } : {};
}

function consistent(
  m: number,
  n: number,
  a: Uint8Array,
  b: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  try {
    verifyConsistency(m, n, a, b, proof);
    return true;
  } catch {
    return false;
  }
}

function included(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
) {
  try {
    verifyInclusion(index, size, leaf, proof, root);
    return true;
  } catch {
    return false;
  }
}
