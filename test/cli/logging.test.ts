/**
 * The process logger (src/cli/logging.ts): request lines written by its fast path are the
 * lines pino writes for the same fields (same keys, order and values), honour the level, and
 * escape what they carry; other lines still go through pino and its redaction.
 */
import { describe, expect, test } from 'vitest';
import { createLogger } from '../../src/cli/logging.js';
import type { RequestLine } from '../../src/core/logger.js';

function capture(level: 'debug' | 'info' | 'warn') {
  const lines: string[] = [];
  const logger = createLogger('json', level, { write: (l) => lines.push(l) });
  return { logger, lines };
}
const withoutTime = (line: string) => line.replace(/"time":"[^"]*"/, '"time":"T"');

describe('request lines', () => {
  const cases: RequestLine[] = [
    { requestId: 'req-1', method: 'GET', route: '/tile/*', status: 200, durationMs: 0.123 },
    {
      requestId: 'a"b\\c',
      method: 'POST',
      route: '/logs',
      status: 400,
      durationMs: 12,
      error: 'invalid_json',
    },
  ];
  test.each(cases)('the fast path writes what pino writes: %o', (line) => {
    const { logger, lines } = capture('info');
    expect(logger.requestLine).toBeDefined();
    logger.requestLine?.('info', line);
    logger.info(line, 'request');
    expect(lines).toHaveLength(2);
    expect(withoutTime(lines[0]!)).toBe(withoutTime(lines[1]!));
    expect(JSON.parse(lines[0]!)).toMatchObject({ ...line, level: 'info', msg: 'request' });
    expect(Date.parse(JSON.parse(lines[0]!).time)).toBeGreaterThan(Date.now() - 60_000);
  });

  test('lines below the level are not written; debug lines are at debug', () => {
    const line = cases[0]!;
    const info = capture('info');
    info.logger.requestLine?.('debug', line);
    expect(info.lines).toEqual([]);
    const warn = capture('warn');
    warn.logger.requestLine?.('info', line);
    expect(warn.lines).toEqual([]);
    const debug = capture('debug');
    debug.logger.requestLine?.('debug', line);
    expect(JSON.parse(debug.lines[0]!)).toMatchObject({ level: 'debug', requestId: 'req-1' });
  });

  test('other lines still go through pino: secret-bearing keys are redacted', () => {
    const { logger, lines } = capture('info');
    logger.info({ token: 'tok-secret', nested: { authorization: 'Bearer x' } }, 'hello');
    expect(lines[0]).not.toContain('tok-secret');
    expect(lines[0]).not.toContain('Bearer');
    expect(JSON.parse(lines[0]!)).toMatchObject({ token: '[redacted]', msg: 'hello' });
  });
});
