/**
 * What the checks of one {@link LogClient} share: the keys and policy it trusts, the log's
 * HTTP source and tile fetcher, the trusted-state store, and the defaults it was built with.
 * The checks are plain functions over this context; the class only builds it.
 */
import type { Trust } from './checkpoint.js';
import type { HttpSource } from './http.js';
import type { TrustedStateStore } from './state.js';
import type { TileFetcher } from './tiles.js';

/** Where consistency proofs come from. */
export type ProofSource = 'tiles' | 'api';

/** The shared state of one client's checks. */
export interface ClientContext {
  /** The keys and policy the client trusts. */
  readonly trust: Trust;
  /** The HTTP source of the log. */
  readonly http: HttpSource;
  /** Tile fetcher (with its cache). */
  readonly tiles: TileFetcher;
  /** Trusted-state store. */
  readonly store: TrustedStateStore;
  /** Default read token for lookups. */
  readonly token: string | undefined;
  /** Default source of consistency proofs. */
  readonly consistency: ProofSource;
}
