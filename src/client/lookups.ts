/**
 * Verified lookups of a decision or an entry through the JSON API: the answer is verified on
 * its own (`decision.ts`), its payload must be shown unless the caller accepts a withheld one,
 * its checkpoint is reconciled with the trusted state, its tlog-proof must prove the same leaf,
 * and an erased payload must be backed by a verified erasure entry.
 */
import { toBase64 } from '../core/bytes.js';
import { isSafeUint } from '../core/check.js';
import { isErasure } from '../core/entry.js';
import type { ClientContext } from './context.js';
import {
  type EntryExpectation,
  type EntryResponse,
  type EntryVerification,
  verifyEntryResponse,
} from './decision.js';
import { VerifyError, type VerifyErrorCode } from './errors.js';
import { decisionPath, entryPath, fetchLookup } from './json-api.js';
import { type CheckpointCheck, reconcileCheckpoint } from './reconcile.js';
import { proveInclusionFromTiles } from './tile-proofs.js';
import { verifyTlogProof } from './tlog-proof.js';

/** A verified decision or entry lookup, checked against the trusted state. */
export interface LookupVerification extends EntryVerification {
  /** How the answer's checkpoint relates to the trusted state. */
  readonly consistency: CheckpointCheck;
  /** For an erased payload: the verified erasure entry. */
  readonly erasure?: EntryVerification;
  /**
   * Decision lookups: later entries the log holds with the same ids and other content, each
   * verified like this one (same id and source); absent when there is none.
   */
  readonly conflicts?: readonly LookupVerification[];
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

/** Error codes of a claimed erasure entry that mean the erasure claim itself is false. */
const ERASURE_REFUTED: ReadonlySet<VerifyErrorCode> = new Set(['not_found', 'entry_mismatch', 'bad_entry']);

/**
 * Looks up a decision (`GET /v1/decisions/{id}[?source=]`) and verifies it: entry, id and
 * source, commitment, checkpoint, inclusion, the answer's tlog-proof, consistency with the
 * trusted state and, for an erased payload, the erasure entry.
 */
export async function verifyDecisionLookup(
  ctx: ClientContext,
  id: string,
  opts: LookupOptions,
): Promise<LookupVerification> {
  if (id === '') throw new VerifyError('usage', 'decision id is empty');
  const expect = { id, ...(opts.source !== undefined ? { source: opts.source } : {}) };
  return verifyLookup(ctx, decisionPath(id, opts.source), expect, opts);
}

/** Looks up leaf `index` (`GET /v1/entries/{index}`) and verifies it like {@link verifyDecisionLookup}. */
export async function verifyEntryLookup(
  ctx: ClientContext,
  index: number,
  opts: LookupOptions,
): Promise<LookupVerification> {
  if (!isSafeUint(index)) throw new VerifyError('usage', `bad index ${index}`);
  return verifyLookup(ctx, entryPath(index), { index }, opts);
}

/** Fetches the answer at `path` and runs every check of a lookup (see the module comment). */
async function verifyLookup(
  ctx: ClientContext,
  path: string,
  expect: EntryExpectation,
  opts: LookupOptions,
): Promise<LookupVerification> {
  const r = await fetchLookup(ctx.http, path, opts.token ?? ctx.token);
  const v = verifyEntryResponse(r, ctx.trust, expect);
  if (v.commitment === 'withheld' && !opts.allowWithheld) {
    throw new VerifyError(
      'unauthorized',
      `the log withheld the payload of entry ${v.index} (give a read token); its inclusion verified`,
      { index: v.index, url: ctx.http.url(path) },
    );
  }
  if (opts.tiles) await proveInclusionFromTiles(ctx.tiles, v.index, v.leafHash, v.checkpoint);
  const consistency = await reconcileCheckpoint(ctx, v.checkpoint, { allowOlder: true });
  if (r.tlogProof !== null) await checkAnswerTlogProof(ctx, r.tlogProof, r, v.index);
  let erasure: EntryVerification | undefined;
  if (v.commitment === 'erased' && v.erased !== null) {
    erasure = await checkErasure(ctx, v.index, v.erased.erasureIndex);
  }
  const conflicts: LookupVerification[] = [];
  for (const i of r.conflicts)
    conflicts.push(await verifyLookup(ctx, entryPath(i), { ...expect, index: i }, opts));
  return { ...v, consistency, ...(erasure ? { erasure } : {}), ...(conflicts.length ? { conflicts } : {}) };
}

/**
 * Verifies the tlog-proof an answer carries: it must prove the answer's entry at the same
 * index ('bad_inclusion' otherwise), and its checkpoint is reconciled with the trusted state.
 */
async function checkAnswerTlogProof(
  ctx: ClientContext,
  text: string,
  r: EntryResponse,
  index: number,
): Promise<void> {
  const p = verifyTlogProof(text, ctx.trust, r.entry);
  if (p.index !== index) {
    throw new VerifyError('bad_inclusion', `the answer's tlog-proof is for index ${p.index}, not ${index}`, {
      index,
      expected: String(index),
      actual: String(p.index),
      proofSource: 'file',
    });
  }
  await reconcileCheckpoint(ctx, p.checkpoint, { allowOlder: true });
}

/**
 * Verifies the erasure entry the log names for erased entry `index`: it is looked up and
 * verified like any entry, and must be an erasure of `index`; 'bad_erasure' otherwise.
 */
async function checkErasure(
  ctx: ClientContext,
  index: number,
  erasureIndex: number,
): Promise<EntryVerification> {
  let e: LookupVerification;
  try {
    e = await verifyEntryLookup(ctx, erasureIndex, { allowWithheld: true });
  } catch (err) {
    if (!(err instanceof VerifyError) || !ERASURE_REFUTED.has(err.code)) throw err;
    throw new VerifyError(
      'bad_erasure',
      `the claimed erasure entry ${erasureIndex} does not check: ${err.message}`,
      { ...err.evidence, index },
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
