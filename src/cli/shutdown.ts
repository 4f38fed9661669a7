/**
 * Graceful shutdown of `opa-tlog serve`. The first SIGTERM or SIGINT refuses new uploads
 * (503 shutting_down with Retry-After) while reads keep being served, commits what is queued,
 * signs a last checkpoint, stops the HTTP server and closes the database, then exits 0; all of
 * it within a bounded time. A second signal exits at once. Neither loses anything acknowledged:
 * an append is acknowledged only after its transaction committed (durably, with
 * `--synchronous FULL`), and a transaction cut short by an exit rolls back.
 */
import type { ServerType } from '@hono/node-server';
import { errorFields, type Logger } from '../core/logger.js';
import type { TransparencyLog } from '../log/log.js';

export interface ShutdownOptions {
  readonly server: ServerType;
  readonly log: TransparencyLog;
  /** Longest the graceful stop may take before the process exits anyway (code 1). */
  readonly timeoutMs: number;
  /** Run as soon as the stop begins (e.g. stop retention and the witness pusher). */
  readonly stopFirst: readonly (() => void)[];
  /** Run once the log is closed (e.g. close the pusher's database connection). */
  readonly closeAfter: readonly (() => void)[];
  /** Where progress lines go. */
  readonly logger: Logger;
  /** Exits the process at once (a second signal, the timeout); default process.exit. */
  readonly exit?: (code: number) => void;
}

/** How long in-flight reads may finish once the log is drained, before connections are cut. */
const HTTP_GRACE_MS = 1000;

/** Exit status of a forced stop by a second signal: 128 + the signal number, as shells report. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Stops accepting connections and resolves once the server closed: idle keep-alive connections
 * close now, requests in flight get up to `graceMs` to finish, then every connection is cut.
 */
export function closeHttp(server: ServerType, graceMs: number): Promise<void> {
  return new Promise<void>((done) => {
    const cut = setTimeout(() => {
      if ('closeAllConnections' in server) server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearTimeout(cut);
      done();
    });
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  });
}

/**
 * Installs the signal handlers and resolves with the exit code once the server stops: 0 after
 * a graceful stop (uploads refused, queue committed, last checkpoint signed, HTTP and database
 * closed), 1 on a server error or a failed close. A stop that outlasts `timeoutMs`, and a
 * second signal, exit the process directly (1, and 128 + the signal number).
 */
export function untilStopped(opts: ShutdownOptions): Promise<number> {
  const { server, log } = opts;
  const { logger } = opts;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const runAll = (fs: readonly (() => void)[]) => {
    for (const f of fs) f();
  };
  const closeLog = () => log.close().finally(() => runAll(opts.closeAfter));
  return new Promise<number>((done) => {
    let stopping = false;
    const graceful = async (): Promise<void> => {
      runAll(opts.stopFirst);
      await log.drain();
      await closeHttp(server, HTTP_GRACE_MS);
      await closeLog();
    };
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, `second ${signal}: exiting now (everything acknowledged is committed)`);
        exit(SIGNAL_EXIT[signal] ?? 1);
        return;
      }
      stopping = true;
      // Before anything is printed: once the line is out, no upload is acknowledged any more.
      log.stopAccepting();
      logger.info(
        { signal },
        `${signal}: refusing new uploads, committing queued entries and signing a last checkpoint (a second signal exits at once)`,
      );
      const timer = setTimeout(() => {
        logger.error(
          { timeoutMs: opts.timeoutMs },
          `shutdown did not finish within ${opts.timeoutMs} ms; exiting`,
        );
        exit(1);
      }, opts.timeoutMs);
      graceful().then(
        () => {
          clearTimeout(timer);
          logger.info('stopped');
          done(0);
        },
        (err: unknown) => {
          clearTimeout(timer);
          logger.error(errorFields(err), 'stopping failed');
          done(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    server.on('error', (err) => {
      logger.error(errorFields(err), 'server error; stopping');
      void closeLog().finally(() => done(1));
    });
  });
}
