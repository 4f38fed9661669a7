/**
 * `opa-tlog audit --url URL --vkey VKEY [--state DIR]`: downloads every entry bundle and hash
 * tile of a C2SP tlog-tiles log, recomputes the tree and checks it against every checkpoint
 * seen. Resumable through `<DIR>/audit-state.json`; shows a progress bar on a terminal.
 * Exit codes: 0 verified, 1 verification failed (evidence printed), 2 usage or network error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type AuditState, type AuditStateStore, auditLog, MemoryAuditStateStore } from '../client/audit.js';
import { LogClient } from '../client/client.js';
import { VerifyError } from '../client/errors.js';
import { toBase64 } from '../core/bytes.js';
import {
  type CliIo,
  clientOptions,
  LOG_FLAGS,
  parseCommandArgs,
  processIo,
  readKeyArgs,
  readPolicyArg,
  reportError,
  writeFileAtomic,
} from './verify.js';

/** An {@link AuditStateStore} in `<dir>/audit-state.json`, written atomically. */
export class FileAuditStateStore implements AuditStateStore {
  /** The state file path. */
  readonly path: string;

  /** A store in directory `dir` (created on first save). */
  constructor(dir: string) {
    this.path = join(resolve(dir), 'audit-state.json');
  }

  /** {@inheritDoc AuditStateStore.load} */
  async load(): Promise<AuditState | undefined> {
    if (!existsSync(this.path)) return undefined;
    let state: unknown;
    try {
      state = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (err) {
      throw new VerifyError('bad_state', `${this.path} is not JSON: ${(err as Error).message}`);
    }
    if (!isAuditState(state)) throw new VerifyError('bad_state', `${this.path} is not an audit state`);
    return state;
  }

  /** {@inheritDoc AuditStateStore.save} */
  async save(state: AuditState): Promise<void> {
    writeFileAtomic(this.path, `${JSON.stringify(state)}\n`);
  }
}

function isAuditState(v: unknown): v is AuditState {
  if (v === null || typeof v !== 'object') return false;
  const s = v as Record<string, unknown>;
  return (
    s.version === 1 &&
    typeof s.origin === 'string' &&
    typeof s.size === 'number' &&
    Number.isSafeInteger(s.size) &&
    Array.isArray(s.edge) &&
    s.edge.every((row) => Array.isArray(row) && row.every((h) => typeof h === 'string')) &&
    Array.isArray(s.checkpoints) &&
    s.checkpoints.every(
      (c) => c !== null && typeof c === 'object' && typeof c.size === 'number' && typeof c.note === 'string',
    ) &&
    s.stats !== null &&
    typeof s.stats === 'object'
  );
}

const USAGE = `usage: opa-tlog audit --url URL --vkey VKEY [--state DIR] [--policy FILE] [--concurrency N]
Downloads every tile and entry bundle, recomputes the tree and checks every checkpoint seen.
With --state the audit is resumable and remembers the checkpoints it saw. VKEY is a verifier
key or a file holding one per line; repeat --vkey to trust several keys of the log (rotation).
Exit codes: 0 verified, 1 verification failed (evidence printed), 2 usage or network error.`;

/** A one-line progress bar for terminals. */
function progressBar(done: number, total: number): string {
  const width = 30;
  const frac = total === 0 ? 1 : done / total;
  const filled = Math.round(frac * width);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} leaves (${(frac * 100).toFixed(1)}%)`;
}

/** Runs `opa-tlog audit ...` (argv without "audit"); returns the exit code. */
export async function runAudit(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    const parsed = parseCommandArgs(() => parse(argv), USAGE, io);
    if (parsed === undefined) return 0;
    const { values } = parsed;
    const vkeys = readKeyArgs(values.vkey ?? []);
    if (!values.url || vkeys.length === 0)
      throw new VerifyError('usage', `--url and --vkey are required\n${USAGE}`);
    const concurrency = values.concurrency !== undefined ? Number(values.concurrency) : 4;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
      throw new VerifyError('usage', '--concurrency must be 1..64');
    }
    const client = new LogClient(clientOptions(values.url, vkeys, readPolicyArg(values.policy), io));
    const store =
      values.state !== undefined ? new FileAuditStateStore(values.state) : new MemoryAuditStateStore();
    const tty = io.isTTY ?? process.stderr.isTTY === true;
    let drew = false;
    const report = await auditLog(client, store, {
      concurrency,
      ...(tty
        ? {
            onProgress: (done: number, total: number) => {
              process.stderr.write(progressBar(done, total));
              drew = true;
            },
          }
        : {}),
    }).finally(() => {
      if (drew) process.stderr.write('\n');
    });
    const cp = report.checkpoint.checkpoint;
    io.out(`audit verified: ${cp.origin}, tree size ${cp.size}, root ${toBase64(cp.rootHash)}`);
    io.out(
      `  leaves audited ${report.size} (this run from ${report.resumedFrom}); checkpoints matched ${report.checkpointsChecked}; hash tiles compared ${report.tilesChecked}`,
    );
    io.out(
      `  opa-tlog entries ${report.stats.entries} (erasures ${report.stats.erasures}), opaque leaves ${report.stats.opaque}; no gaps`,
    );
    return 0;
  } catch (err) {
    return reportError(err, io);
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      ...LOG_FLAGS,
      state: { type: 'string' },
      concurrency: { type: 'string' },
    },
  });
}
