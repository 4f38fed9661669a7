/**
 * C2SP tlog-policy (c2sp.org/tlog-policy): which logs are trusted and which witness cosignatures
 * form a quorum. Parser with line-numbered errors, and an evaluator over verified signatures.
 */
import { bytesEqual, fromUtf8, parseCanonicalDecimal } from './bytes.js';
import { type Checkpoint, parseCheckpoint } from './checkpoint.js';
import { type CosignatureV1Verifier, newCosignatureV1Verifier } from './cosignature.js';
import {
  type Ed25519NoteVerifier,
  NoteError,
  type NoteSignature,
  newEd25519Verifier,
  type OpenedNote,
  openNote,
  parseNote,
} from './note.js';

/** A `log <vkey> [<url>]` line. */
export interface PolicyLog {
  vkey: string;
  url?: string;
  /** Ed25519 (0x01) verifier; its name is the log origin. */
  verifier: Ed25519NoteVerifier;
  line: number;
}

/** A `witness <name> <vkey> [<url>]` line. */
export interface PolicyWitness {
  name: string;
  vkey: string;
  url?: string;
  /** cosignature/v1 verifier (0x04 vkey, or 0x01 vkey re-keyed to 0x04). */
  verifier: CosignatureV1Verifier;
  line: number;
}

/** A `group <name> <k|any|all> <member>...` line; `threshold` is the resolved k. */
export interface PolicyGroup {
  name: string;
  threshold: number;
  members: string[];
  line: number;
}

/** A parsed policy. `quorum` is a witness or group name, or 'none'. */
export interface Policy {
  logs: PolicyLog[];
  witnesses: Map<string, PolicyWitness>;
  groups: Map<string, PolicyGroup>;
  quorum: string;
}

/** Stable machine-readable error codes of {@link PolicyError}. */
export type PolicyErrorCode =
  /** A tlog-policy file is malformed (details.line gives the 1-based line). */
  | 'malformed_policy'
  /** No log of the policy has a key whose name equals the checkpoint origin. */
  | 'unknown_log'
  /** The checkpoint is log-signed but the policy's witness quorum is not met. */
  | 'policy_unsatisfied';

/** A policy refused, or a checkpoint refused by a policy (a {@link NoteError}, so one catch serves). */
export class PolicyError extends NoteError<PolicyErrorCode> {
  override readonly name = 'PolicyError';
}

function fail(line: number, message: string): PolicyError {
  return new PolicyError('malformed_policy', `policy line ${line}: ${message}`, { line });
}

/** Checks the tlog-policy character set on one line: only tab, 0x20-0x7E and non-ASCII. */
function checkChars(text: string, lineNo: number): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      throw fail(lineNo, `forbidden control character 0x${c.toString(16).padStart(2, '0')}`);
    }
  }
}

/** What {@link parsePolicy} has read so far: the policy under construction. */
interface PolicyDraft {
  logs: PolicyLog[];
  witnesses: Map<string, PolicyWitness>;
  groups: Map<string, PolicyGroup>;
  quorum: string | undefined;
}

/** True iff `name` is a witness or group defined on an earlier line. */
function isDefined(p: PolicyDraft, name: string): boolean {
  return p.witnesses.has(name) || p.groups.has(name);
}

/** Throws unless `name` may name a new witness or group: not 'none', not already defined. */
function checkNewName(p: PolicyDraft, name: string, n: number): void {
  if (name === 'none') throw fail(n, `the name "none" is reserved`);
  if (isDefined(p, name)) throw fail(n, `name ${JSON.stringify(name)} is already defined`);
}

/** `log <vkey> [<url>]`: an Ed25519 (0x01) log key, its public key not already listed. */
function addLog(p: PolicyDraft, items: string[], n: number): void {
  if (items.length < 2 || items.length > 3) throw fail(n, 'expected "log <vkey> [<url>]"');
  const vkey = items[1]!;
  let verifier: Ed25519NoteVerifier;
  try {
    verifier = newEd25519Verifier(vkey);
  } catch (e) {
    throw fail(n, `invalid log vkey: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (p.logs.some((l) => bytesEqual(l.verifier.publicKey, verifier.publicKey))) {
    throw fail(n, 'duplicate log public key');
  }
  p.logs.push({ vkey, verifier, line: n, ...(items[2] !== undefined ? { url: items[2] } : {}) });
}

/** `witness <name> <vkey> [<url>]`: a new name, a cosignature/v1 key not already listed. */
function addWitness(p: PolicyDraft, items: string[], n: number): void {
  if (items.length < 3 || items.length > 4) throw fail(n, 'expected "witness <name> <vkey> [<url>]"');
  const name = items[1]!;
  checkNewName(p, name, n);
  const vkey = items[2]!;
  let verifier: CosignatureV1Verifier;
  try {
    verifier = newCosignatureV1Verifier(vkey);
  } catch (e) {
    throw fail(n, `invalid witness vkey: ${e instanceof Error ? e.message : String(e)}`);
  }
  for (const w of p.witnesses.values()) {
    if (bytesEqual(w.verifier.publicKey, verifier.publicKey)) {
      throw fail(n, `duplicate witness public key (already used by ${JSON.stringify(w.name)})`);
    }
  }
  p.witnesses.set(name, {
    name,
    vkey,
    verifier,
    line: n,
    ...(items[3] !== undefined ? { url: items[3] } : {}),
  });
}

/** The k of a group line: any = 1, all = n, else a canonical decimal in 1..n. */
function groupThreshold(kSpec: string, members: number, n: number): number {
  if (kSpec === 'any') return 1;
  if (kSpec === 'all') return members;
  const k = parseCanonicalDecimal(kSpec);
  if (k === undefined) throw fail(n, `threshold ${JSON.stringify(kSpec)} is not any, all or a decimal`);
  if (k < 1 || k > members) {
    throw fail(n, `threshold ${k} is outside 1..${members} (number of members)`);
  }
  return k;
}

/** `group <name> <k|any|all> <member>...`: members defined earlier, once each, never 'none'. */
function addGroup(p: PolicyDraft, items: string[], n: number): void {
  if (items.length < 4) throw fail(n, 'expected "group <name> <k|any|all> <member>..."');
  const name = items[1]!;
  checkNewName(p, name, n);
  const members = items.slice(3);
  const seen = new Set<string>();
  for (const m of members) {
    if (m === 'none') throw fail(n, `"none" cannot be a group member`);
    if (!isDefined(p, m))
      throw fail(n, `group member ${JSON.stringify(m)} is not defined on an earlier line`);
    if (seen.has(m)) throw fail(n, `group member ${JSON.stringify(m)} is listed twice`);
    seen.add(m);
  }
  const threshold = groupThreshold(items[2]!, members.length, n);
  p.groups.set(name, { name, threshold, members, line: n });
}

/** `quorum <name|none>`: the only one, naming 'none' or an earlier witness or group. */
function setQuorum(p: PolicyDraft, items: string[], n: number): void {
  if (items.length !== 2) throw fail(n, 'expected "quorum <name|none>"');
  if (p.quorum !== undefined) throw fail(n, 'more than one quorum line');
  const name = items[1]!;
  if (name !== 'none' && !isDefined(p, name)) {
    throw fail(n, `quorum ${JSON.stringify(name)} is not defined on an earlier line`);
  }
  p.quorum = name;
}

const KEYWORDS: Record<string, (p: PolicyDraft, items: string[], n: number) => void> = {
  log: addLog,
  witness: addWitness,
  group: addGroup,
  quorum: setQuorum,
};

/** The policy text of `input`: strings as given, bytes as strict UTF-8 (malformed_policy otherwise). */
function policyText(input: string | Uint8Array): string {
  if (typeof input === 'string') return input;
  const decoded = fromUtf8(input);
  if (decoded === undefined) throw new PolicyError('malformed_policy', 'policy is not valid UTF-8', {});
  return decoded;
}

/**
 * Parses a tlog-policy file. Lines are "\n"-separated (a missing final newline is tolerated),
 * items separated by runs of space/tab; blank and '#' lines ignored; only tab, newline,
 * 0x20-0x7E and non-ASCII allowed. Enforces: known keywords and arities, log vkeys Ed25519 (0x01),
 * witness vkeys cosignature/v1 (0x04, or 0x01 as Tessera), no duplicate public key among logs
 * nor among witnesses, names unique across witnesses and groups and not 'none', group members
 * defined earlier, at most once per group and not 'none', 1 <= k <= n (canonical decimal, or
 * any/all), and exactly one quorum naming 'none' or an earlier name. Throws malformed_policy
 * with the 1-based line number.
 */
export function parsePolicy(input: string | Uint8Array): Policy {
  const p: PolicyDraft = { logs: [], witnesses: new Map(), groups: new Map(), quorum: undefined };
  const lines = policyText(input).split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  for (const [i, raw] of lines.entries()) {
    const n = i + 1;
    checkChars(raw, n);
    const trimmed = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const items = trimmed.split(/[ \t]+/);
    const keyword = items[0]!;
    const add = Object.hasOwn(KEYWORDS, keyword) ? KEYWORDS[keyword] : undefined;
    if (add === undefined) throw fail(n, `unknown keyword ${JSON.stringify(keyword)}`);
    add(p, items, n);
  }
  if (p.quorum === undefined) throw new PolicyError('malformed_policy', 'policy has no quorum line', {});
  return { logs: p.logs, witnesses: p.witnesses, groups: p.groups, quorum: p.quorum };
}

/**
 * True iff the policy's quorum is met when exactly the witnesses whose (key name, key ID) appear
 * in `verified` have cosigned. `verified` must contain only signatures already verified (e.g.
 * openNote's `verified`); this function checks no cryptography. Quorum 'none' is always met.
 */
export function quorumSatisfied(
  policy: Policy,
  verified: readonly Pick<NoteSignature, 'name' | 'keyId'>[],
): boolean {
  if (policy.quorum === 'none') return true;
  const signed = new Set(verified.map((s) => `${s.name}\n${s.keyId}`));
  const memo = new Map<string, boolean>();
  const satisfied = (name: string): boolean => {
    const cached = memo.get(name);
    if (cached !== undefined) return cached;
    let ok = false;
    const w = policy.witnesses.get(name);
    if (w !== undefined) ok = signed.has(`${w.verifier.name}\n${w.verifier.keyId}`);
    else {
      const g = policy.groups.get(name);
      if (g !== undefined) ok = g.members.filter(satisfied).length >= g.threshold;
    }
    memo.set(name, ok);
    return ok;
  };
  return satisfied(policy.quorum);
}

/** Result of {@link verifyCheckpointWithPolicy}. */
export interface PolicyVerifiedCheckpoint {
  checkpoint: Checkpoint;
  note: OpenedNote;
  /** The policy log whose key signed the checkpoint. */
  log: PolicyLog;
  /** Names (policy names) of the witnesses with a valid cosignature. */
  witnesses: string[];
}

/**
 * Verifies a cosigned checkpoint note against a policy: the log keys whose name equals the
 * origin (unknown_log if none) and every witness key are checked with openNote rules (any
 * failing known signature throws invalid_signature), a signature from one of those log keys is
 * required (unverified_note), then the quorum (policy_unsatisfied). On success the checkpoint is
 * signed by a policy log and cosigned by a quorum of policy witnesses.
 */
export function verifyCheckpointWithPolicy(
  note: string | Uint8Array,
  policy: Policy,
): PolicyVerifiedCheckpoint {
  const checkpoint = parseCheckpoint(parseNote(note).text);
  const logs = policy.logs.filter((l) => l.verifier.name === checkpoint.origin);
  if (logs.length === 0) {
    throw new PolicyError(
      'unknown_log',
      `no policy log has a key named after origin ${JSON.stringify(checkpoint.origin)}`,
    );
  }
  const witnessList = [...policy.witnesses.values()];
  const opened = openNote(note, [...logs.map((l) => l.verifier), ...witnessList.map((w) => w.verifier)]);
  const has = (v: { name: string; keyId: number }): boolean =>
    opened.verified.some((s) => s.name === v.name && s.keyId === v.keyId);
  const log = logs.find((l) => has(l.verifier));
  if (log === undefined) {
    throw new NoteError(
      'unverified_note',
      `checkpoint is not signed by a policy log key for ${checkpoint.origin}`,
    );
  }
  if (!quorumSatisfied(policy, opened.verified)) {
    throw new PolicyError(
      'policy_unsatisfied',
      `witness quorum ${JSON.stringify(policy.quorum)} is not satisfied`,
    );
  }
  return {
    checkpoint,
    note: opened,
    log,
    witnesses: witnessList.filter((w) => has(w.verifier)).map((w) => w.name),
  };
}
