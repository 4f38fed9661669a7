/**
 * The decision page's verification, one check at a time, so the reader sees each outcome:
 * the entry is the one asked for, the payload matches the commitment, the leaf hash, the
 * checkpoint signature by the pinned key, the inclusion proof, the witness quorum, the
 * consistency with the newest checkpoint this browser saw, the erasure entry of an erased
 * payload, and the answer's tlog-proof file. Every check is a call into the client library or
 * the core (composition only); a check that needs a failed one's result is skipped.
 */

import { logKeysOnly, verifyCheckpointNote } from '../client/checkpoint.js';
import { type EntryResponse, parseEntryResponse } from '../client/decision.js';
import { type LogClient, NotFound, type VerifiedCheckpoint, VerifyError } from '../client/index.js';
import { checkInclusion, verifyTlogProof } from '../client/tlog-proof.js';
import { toBase64 } from '../core/bytes.js';
import { type CborValue, decodeDeterministic } from '../core/cbor.js';
import { decodeEntry, type Entry, isErasure, verifyCommitment } from '../core/entry.js';
import { leafHash } from '../core/merkle.js';
import { MAX_LOOKUP_RESPONSE_BYTES } from '../core/response-caps.js';
import { type Verdict, verdictOf } from './verdict.js';

/** Outcome of one check. */
export type StepStatus = 'passed' | 'failed' | 'skipped';

/** One check and its outcome. */
export interface Step {
  readonly id: string;
  readonly label: string;
  status: StepStatus;
  detail: string;
  /** Why a skipped check did not run, as the summary lists it ("witness cosignatures (…)"). */
  notChecked?: string;
  /** The id of a check that stands in for this skipped one (an erased payload: 'erasure'). */
  replacedBy?: string;
  error?: VerifyError;
}

/** Everything the decision page shows. */
export interface LookupCheck {
  readonly steps: Step[];
  /** The summary: 'verified' iff every check passed (or was replaced by one that passed). */
  readonly verdict: Verdict;
  readonly response: EntryResponse;
  readonly entry?: Entry;
  /** The event decoded from the verified payload. */
  readonly event?: CborValue;
  /** The verified erasure entry of an erased payload. */
  readonly erasure?: { readonly index: number; readonly reason: string };
  readonly checkpoint?: VerifiedCheckpoint;
  /** The first failure, with its evidence. */
  readonly refusal?: VerifyError;
}

/** What the page asked for. */
export interface LookupTarget {
  readonly id?: string;
  readonly source?: string;
  readonly index?: number;
}

/** The lookup path of a target: `v1/decisions/{id}[?source=]` or `v1/entries/{index}`. */
export function lookupPath(t: LookupTarget): string {
  if (t.index !== undefined) return `v1/entries/${t.index}`;
  const q = t.source !== undefined ? `?source=${encodeURIComponent(t.source)}` : '';
  return `v1/decisions/${encodeURIComponent(t.id ?? '')}${q}`;
}

/**
 * Fetches the lookup answer (with the read token, if any) and shape-checks it. Throws a
 * VerifyError: 'not_found', 'unauthorized', 'network' or 'malformed_response'.
 */
export async function fetchLookup(
  client: LogClient,
  t: LookupTarget,
  token: string | undefined,
): Promise<{ response: EntryResponse; claimedLeafHash: string | undefined }> {
  const path = lookupPath(t);
  let body: unknown;
  try {
    body = await client.http.json(
      path,
      MAX_LOOKUP_RESPONSE_BYTES,
      token !== undefined ? { Authorization: `Bearer ${token}` } : {},
    );
  } catch (err) {
    if (err instanceof NotFound) throw new VerifyError('not_found', `the log has no such entry: ${err.url}`);
    throw err;
  }
  const claimed = (body as { leaf_hash?: unknown } | null)?.leaf_hash;
  return {
    response: parseEntryResponse(body),
    claimedLeafHash: typeof claimed === 'string' ? claimed : undefined,
  };
}

/** Runs one check; a core error (not a VerifyError) becomes a VerifyError with `code`. */
async function run(
  step: Step,
  fn: () => Promise<string> | string,
  code: VerifyError['code'] = 'usage',
): Promise<void> {
  try {
    step.detail = await fn();
    step.status = 'passed';
  } catch (err) {
    step.status = 'failed';
    step.error =
      err instanceof VerifyError
        ? err
        : new VerifyError(code, err instanceof Error ? err.message : String(err));
    step.detail = step.error.message;
  }
}

function step(id: string, label: string): Step {
  return { id, label, status: 'skipped', detail: 'not checked: an earlier check failed' };
}

/** Checks the entry bytes: they decode, and are the entry asked for. */
function checkEntry(r: EntryResponse, t: LookupTarget): Entry {
  const entry = decodeEntry(r.entry);
  const asked = t.index !== undefined ? String(t.index) : `${t.id}${t.source ? ` from ${t.source}` : ''}`;
  if (
    (t.index !== undefined && r.index !== t.index) ||
    (t.id !== undefined && entry.id !== t.id) ||
    (t.source !== undefined && entry.src !== t.source)
  ) {
    throw new VerifyError(
      'entry_mismatch',
      `the log answered entry ${r.index} (${entry.id}), asked ${asked}`,
      {
        index: r.index,
        entry: toBase64(r.entry),
        expected: asked,
        actual: entry.id,
      },
    );
  }
  return entry;
}

/**
 * The commitment check: SHA-256(salt || payload) = entry.c, and the event decoded from the
 * payload. Without a payload (erased, withheld, or an erasure entry) it returns no event and
 * says why.
 */
function checkCommitment(
  r: EntryResponse,
  entry: Entry,
): { event?: CborValue; detail: string; skip?: Pick<Step, 'notChecked' | 'replacedBy'> } {
  if (r.salt === null || r.payload === null) {
    if (r.erased !== null) {
      return {
        detail: `the payload was erased by entry ${r.erased.erasureIndex}: the erasure check below replaces this one`,
        skip: {
          replacedBy: 'erasure',
          notChecked: 'the payload was erased, so the erasure check replaces the commitment check',
        },
      };
    }
    if (isErasure(entry)) {
      return {
        detail: 'an erasure entry commits to no payload: the entry is the record',
        skip: {
          replacedBy: 'leaf_hash',
          notChecked: 'an erasure entry has no payload: the leaf hash covers the whole record',
        },
      };
    }
    return {
      detail: 'the payload was withheld: give a read token (Search) to check it',
      skip: { notChecked: 'the payload (withheld: no read token)' },
    };
  }
  if (isErasure(entry) || !verifyCommitment(entry, r.salt, r.payload)) {
    throw new VerifyError(
      'commitment_mismatch',
      `SHA-256(salt || payload) is not the commitment of entry ${r.index}`,
      {
        index: r.index,
        entry: toBase64(r.entry),
        expected: 'c' in entry ? toBase64(entry.c) : 'none (erasure entry)',
      },
    );
  }
  return {
    event: decodeDeterministic(r.payload),
    detail: 'SHA-256(salt || payload) equals the commitment in the entry',
  };
}

/** Checks the erasure entry of an erased payload: it verifies and erases this index. */
async function checkErasure(client: LogClient, r: EntryResponse): Promise<string> {
  const erased = r.erased!;
  const e = await client.verifyEntry(erased.erasureIndex, { allowWithheld: true });
  if (!isErasure(e.entry) || e.entry.erases !== r.index) {
    throw new VerifyError(
      'bad_erasure',
      `entry ${erased.erasureIndex} is not an erasure of entry ${r.index}`,
      {
        index: erased.erasureIndex,
        entry: toBase64(e.entryBytes),
        expected: `erasure of ${r.index}`,
      },
    );
  }
  return `entry ${erased.erasureIndex} erases entry ${r.index} (reason: ${erased.reason || 'none given'}); it is itself proven included`;
}

const CONSISTENCY: Record<string, string> = {
  first_use: 'the first checkpoint this browser sees for this log: remembered for next time',
  unchanged: 'the same checkpoint this browser saw before',
  advanced: 'proven an extension of the checkpoint this browser saw before',
  older: 'older than the newest checkpoint this browser saw, and proven a prefix of it',
};

/**
 * Runs every check on a lookup answer and returns their outcomes. Signature, inclusion,
 * witnesses and consistency need the checkpoint to verify first; the erasure check runs for
 * an erased payload, the tlog-proof check when the answer carries one.
 */
export async function checkLookup(
  client: LogClient,
  r: EntryResponse,
  claimedLeafHash: string | undefined,
  t: LookupTarget,
): Promise<LookupCheck> {
  const s = {
    entry: step('entry', 'Entry is the one asked for'),
    commitment: step('commitment', 'Payload matches the commitment'),
    leaf: step('leaf_hash', 'Leaf hash'),
    signature: step('signature', 'Checkpoint signed by the pinned key'),
    inclusion: step('inclusion', 'Inclusion proof against the checkpoint'),
    witnesses: step('witnesses', 'Witness cosignatures against the policy'),
    consistency: step('consistency', 'Consistent with the newest checkpoint seen in this browser'),
  };
  let entry: Entry | undefined;
  let event: CborValue | undefined;
  let cp: VerifiedCheckpoint | undefined;
  await run(
    s.entry,
    () => {
      entry = checkEntry(r, t);
      return `entry ${r.index}: ${entry.kind} ${entry.id} from ${entry.src}`;
    },
    'bad_entry',
  );
  if (entry !== undefined) {
    const e = entry;
    let skip: Pick<Step, 'notChecked' | 'replacedBy'> | undefined;
    await run(
      s.commitment,
      () => {
        const c = checkCommitment(r, e);
        event = c.event;
        skip = c.skip;
        return c.detail;
      },
      'commitment_mismatch',
    );
    // Nothing to compare is not a pass: the summary lists it, unless another check replaces it.
    if (skip !== undefined && s.commitment.status === 'passed') {
      Object.assign(s.commitment, skip, { status: 'skipped' });
    }
  }
  const leaf = leafHash(r.entry);
  await run(s.leaf, () => {
    const mine = toBase64(leaf);
    if (claimedLeafHash !== undefined && claimedLeafHash !== mine) {
      throw new VerifyError('bad_inclusion', 'the leaf hash the log sent is not SHA-256(0x00 || entry)', {
        index: r.index,
        expected: mine,
        actual: claimedLeafHash,
      });
    }
    return `SHA-256(0x00 || entry) = ${mine}`;
  });
  await run(s.signature, () => {
    cp = verifyCheckpointNote(r.checkpoint, logKeysOnly(client.trust));
    return `checkpoint of size ${cp.checkpoint.size} for ${cp.checkpoint.origin}, signed by the pinned key`;
  });
  if (cp !== undefined) await checkAgainstCheckpoint(client, r, leaf, cp, s);
  const steps: Step[] = [...Object.values(s), ...(await extraSteps(client, r, entry !== undefined))];
  const refusal = steps.find((x) => x.status === 'failed')?.error;
  return {
    steps,
    verdict: verdictOf(steps),
    response: r,
    ...(entry ? { entry } : {}),
    ...(event !== undefined ? { event } : {}),
    ...(r.erased ? { erasure: { index: r.erased.erasureIndex, reason: r.erased.reason } } : {}),
    ...(cp ? { checkpoint: cp } : {}),
    ...(refusal ? { refusal } : {}),
  };
}

/** The erasure check (erased payload of a decodable entry) and the tlog-proof file check. */
async function extraSteps(client: LogClient, r: EntryResponse, decoded: boolean): Promise<Step[]> {
  const out: Step[] = [];
  if (r.erased !== null && decoded) {
    const e = step('erasure', 'Erasure entry');
    await run(e, () => checkErasure(client, r), 'bad_erasure');
    out.push(e);
  }
  if (r.tlogProof !== null) {
    const p = step('proof_file', 'Downloadable tlog-proof file');
    await run(p, () => checkProofFile(client, r));
    out.push(p);
  }
  return out;
}

/** The checks that need the verified checkpoint: inclusion, witnesses, consistency. */
async function checkAgainstCheckpoint(
  client: LogClient,
  r: EntryResponse,
  leaf: Uint8Array,
  cp: VerifiedCheckpoint,
  s: Record<'inclusion' | 'witnesses' | 'consistency', Step>,
): Promise<void> {
  await run(s.inclusion, () => {
    checkInclusion(r.index, leaf, r.proof, cp, 'response');
    return `${r.proof.length} proof hashes lead from leaf ${r.index} to the root of the tree of size ${cp.checkpoint.size}`;
  });
  if (client.trust.policy === undefined) {
    s.witnesses.notChecked = 'witness cosignatures (no policy pinned)';
    s.witnesses.detail = 'no witness policy pinned: only the log key is checked (pin one in Settings)';
  } else {
    await run(s.witnesses, () => {
      const w = verifyCheckpointNote(r.checkpoint, client.trust);
      return `quorum met: cosigned by ${w.witnesses.join(', ') || 'no witness needed (quorum none)'}`;
    });
  }
  await run(s.consistency, async () => {
    const c = await client.reconcile(cp, { allowOlder: true });
    return CONSISTENCY[c.status] ?? c.status;
  });
}

/** Verifies the answer's tlog-proof file offline, for the same entry and index. */
function checkProofFile(client: LogClient, r: EntryResponse): string {
  const p = verifyTlogProof(r.tlogProof!, logKeysOnly(client.trust), r.entry);
  if (p.index !== r.index) {
    throw new VerifyError('bad_inclusion', `the tlog-proof is for index ${p.index}, not ${r.index}`, {
      index: r.index,
      proofSource: 'file',
    });
  }
  return `proves entry ${p.index} in the tree of size ${p.checkpoint.checkpoint.size}, offline`;
}
