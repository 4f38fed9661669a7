/**
 * Typed refusals of the verifying client. Every failure is a {@link VerifyError} with a stable
 * `code` and the `evidence` that supports it (the checkpoint notes involved, the proof hashes,
 * the URL and status of a failed request), so that a refusal can be shown to a third party.
 */

/** Stable machine-readable reasons for a {@link VerifyError}. */
export type VerifyErrorCode =
  /** The checkpoint is not signed by the log key (or a known signature on it does not verify). */
  | 'bad_signature'
  /** The checkpoint note or body does not parse. */
  | 'malformed_checkpoint'
  /** The checkpoint origin differs from the log key name (or from the trusted state's origin). */
  | 'origin_mismatch'
  /** The witness policy names no log whose key name is the checkpoint origin. */
  | 'unknown_log'
  /** The checkpoint is log-signed but too few policy witnesses cosigned it. */
  | 'quorum_not_met'
  /** The log presents a checkpoint of a smaller tree than the trusted one. */
  | 'rollback'
  /** Proven split view: two signed checkpoints that cannot both describe one append-only log. */
  | 'fork'
  /** A checkpoint could not be proven consistent with the trusted one. */
  | 'inconsistent'
  /** The leaf is not proven included in the checkpoint's tree at the claimed index. */
  | 'bad_inclusion'
  /** A hash tile or entry bundle is malformed or does not hash to the signed root. */
  | 'bad_tile'
  /** A tile or entry bundle that the signed tree implies is missing (a hole in the log). */
  | 'gap'
  /** The entry bytes do not decode as an opa-tlog entry where one is required. */
  | 'bad_entry'
  /** The entry is not the one asked for (other decision id, source or index). */
  | 'entry_mismatch'
  /** The log claims a payload was erased but shows no valid erasure entry for it. */
  | 'bad_erasure'
  /** SHA-256(salt || payload) differs from the entry's commitment, or the payload is missing. */
  | 'commitment_mismatch'
  /** A JSON answer of the server is not what the API specifies. */
  | 'malformed_response'
  /** An answer of the server is larger than the cap for its kind (it was not read to the end). */
  | 'response_too_large'
  /** A tlog-proof file does not follow c2sp.org/tlog-proof. */
  | 'malformed_proof'
  /** The stored trusted state does not verify under the configured key. */
  | 'bad_state'
  /** The log says the decision or entry does not exist. */
  | 'not_found'
  /** The server refused the read token (401/403). */
  | 'unauthorized'
  /** The server could not be reached or answered an unexpected HTTP status. */
  | 'network'
  /** The caller passed invalid arguments. */
  | 'usage';

/** Facts supporting a refusal. Hashes are base64; notes are verbatim signed notes. */
export interface Evidence {
  /** The trusted (previously verified) checkpoint note. */
  trusted?: string;
  /** The checkpoint note that was refused, or against which a proof failed. */
  checkpoint?: string;
  /** Proof hashes (base64) that failed to verify. */
  proof?: string[];
  /** Where the failing proof came from. */
  proofSource?: 'tiles' | 'api' | 'response' | 'file';
  /** For a proven fork: the root the new tree has at the trusted size (base64). */
  forkedRoot?: string;
  /** Leaf index concerned. */
  index?: number;
  /** Tree size concerned. */
  size?: number;
  /** Leaf hash that was checked (base64). */
  leafHash?: string;
  /** Entry bytes concerned (base64). */
  entry?: string;
  /** What was expected (base64 hash, id, count, ...). */
  expected?: string;
  /** What was found instead. */
  actual?: string;
  /** URL of the failed request. */
  url?: string;
  /** HTTP status of the failed request. */
  status?: number;
  /** Code of the underlying core error (e.g. MerkleError 'root_mismatch'). */
  cause?: string;
}

/** A verification refusal or a usage/network failure, with a stable code and evidence. */
export class VerifyError extends Error {
  override readonly name = 'VerifyError';
  /** Stable reason code. */
  readonly code: VerifyErrorCode;
  /** The facts that support the refusal. */
  readonly evidence: Evidence;

  /** Creates a refusal with `code`, a human-readable `message` and its `evidence`. */
  constructor(code: VerifyErrorCode, message: string, evidence: Evidence = {}) {
    super(message);
    this.code = code;
    this.evidence = evidence;
  }
}

/** Codes that mean "could not check" (usage or transport), not "checked and refused". */
const NOT_VERIFICATION: ReadonlySet<VerifyErrorCode> = new Set([
  'usage',
  'network',
  'unauthorized',
  'response_too_large',
]);

/**
 * True iff `code` reports a verification failure (the log misbehaved or the data is wrong),
 * false for usage, network and authorization problems. The CLI maps true to exit 1, false to 2.
 */
export function isVerificationFailure(code: VerifyErrorCode): boolean {
  return !NOT_VERIFICATION.has(code);
}

/** Indents every line of `text` by `prefix`. */
function indent(text: string, prefix: string): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

/** Human-readable rendering of a refusal and all its evidence, for terminals and logs. */
export function formatVerifyError(err: VerifyError): string {
  const e = err.evidence;
  const lines = [`refused (${err.code}): ${err.message}`];
  const scalar: [string, string | number | undefined][] = [
    ['index', e.index],
    ['tree size', e.size],
    ['leaf hash', e.leafHash],
    ['expected', e.expected],
    ['actual', e.actual],
    ['forked root at trusted size', e.forkedRoot],
    ['proof source', e.proofSource],
    ['url', e.url],
    ['http status', e.status],
    ['underlying error', e.cause],
    ['entry (base64)', e.entry],
  ];
  for (const [k, v] of scalar) if (v !== undefined) lines.push(`  ${k}: ${v}`);
  if (e.proof !== undefined) {
    lines.push(`  proof (${e.proof.length} hashes):`);
    for (const h of e.proof) lines.push(`    ${h}`);
  }
  if (e.trusted !== undefined) lines.push('  trusted checkpoint:', indent(e.trusted, '    | '));
  if (e.checkpoint !== undefined) lines.push('  presented checkpoint:', indent(e.checkpoint, '    | '));
  return lines.join('\n');
}
