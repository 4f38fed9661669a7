/**
 * From an uploaded event to the fields of its leaf: which source and id it has (for dedup
 * and lookup), which timestamp, and which problems to flag. An audit log records what it was
 * sent, so an odd event is never refused here: what is missing or malformed is flagged in
 * the leaf instead. Pure.
 */
import { toHex, twoDigits as two } from './bytes.js';
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

  const d: { -readonly [K in keyof DerivedEvent]: DerivedEvent[K] } = {
    kind: 'opa.decision',
    source,
    id: id ?? contentId(event, sha),
    flags,
    event,
  };
  if (ts !== undefined) d.ts = ts;
  return d;
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

/** A decision's path as searched: without leading slashes and a `data/` prefix. */
function searchPath(p: string): string {
  if (p.charCodeAt(0) !== 0x2f && !p.startsWith('data/')) return p;
  return p.replace(/^\/+/, '').replace(/^data\//, '');
}

/** Extracts the indexed search fields of an OPA decision event. */
export function opaDecisionMeta(event: CborObject): DecisionMeta {
  const path = typeof event.path === 'string' ? searchPath(event.path) : null;
  const r = event.result;
  const result = r === undefined ? 'undefined' : r === true ? 'true' : r === false ? 'false' : 'value';
  // An array, not a Set: a decision names one or two bundles (this runs for every decision).
  const revs: string[] = [];
  const add = (rev: unknown) => {
    if (typeof rev === 'string' && rev !== '' && !revs.includes(rev)) revs.push(rev);
  };
  const bundles = event.bundles;
  if (isObject(bundles)) {
    for (const name in bundles) {
      const b = bundles[name];
      if (isObject(b)) add(b.revision);
    }
  }
  add(event.revision);
  const tsMs = typeof event.timestamp === 'string' ? parseRfc3339Ms(event.timestamp) : null;
  return { path, result, bundleRevisions: revs.length > 1 ? revs.sort() : revs, tsMs };
}

/** An RFC 3339 date-time as parseRfc3339Ms reads it: `T`, `t` or a space; `Z`, `z` or an offset. */
const LENIENT_RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** Days from 1970-01-01 to year `y`, month `m` (1-12), day 1 of the proleptic Gregorian calendar. */
function daysToMonth(y: number, m: number): number {
  // Howard Hinnant's days_from_civil, for the first of the month.
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5);
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
}

/**
 * Milliseconds since the epoch of an RFC 3339 timestamp (fraction truncated to ms), or null:
 * the value `Date.parse` gives the same time written as ISO 8601 with a 3-digit fraction,
 * including its ranges (month 1-12, day 1-31 rolling over into the next month, hour 24 only at
 * 24:00:00.000, seconds 0-59, offsets up to 23:59). Read digit by digit: it runs for every
 * decision, where a match array, its strings and an ISO copy were ~11 % of the bytes the
 * ingest thread allocated (test/core/rfc3339.test.ts checks it against that older form).
 */
export function parseRfc3339Ms(s: string): number | null {
  if (!LENIENT_RFC3339.test(s)) return null;
  const y = two(s, 0) * 100 + two(s, 2);
  const mo = two(s, 5);
  const d = two(s, 8);
  const h = two(s, 11);
  const mi = two(s, 14);
  const sec = two(s, 17);
  let ms = 0;
  let at = 19;
  if (s.charCodeAt(at) === 0x2e) {
    // The first three digits (padded with zeros), then past the rest.
    for (let k = 0; k < 3; k++) {
      const c = s.charCodeAt(at + 1);
      const digit = c >= 48 && c <= 57;
      ms = ms * 10 + (digit ? c - 48 : 0);
      if (digit) at++;
    }
    at++;
    while (s.charCodeAt(at) >= 48 && s.charCodeAt(at) <= 57) at++;
  }
  let offsetMin = 0;
  if (at < s.length - 1) {
    const oh = two(s, at + 1);
    const om = two(s, at + 4);
    if (oh > 23 || om > 59) return null;
    offsetMin = (s.charCodeAt(at) === 0x2d ? -1 : 1) * (oh * 60 + om);
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || mi > 59 || sec > 59) return null;
  if (h > 24 || (h === 24 && (mi !== 0 || sec !== 0 || ms !== 0))) return null;
  const days = daysToMonth(y, mo) + d - 1;
  return ((days * 24 + h) * 60 + mi - offsetMin) * 60_000 + sec * 1000 + ms;
}
