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
 * console.log on a pipe: a slow reader never stalls the event loop), see {@link stdoutSink}.
 */
export interface LineSink {
  write(line: string): void;
}

/**
 * Bytes of lines gathered before one write to stdout (below sonic-boom's largest write, which
 * is raised to fit): ~100 request lines a write call.
 */
const SINK_MIN_BYTES = 16 * 1024;
const SINK_MAX_WRITE = 64 * 1024;
/** Longest a line waits in that buffer. */
const SINK_FLUSH_MS = 100;

/**
 * stdout as pino's asynchronous destination, gathering lines into writes of 4 KiB, flushed
 * at least every 100 ms and at exit. Why: a server writes one line per request, and a write
 * call per line was ~11 % of the main thread's CPU under read load (profiled: 14k checkpoint
 * GETs/s); gathered, ~20 lines share a call. The cost: a process killed with SIGKILL loses at
 * most the last 100 ms of lines (a normal exit, or a crash that runs exit handlers, writes them).
 */
function stdoutSink(): LineSink {
  const dest = pino.destination({
    dest: 1,
    sync: false,
    minLength: SINK_MIN_BYTES,
    maxWrite: SINK_MAX_WRITE,
  });
  const timer = setInterval(() => {
    try {
      dest.flush();
    } catch {
      clearInterval(timer); // destroyed: the process is exiting
    }
  }, SINK_FLUSH_MS);
  timer.unref();
  return dest;
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
      : (sink ?? stdoutSink());
  const p = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    out,
  );
  const logger: Logger = p;
  logger.requestLine = requestLineWriter((l) => p.isLevelEnabled(l), out);
  return logger;
}

/**
 * Request lines (Logger.requestLine) formatted here, byte for byte as pino writes them
 * (`level`, `time`, the fields in order, `msg`), without pino's per-line work (redaction,
 * serializers, merging): that was ~7 % of the main thread's CPU on a tile GET (profiled,
 * bench/README.md session 9). Safe to skip because every field is safe by construction
 * (RequestLine); strings are still JSON-escaped.
 */
function requestLineWriter(
  enabled: (level: 'debug' | 'info') => boolean,
  out: LineSink,
): NonNullable<Logger['requestLine']> {
  return (lineLevel, l) => {
    if (!enabled(lineLevel)) return;
    const error = l.error === undefined ? '' : `,"error":${JSON.stringify(l.error)}`;
    out.write(
      `{"level":"${lineLevel}","time":"${new Date().toISOString()}","requestId":${JSON.stringify(l.requestId)},` +
        `"method":${JSON.stringify(l.method)},"route":${JSON.stringify(l.route)},"status":${l.status},` +
        `"durationMs":${l.durationMs}${error},"msg":"request"}\n`,
    );
  };
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
