/**
 * Which event fields may be copied into a public leaf. `src`, `id` and `ts` are readable by
 * anyone who reads the log, so only well-formed identifiers and times belong there: free text
 * (a name, an e-mail address) in a `decision_id` or a `timestamp` would publish personal data
 * that no erasure can remove. A field that is not well-formed is withheld: left out of the
 * leaf (`src`/`id` become "", `ts` is omitted) and named by a `withheld_*` flag; its value stays
 * in the private payload. Rules: spec/entry-format.md §2.1. Pure.
 */
import { twoDigits as two } from './bytes.js';

/** Longest public `src` or `id`. */
export const MAX_PUBLIC_ID_LENGTH = 128;

const PUBLIC_ID = /^[A-Za-z0-9._:/-]+$/;
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * True if `s` may appear as a public `src` or `id`: 1 to 128 characters from
 * `A-Z a-z 0-9 . _ : / -` (enough for UUIDs, ULIDs, `sha256:<hex>`, `<auditID>/<stage>`,
 * host names), or the empty string (no id). No spaces, `@` or other text.
 */
export function isPublicId(s: string): boolean {
  return s === '' || (s.length <= MAX_PUBLIC_ID_LENGTH && PUBLIC_ID.test(s));
}

/**
 * True if `s` is a strict RFC 3339 date-time as OPA and Kubernetes write them:
 * `YYYY-MM-DDTHH:MM:SS[.1-9 digits](Z|±HH:MM)`, upper-case `T` and `Z`, every field in range
 * (the day within its month, leap years included; second 60 allowed for a leap second).
 */
export function isStrictRfc3339(s: string): boolean {
  // test(), then the fields by position: no match array (this runs for every decision).
  if (!RFC3339.test(s)) return false;
  const y = two(s, 0) * 100 + two(s, 2);
  const mo = two(s, 5);
  const d = two(s, 8);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = mo === 2 ? (leap ? 29 : 28) : MONTH_DAYS[mo - 1];
  if (days === undefined || d < 1 || d > days || two(s, 11) > 23 || two(s, 14) > 59 || two(s, 17) > 60)
    return false;
  // An offset is the last six characters, `+HH:MM` or `-HH:MM`.
  const n = s.length;
  return s.charCodeAt(n - 1) === 0x5a || (two(s, n - 5) <= 23 && two(s, n - 2) <= 59);
}

/** The public identity fields of a leaf, and the flags naming what was withheld. */
export interface PublicFields {
  readonly src: string;
  readonly id: string;
  readonly ts?: string;
  /** `withheld_src`, `withheld_id`, `withheld_ts` for each field kept out of the leaf. */
  readonly withheld: string[];
}

/**
 * The values of `src`, `id` and `ts` a leaf may publish: each one as given when well-formed
 * ({@link isPublicId}, {@link isStrictRfc3339}), else withheld (`""`, or no `ts`) and named in
 * `withheld`.
 */
export function publicFields(src: string, id: string, ts: string | undefined): PublicFields {
  const srcOk = isPublicId(src);
  const idOk = isPublicId(id);
  const tsOk = ts === undefined || isStrictRfc3339(ts);
  const withheld: string[] = [];
  if (!srcOk) withheld.push('withheld_src');
  if (!idOk) withheld.push('withheld_id');
  if (!tsOk) withheld.push('withheld_ts');
  const out: { src: string; id: string; ts?: string; withheld: string[] } = {
    src: srcOk ? src : '',
    id: idOk ? id : '',
    withheld,
  };
  if (tsOk && ts !== undefined) out.ts = ts;
  return out;
}
