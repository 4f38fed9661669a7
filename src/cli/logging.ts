/**
 * The process's logger: pino, one JSON line per event on stdout (`json`, for collectors), or
 * a small built-in line formatter for a terminal (`pretty`: time, level, message, fields; no
 * pino-pretty dependency). Known secret-bearing keys are redacted as a second line of defence:
 * no caller should log them in the first place.
 */
import { pino } from 'pino';
import type { Logger } from '../core/logger.js';

export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * Where lines go. Default: stdout through pino's buffered asynchronous destination (like
 * console.log on a pipe: a slow reader never stalls the event loop), flushed at exit.
 */
export interface LineSink {
  write(line: string): void;
}

const SECRET_KEYS = ['authorization', 'token', 'salt', 'payload', 'password', 'skey'];
const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`]);

/**
 * A pino logger at `level` writing `format` lines to `sink` (default stdout). Level names are
 * written as strings (`"level":"info"`), time as ISO 8601.
 */
export function createLogger(format: LogFormat, level: LogLevel, sink?: LineSink): Logger {
  const out: LineSink =
    format === 'pretty'
      ? { write: (line) => (sink ?? process.stdout).write(prettyLine(line)) }
      : (sink ?? pino.destination({ dest: 1, sync: false }));
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    out,
  );
}

/** `12:00:01.234 INFO  message key=value ...` from one pino JSON line. */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, msg, ...rest } = o;
  const t = typeof time === 'string' ? time.slice(11, 23) : '';
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${t} ${String(level).toUpperCase().padEnd(5)} ${String(msg ?? '')}${fields ? ` ${fields}` : ''}\n`;
}
