/**
 * The two RFC 3339 readers of the ingest path, read digit by digit (no match arrays): each
 * against its earlier regex form as an oracle, on edge cases and on many generated strings
 * (every two-digit field from 00 to 99, fractions of 0-12 digits, offsets, separators).
 */
import { describe, expect, test } from 'vitest';
import { parseRfc3339Ms } from '../../src/core/opa.js';
import { isStrictRfc3339 } from '../../src/core/public-fields.js';
import { prng } from '../helpers/prng.js';

/** parseRfc3339Ms as it was: a capturing regex, an ISO copy with a 3-digit fraction, Date.parse. */
function parseOracle(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return null;
  const frac = (m[7] ?? '').padEnd(3, '0').slice(0, 3);
  const t = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${frac}${m[8] === 'z' ? 'Z' : m[8]}`);
  return Number.isNaN(t) ? null : t;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** isStrictRfc3339 as it was: a capturing regex and its groups. */
function strictOracle(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = mo === 2 ? (leap ? 29 : 28) : MONTH_DAYS[mo - 1];
  if (days === undefined || d < 1 || d > days || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60)
    return false;
  return m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
}

const EDGES = [
  '2026-02-31T00:00:00.000Z',
  '2024-02-29T23:59:59.999Z',
  '2026-01-01T24:00:00.000Z',
  '2026-01-01T24:00:00.0001Z',
  '2026-01-01T24:00:00.001Z',
  '2026-01-01T24:00:00+01:00',
  '2026-01-01T23:59:60Z',
  '2026-13-01T00:00:00Z',
  '2026-00-10T00:00:00Z',
  '2026-01-00T00:00:00Z',
  '2026-01-32T00:00:00Z',
  '2026-01-01T00:60:00Z',
  '2026-01-01T00:00:00+24:00',
  '2026-01-01T00:00:00+23:59',
  '2026-01-01T00:00:00-23:59',
  '2026-01-01T00:00:00-00:00',
  '0000-01-01T00:00:00Z',
  '0099-03-01T00:00:00Z',
  '1969-12-31T23:59:59.999999999Z',
  '9999-12-31T23:59:59.999Z',
  '2025-01-15t10:30:00z',
  '2025-01-15 10:30:00.5+05:30',
  '2025-01-15T10:30:00.Z',
  '2025-01-15T10:30:00',
  '2025-01-15T10:30Z',
  ' 2025-01-15T10:30:00Z',
  '2025-01-15T10:30:00Z ',
  '2025-01-15T10:30:00.1234567890Z',
  '',
];

/** A random string of the date-time shape: fields mostly near their range, any of 00-99 at times. */
function generated(rand: () => number): string {
  const d2 = (max = 99) => String(Math.floor(rand() * (rand() < 0.85 ? max + 2 : 100))).padStart(2, '0');
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const year = pick(['2026', '2024', '2000', '1900', '0000', '1970', '9999', '0400']);
  const frac =
    rand() < 0.5
      ? ''
      : `.${Array.from({ length: Math.floor(rand() * 13) }, () => Math.floor(rand() * 10)).join('')}`;
  const zone = pick(['Z', 'Z', 'z', `+${d2(24)}:${d2(60)}`, `-${d2(24)}:${d2(60)}`, '+00:00', '-05:30', '']);
  return `${year}-${d2(12)}-${d2(31)}${pick(['T', 'T', 't', ' ', 'x'])}${d2(24)}:${d2(60)}:${d2(60)}${frac}${zone}`;
}

describe('RFC 3339 readers', () => {
  test('parseRfc3339Ms gives what the regex and Date.parse gave', () => {
    for (const s of EDGES) expect([s, parseRfc3339Ms(s)]).toEqual([s, parseOracle(s)]);
    expect(parseRfc3339Ms('2026-01-01T24:00:00+01:00')).toBe(Date.UTC(2026, 0, 1, 23));
    const rand = prng(3339);
    let parsed = 0;
    for (let i = 0; i < 50_000; i++) {
      const s = generated(rand);
      const want = parseOracle(s);
      if (want !== null) parsed++;
      if (parseRfc3339Ms(s) !== want) expect([s, parseRfc3339Ms(s)]).toEqual([s, want]);
    }
    expect(parsed).toBeGreaterThan(1000); // the generator reaches valid times, not only refusals
  });

  test('isStrictRfc3339 gives what the capturing regex gave', () => {
    for (const s of EDGES) expect([s, isStrictRfc3339(s)]).toEqual([s, strictOracle(s)]);
    const rand = prng(3340);
    let strict = 0;
    for (let i = 0; i < 50_000; i++) {
      const s = generated(rand);
      const want = strictOracle(s);
      if (want) strict++;
      if (isStrictRfc3339(s) !== want) expect([s, isStrictRfc3339(s)]).toEqual([s, want]);
    }
    expect(strict).toBeGreaterThan(500);
  });
});
