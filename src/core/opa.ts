/**
 * From an uploaded event to the fields of its leaf: which source and id it has (for dedup
 * and lookup), which timestamp, and which problems to flag. An audit log records what it was
 * sent, so an odd event is never refused here: what is missing or malformed is flagged in
 * the leaf instead. Pure.
 */
import { toHex } from './bytes.js';
import { type CborObject, type CborValue, encodeDeterministic } from './cbor.js';
import { type Sha256, sha256 } from './hash.js';

/** The leaf fields derived from one event. */
export interface DerivedEvent {
  readonly kind: string;
  readonly source: string;
  readonly id: string;
  readonly ts?: string;
  readonly flags: string[];
  readonly event: CborObject;
}

const isObject = (v: CborValue | undefined): v is CborObject =>
  v !== null &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  !(v instanceof Uint8Array) &&
  !(v instanceof Map);

/** Content id for events without one: "sha256:" + hex SHA-256 of the event's deterministic CBOR. */
export function contentId(event: CborValue, sha: Sha256 = sha256): string {
  return `sha256:${toHex(sha(encodeDeterministic(event)))}`;
}

/**
 * An OPA decision event (EventV1): source = `labels.id`, id = `decision_id`, ts =
 * `timestamp`. Without a usable decision_id the id is the event's content id, so an identical
 * resend still deduplicates. Flags: missing_labels, missing_labels_id, missing_decision_id,
 * missing_timestamp, and bad_* when the field is there with the wrong type.
 */
export function deriveOpaDecision(event: CborObject, sha: Sha256 = sha256): DerivedEvent {
  const flags: string[] = [];
  const labels = event.labels;
  let source = '';
  if (labels === undefined) flags.push('missing_labels');
  else if (!isObject(labels)) flags.push('bad_labels');
  else if (labels.id === undefined) flags.push('missing_labels_id');
  else if (typeof labels.id !== 'string') flags.push('bad_labels_id');
  else source = labels.id;

  let id: string | undefined;
  const did = event.decision_id;
  if (did === undefined) flags.push('missing_decision_id');
  else if (typeof did !== 'string') flags.push('bad_decision_id');
  else if (did === '') flags.push('empty_decision_id');
  else id = did;

  let ts: string | undefined;
  if (event.timestamp === undefined) flags.push('missing_timestamp');
  else if (typeof event.timestamp !== 'string') flags.push('bad_timestamp');
  else ts = event.timestamp;

  return {
    kind: 'opa.decision',
    source,
    id: id ?? contentId(event, sha),
    ...(ts !== undefined ? { ts } : {}),
    flags,
    event,
  };
}

/**
 * A Kubernetes audit event (audit.k8s.io/v1 Event): source = `k8s` (or the given cluster
 * name), id = `<auditID>/<stage>`, because the API server sends one event per stage with the
 * same auditID; ts = `stageTimestamp` (else `requestReceivedTimestamp`).
 */
export function deriveK8sAudit(event: CborObject, source: string, sha: Sha256 = sha256): DerivedEvent {
  const flags: string[] = [];
  let id: string | undefined;
  if (typeof event.auditID !== 'string' || event.auditID === '') flags.push('missing_audit_id');
  else id = typeof event.stage === 'string' ? `${event.auditID}/${event.stage}` : event.auditID;
  if (typeof event.stage !== 'string') flags.push('missing_stage');
  const tsField = event.stageTimestamp ?? event.requestReceivedTimestamp;
  let ts: string | undefined;
  if (typeof tsField === 'string') ts = tsField;
  else flags.push('missing_timestamp');
  return {
    kind: 'k8s.audit',
    source,
    id: id ?? contentId(event, sha),
    ...(ts !== undefined ? { ts } : {}),
    flags,
    event,
  };
}

/** Search metadata of an OPA decision (private, never in the leaf). */
export interface DecisionMeta {
  readonly path: string | null;
  /** 'true', 'false', 'undefined' (no result), or 'value' for any other result. */
  readonly result: string;
  /** Revisions of the bundles the decision was made with (legacy `revision` included). */
  readonly bundleRevisions: string[];
  /** Event timestamp in ms since the epoch, or null if absent or unparsable. */
  readonly tsMs: number | null;
}

/** Extracts the indexed search fields of an OPA decision event. */
export function opaDecisionMeta(event: CborObject): DecisionMeta {
  const path = typeof event.path === 'string' ? event.path.replace(/^\/+/, '').replace(/^data\//, '') : null;
  const r = event.result;
  const result = r === undefined ? 'undefined' : r === true ? 'true' : r === false ? 'false' : 'value';
  const revs = new Set<string>();
  if (isObject(event.bundles)) {
    for (const b of Object.values(event.bundles)) {
      if (isObject(b) && typeof b.revision === 'string' && b.revision !== '') revs.add(b.revision);
    }
  }
  if (typeof event.revision === 'string' && event.revision !== '') revs.add(event.revision);
  const tsMs = typeof event.timestamp === 'string' ? parseRfc3339Ms(event.timestamp) : null;
  return { path, result, bundleRevisions: [...revs].sort(), tsMs };
}

/** Milliseconds since the epoch of an RFC 3339 timestamp (fraction truncated), or null. */
export function parseRfc3339Ms(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return null;
  const frac = (m[7] ?? '').padEnd(3, '0').slice(0, 3);
  const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${frac}${m[8] === 'z' ? 'Z' : m[8]}`;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}
