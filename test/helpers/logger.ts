/**
 * A logger that keeps every line in memory (level, message, fields, bindings of its
 * children), for tests that assert what was, or was not, logged.
 */
import type { LogFields, Logger, LogMethod } from '../../src/core/logger.js';

export interface LoggedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** A capturing logger and the lines it captured so far (shared with its children). */
export function captureLogger(): { logger: Logger; lines: LoggedLine[]; messages(): string[] } {
  const lines: LoggedLine[] = [];
  const make = (bindings: LogFields): Logger => {
    const at =
      (level: LoggedLine['level']): LogMethod =>
      (a: LogFields | string, b?: string) => {
        const own = typeof a === 'string' ? {} : a;
        lines.push({ level, msg: typeof a === 'string' ? a : (b ?? ''), fields: { ...bindings, ...own } });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return { logger: make({}), lines, messages: () => lines.map((l) => l.msg) };
}
