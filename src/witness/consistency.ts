/**
 * Checking that two log-signed checkpoints of one origin belong to one append-only tree: same
 * size ⇒ same root; otherwise the smaller is a prefix of the larger, proven by a consistency
 * proof fetched from the log's JSON proof API (`GET /v1/proof/consistency?from=M&to=N`, see
 * spec/endpoints.md) and verified locally: the log's answer is never trusted as such.
 * Shared by witness gossip and `opa-tlog monitor`.
 */
import { bytesEqual, fromBase64 } from '../core/bytes.js';
import { verifyConsistency } from '../core/merkle.js';
import { MAX_JSON_RESPONSE_BYTES } from '../core/response-caps.js';
import { type CappedAnswer, fetchCappedText } from './fetch-text.js';

/** A log-signed checkpoint whose log signature has been verified. */
export interface SignedHead {
  size: number;
  root: Uint8Array;
  /** The signed note as received. */
  note: string;
  /** Where it was seen (e.g. `log https://…/checkpoint`, `witness https://…`). */
  source: string;
}

/** The outcome of {@link checkPair}. */
export type PairResult =
  | { status: 'consistent' }
  /** Definitive: the log signed two checkpoints that cannot belong to one tree. */
  | {
      status: 'split';
      reason: 'same_size_different_root' | 'inconsistent_proof';
      detail: string;
      proof?: { from: number; to: number; hashes: Uint8Array[]; url: string };
    }
  /** Could not decide (no log URL, proof unavailable, network error). */
  | { status: 'unresolved'; detail: string };

/** A fetch of a consistency proof that failed (HTTP error, bad JSON, bad hashes). */
export class ProofFetchError extends Error {
  override readonly name = 'ProofFetchError';
}

/**
 * Fetches PROOF(from, to) from an opa-tlog log's JSON proof API (answer capped at
 * MAX_JSON_RESPONSE_BYTES). Throws {@link ProofFetchError} on HTTP errors, an oversized answer,
 * malformed JSON, or hashes that are not base64 32 bytes.
 */
export async function fetchConsistencyProof(
  logUrl: string,
  from: number,
  to: number,
  opts: { fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<{ hashes: Uint8Array[]; url: string }> {
  const url = `${logUrl.replace(/\/+$/, '')}/v1/proof/consistency?from=${from}&to=${to}`;
  let res: CappedAnswer;
  try {
    res = await fetchCappedText(opts.fetch ?? fetch, url, MAX_JSON_RESPONSE_BYTES, opts.timeoutMs ?? 10_000);
  } catch (err) {
    throw new ProofFetchError(`${url}: ${(err as Error).message}`);
  }
  const text = res.text;
  if (res.status !== 200) throw new ProofFetchError(`${url}: HTTP ${res.status}: ${text.slice(0, 200)}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ProofFetchError(`${url}: response is not JSON`);
  }
  const proof = (json as { proof?: unknown }).proof;
  if (!Array.isArray(proof)) throw new ProofFetchError(`${url}: response has no "proof" array`);
  const hashes = proof.map((p) => {
    const h = typeof p === 'string' ? fromBase64(p) : undefined;
    if (h === undefined || h.length !== 32) throw new ProofFetchError(`${url}: proof element is not a hash`);
    return h;
  });
  return { hashes, url };
}

/**
 * Decides whether `a` and `b` (same origin, both log-signed) can belong to one tree. Equal sizes
 * compare roots; otherwise a proof from the smaller to the larger size is fetched from `logUrl`
 * and verified against both signed roots. A proof that does not verify is a split view (the log
 * signed both heads and its own proof does not connect them).
 */
export async function checkPair(
  a: SignedHead,
  b: SignedHead,
  logUrl: string | undefined,
  opts: { fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<PairResult> {
  if (a.size === b.size) {
    if (bytesEqual(a.root, b.root)) return { status: 'consistent' };
    return {
      status: 'split',
      reason: 'same_size_different_root',
      detail: `two log-signed checkpoints of size ${a.size} with different roots (${a.source}; ${b.source})`,
    };
  }
  const [small, large] = a.size < b.size ? [a, b] : [b, a];
  if (logUrl === undefined) {
    return { status: 'unresolved', detail: `no log URL to prove ${small.size} -> ${large.size}` };
  }
  let fetched: { hashes: Uint8Array[]; url: string };
  try {
    fetched = await fetchConsistencyProof(logUrl, small.size, large.size, opts);
  } catch (err) {
    return { status: 'unresolved', detail: (err as Error).message };
  }
  try {
    verifyConsistency(small.size, large.size, small.root, large.root, fetched.hashes);
    return { status: 'consistent' };
  } catch (err) {
    return {
      status: 'split',
      reason: 'inconsistent_proof',
      detail:
        `the log's consistency proof ${small.size} -> ${large.size} does not connect the signed roots ` +
        `(${small.source}; ${large.source}): ${(err as Error).message}`,
      proof: { from: small.size, to: large.size, hashes: fetched.hashes, url: fetched.url },
    };
  }
}
