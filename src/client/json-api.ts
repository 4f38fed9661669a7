/**
 * The log's JSON read API as the client calls it: the consistency-proof endpoint and the
 * decision / entry lookups (with the read token). Answers are only shape-checked here; nothing
 * in them is trusted until the checks of `consistency.ts` and `decision.ts` verify it against
 * a signed checkpoint.
 */
import { fromBase64 } from '../core/bytes.js';
import { isHash } from '../core/check.js';
import { HASH_SIZE } from '../core/hash.js';
import { MAX_JSON_RESPONSE_BYTES, MAX_LOOKUP_RESPONSE_BYTES } from '../core/response-caps.js';
import { type EntryResponse, parseEntryResponse } from './decision.js';
import { VerifyError } from './errors.js';
import { type HttpSource, NotFound } from './http.js';

/** A consistency proof as the API answers it (nothing verified). */
export interface ApiConsistencyProof {
  /** PROOF(m, n). */
  proof: Uint8Array[];
  /** The root the server claims the tree had at size m (used only to prove a fork). */
  claimedOldRoot?: Uint8Array;
}

/** Path of the consistency proof PROOF(m, n) (`GET /v1/proof/consistency`). */
export function consistencyPath(m: number, n: number): string {
  return `v1/proof/consistency?from=${m}&to=${n}`;
}

/** Path of the lookup of decision `id` (optionally from `source`). */
export function decisionPath(id: string, source?: string): string {
  const q = source !== undefined ? `?source=${encodeURIComponent(source)}` : '';
  return `v1/decisions/${encodeURIComponent(id)}${q}`;
}

/** Path of the lookup of leaf `index`. */
export function entryPath(index: number): string {
  return `v1/entries/${index}`;
}

/**
 * Checks the shape of a consistency answer: `proof` an array of base64 32-byte hashes, and an
 * optional `from_root` (kept only when it is 32 bytes). Throws 'malformed_response' with `url`.
 */
export function parseConsistencyAnswer(body: unknown, url: string): ApiConsistencyProof {
  const o = (body ?? {}) as Record<string, unknown>;
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
  return { proof, ...(from !== undefined && from.length === HASH_SIZE ? { claimedOldRoot: from } : {}) };
}

/** Fetches PROOF(m, n) from the JSON API and checks its shape (see {@link parseConsistencyAnswer}). */
export async function fetchApiConsistencyProof(
  http: HttpSource,
  m: number,
  n: number,
): Promise<ApiConsistencyProof> {
  const path = consistencyPath(m, n);
  return parseConsistencyAnswer(await http.json(path, MAX_JSON_RESPONSE_BYTES), http.url(path));
}

/**
 * GETs a lookup answer at `path` (with `Authorization: Bearer <token>` when a token is given)
 * and checks its shape. A 404 is 'not_found'; see {@link parseEntryResponse} for the rest.
 */
export async function fetchLookup(http: HttpSource, path: string, token?: string): Promise<EntryResponse> {
  let body: unknown;
  try {
    const auth: Record<string, string> = token !== undefined ? { Authorization: `Bearer ${token}` } : {};
    body = await http.json(path, MAX_LOOKUP_RESPONSE_BYTES, auth);
  } catch (err) {
    if (err instanceof NotFound) {
      throw new VerifyError('not_found', `the log has no such entry: ${err.url}`, { url: err.url });
    }
    throw err;
  }
  return parseEntryResponse(body);
}
