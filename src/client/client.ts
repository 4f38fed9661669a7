/**
 * The verifying client of one log. It trusts the log's key (and a witness policy) and nothing
 * the server says: checkpoints are verified, then proven consistent with the last trusted
 * checkpoint (consistency proofs built from tiles by default, or taken from the JSON proof
 * API), inclusion is proven from tiles or from the lookup answer, and decisions are checked
 * down to the commitment of their payload. Browser-safe: `fetch` and the pure core only.
 *
 * The class only holds the configuration; each check lives in the module named for it:
 * `reconcile.ts` (trusted state), `consistency.ts` (consistency proofs), `tile-proofs.ts`
 * (proofs from tiles), `lookups.ts` (decision and entry lookups), `json-api.ts` (the JSON API).
 */
import type { Policy } from '../core/policy.js';
import { MAX_CHECKPOINT_RESPONSE_BYTES } from '../core/response-caps.js';
import {
  type LogKeys,
  makeTrust,
  type Trust,
  type VerifiedCheckpoint,
  verifyCheckpointNote,
} from './checkpoint.js';
import { fetchConsistencyProof, proveConsistency } from './consistency.js';
import type { ClientContext, ProofSource } from './context.js';
import { type FetchLike, HttpSource } from './http.js';
import {
  type LookupOptions,
  type LookupVerification,
  verifyDecisionLookup,
  verifyEntryLookup,
} from './lookups.js';
import { type CheckpointCheck, loadTrusted, reconcileCheckpoint } from './reconcile.js';
import { MemoryStateStore, type TrustedStateStore } from './state.js';
import {
  proveInclusionFromTiles,
  type TileEntryVerification,
  verifyEntryFromTiles,
  verifyTreeTiles,
} from './tile-proofs.js';
import { TileCache, TileFetcher } from './tiles.js';

// The types of LogClient's API are declared beside the checks that produce them.
export type { ProofSource } from './context.js';
export type { LookupOptions, LookupVerification } from './lookups.js';
export type { CheckpointCheck, CheckpointStatus } from './reconcile.js';
export type { TileEntryVerification } from './tile-proofs.js';

/** Options of {@link LogClient}. */
export interface LogClientOptions {
  /** The log prefix URL (where /checkpoint and /tile/ live). */
  readonly url: string;
  /**
   * The log's verifier key(s): a vkey string or verifier, or several during a signer key
   * rotation (all named after the log's origin); a checkpoint signed by any one of them verifies.
   */
  readonly vkey: LogKeys;
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
  readonly #ctx: ClientContext;

  /** A client for the log at `opts.url` trusting `opts.vkey` (and `opts.policy`). */
  constructor(opts: LogClientOptions) {
    this.trust = makeTrust(opts.vkey, opts.policy);
    this.http = new HttpSource(opts.url, opts.fetch ? { fetch: opts.fetch } : {});
    this.tiles = new TileFetcher(this.http, opts.cache ?? new TileCache());
    this.store = opts.store ?? new MemoryStateStore();
    this.#ctx = {
      trust: this.trust,
      http: this.http,
      tiles: this.tiles,
      store: this.store,
      token: opts.token,
      consistency: opts.consistency ?? 'tiles',
    };
  }

  /** The log origin (the log keys' name). */
  get origin(): string {
    return this.trust.origin;
  }

  /** Fetches `/checkpoint` and verifies its signature and quorum (not its consistency). */
  async fetchCheckpoint(): Promise<VerifiedCheckpoint> {
    return verifyCheckpointNote(
      await this.http.text('checkpoint', MAX_CHECKPOINT_RESPONSE_BYTES),
      this.trust,
    );
  }

  /**
   * The trusted checkpoint, re-verified with the log keys (a store is not trusted to keep notes
   * intact); 'bad_state' if the stored note does not verify.
   */
  async trusted(): Promise<VerifiedCheckpoint | undefined> {
    return loadTrusted(this.#ctx);
  }

  /**
   * Fetches the latest checkpoint, verifies it and proves it consistent with the trusted one;
   * on success it becomes the trusted checkpoint. Refuses 'rollback' for a smaller tree,
   * 'fork' for a proven split view, 'inconsistent' / 'bad_tile' when consistency is not proven.
   */
  async update(source: ProofSource = this.#ctx.consistency): Promise<CheckpointCheck> {
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
    return reconcileCheckpoint(this.#ctx, cp, opts);
  }

  /** Consistency proof PROOF(m, n) from tiles of the tree of size n, or from the JSON API. */
  async consistencyProof(
    m: number,
    n: number,
    source: ProofSource = this.#ctx.consistency,
  ): Promise<{ proof: Uint8Array[]; claimedOldRoot?: Uint8Array }> {
    return fetchConsistencyProof(this.#ctx, m, n, source);
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
    source: ProofSource = this.#ctx.consistency,
    trustedSide: 'old' | 'new' = 'old',
  ): Promise<Uint8Array[]> {
    return proveConsistency(this.#ctx, older, newer, source, trustedSide);
  }

  /**
   * Checks that the tiles of `cp`'s tree hash to its signed root (the right-edge tiles and the
   * tiles below the largest complete subtrees); throws 'bad_tile' otherwise.
   */
  async verifyTreeTiles(cp: VerifiedCheckpoint): Promise<void> {
    return verifyTreeTiles(this.tiles, cp);
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
    return proveInclusionFromTiles(this.tiles, index, leaf, cp);
  }

  /**
   * Verifies leaf `index` from the tiles alone: the entry from its bundle, its leaf hash, and an
   * inclusion proof built from hash tiles, against `cp` (default: the latest checkpoint, after
   * {@link update}). Entries that are not opa-tlog entries are returned as opaque bytes.
   */
  async verifyEntryFromTiles(index: number, cp?: VerifiedCheckpoint): Promise<TileEntryVerification> {
    return verifyEntryFromTiles(this.tiles, index, cp ?? (await this.update()).checkpoint);
  }

  /**
   * Looks up a decision (`GET /v1/decisions/{id}[?source=]`) and verifies it: entry, id and
   * source, commitment, checkpoint, inclusion, the answer's tlog-proof, consistency with the
   * trusted state and, for an erased payload, the erasure entry.
   */
  async verifyDecision(id: string, opts: LookupOptions = {}): Promise<LookupVerification> {
    return verifyDecisionLookup(this.#ctx, id, opts);
  }

  /** Looks up leaf `index` (`GET /v1/entries/{index}`) and verifies it like {@link verifyDecision}. */
  async verifyEntry(index: number, opts: LookupOptions = {}): Promise<LookupVerification> {
    return verifyEntryLookup(this.#ctx, index, opts);
  }
}
