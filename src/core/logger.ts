/**
 * The one logger every floor takes: a structural interface (pino's logger satisfies it; the
 * CLI makes one) so the log, the HTTP app and the witness code report through whatever logger
 * they are handed, and tests pass a silent or capturing one. Type-only plus a silent logger:
 * core stays browser-safe and package-free.
 *
 * Never put a payload, salt, token, Authorization header or decision content in a field.
 */

/** Structured fields of a log line (pino "merging object"). */
export type LogFields = Readonly<Record<string, unknown>>;

/** One level's method: a message, or fields and a message. */
export interface LogMethod {
  (msg: string): void;
  (fields: LogFields, msg: string): void;
}

/**
 * The one line logged per HTTP request (src/http/request-log.ts): fixed names, and values from
 * bounded, secret-free sets (a sanitised request id, a method, a route pattern, a status, a
 * duration, a stable error code).
 */
export type RequestLine = {
  readonly requestId: string;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
  readonly error?: string | undefined;
};

/** A structured logger: four levels and children that add bindings (e.g. a request id). */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  /** A logger whose every line also carries `bindings`. */
  child(bindings: LogFields): Logger;
  /**
   * Optional: writes a request line at `level` as `level(line, 'request')` would, more
   * cheaply (no redaction or serializers: the fields are safe by construction). A logger
   * without it gets `debug` / `info` calls.
   */
  requestLine?(level: 'debug' | 'info', line: RequestLine): void;
}

const ignore: LogMethod = () => {};

/** A logger that drops every line: the default of every component that takes one. */
export const silentLogger: Logger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
  child: () => silentLogger,
};

/**
 * The fields describing an error for a log line: its name, message and stable `code` when it
 * has one (no stack: callers that want the stack of an unexpected error add it themselves).
 */
export function errorFields(err: unknown): { err: { name: string; message: string; code?: string } } {
  if (!(err instanceof Error)) return { err: { name: 'NonError', message: String(err) } };
  const code = (err as { code?: unknown }).code;
  return {
    err: { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) },
  };
}
