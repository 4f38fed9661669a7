/** Which values a public leaf may carry (issue 15 part 6): strict RFC 3339, bounded ids. */
import { describe, expect, test } from 'vitest';
import { isPublicId, isStrictRfc3339, publicFields } from '../../src/core/public-fields.js';

describe('public fields', () => {
  test('timestamps: strict RFC 3339 only', () => {
    for (const ok of [
      '2025-01-15T10:30:00Z',
      '2025-01-15T10:30:00.123456789Z',
      '2024-02-29T23:59:60+05:30',
      '2025-12-31T00:00:00.1-08:00',
    ]) {
      expect([ok, isStrictRfc3339(ok)]).toEqual([ok, true]);
    }
    for (const bad of [
      'Alice Smith',
      'alice@example.com',
      '2025-01-15 10:30:00Z',
      '2025-01-15t10:30:00z',
      '2025-01-15T10:30:00',
      '2025-02-29T10:30:00Z',
      '2025-13-01T10:30:00Z',
      '2025-01-15T24:00:00Z',
      '2025-01-15T10:30:00.1234567890Z',
      '2025-01-15T10:30:00+24:00',
      '2025-01-15T10:30:00Z alice',
      '',
    ]) {
      expect([bad, isStrictRfc3339(bad)]).toEqual([bad, false]);
    }
  });

  test('ids: up to 128 of [A-Za-z0-9._:/-], or empty', () => {
    for (const ok of [
      '',
      '4ca636c1-55e4-417a-b1d8-4aceb67960d1',
      'opa-1',
      `sha256:${'a'.repeat(64)}`,
      'x/ResponseComplete',
      'a'.repeat(128),
    ]) {
      expect([ok, isPublicId(ok)]).toEqual([ok, true]);
    }
    for (const bad of [
      'alice@example.com',
      'Alice Smith',
      "Alice's laptop",
      'a'.repeat(129),
      'é',
      'a\nb',
      'a+b',
    ]) {
      expect([bad, isPublicId(bad)]).toEqual([bad, false]);
    }
  });

  test('withheld fields are emptied or dropped and named', () => {
    expect(publicFields('opa-1', 'd-1', '2025-01-15T10:30:00Z')).toEqual({
      src: 'opa-1',
      id: 'd-1',
      ts: '2025-01-15T10:30:00Z',
      withheld: [],
    });
    expect(publicFields("Alice's laptop", 'alice@example.com', 'Alice Smith')).toEqual({
      src: '',
      id: '',
      withheld: ['withheld_src', 'withheld_id', 'withheld_ts'],
    });
    expect(publicFields('opa-1', 'd-1', undefined)).toEqual({ src: 'opa-1', id: 'd-1', withheld: [] });
  });
});
