/**
 * `opa-tlog verify decision|checkpoint|proof`: the Node front end of the verifying client.
 * Exit codes: 0 verified, 1 verification failed (the refusal and its evidence are printed),
 * 2 usage or network error.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type LogKeys, makeTrust } from '../client/checkpoint.js';
import { LogClient, type LogClientOptions, type LookupVerification } from '../client/client.js';
import { formatVerifyError, isVerificationFailure, VerifyError } from '../client/errors.js';
import type { FetchLike } from '../client/http.js';
import type { TrustedStateStore } from '../client/state.js';
import { verifyTlogProof } from '../client/tlog-proof.js';
import { toBase64 } from '../core/bytes.js';

/** Output and environment of a CLI run (injectable for tests). */
export interface CliIo {
  /** Writes a line to standard output. */
  out(line: string): void;
  /** Writes a line to standard error. */
  err(line: string): void;
  /** The `fetch` to use (default: global). */
  fetch?: FetchLike;
  /** Environment variables (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Whether standard error is a terminal (progress bars). Default: process.stderr.isTTY. */
  isTTY?: boolean;
}

/** The process's real standard streams. */
export const processIo: CliIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

/**
 * A {@link TrustedStateStore} in one file holding the trusted checkpoint note, written
 * atomically (temp file + rename). One file is one log: saving another origin is refused.
 */
export class FileStateStore implements TrustedStateStore {
  /** The state file path. */
  readonly path: string;

  /** A store at `path` (created on first save, with its directory). */
  constructor(path: string) {
    this.path = resolve(path);
  }

  /** {@inheritDoc TrustedStateStore.load} */
  async load(origin: string): Promise<string | undefined> {
    if (!existsSync(this.path)) return undefined;
    const note = readFileSync(this.path, 'utf8');
    if (note.split('\n', 1)[0] !== origin) {
      throw new VerifyError('bad_state', `${this.path} holds a checkpoint of another log, not ${origin}`, {
        trusted: note,
      });
    }
    return note;
  }

  /** {@inheritDoc TrustedStateStore.save} */
  async save(_origin: string, note: string): Promise<void> {
    writeFileAtomic(this.path, note);
  }
}

/** Writes `data` to `path` through a temporary file and a rename (never a torn file). */
export function writeFileAtomic(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/**
 * The log keys of repeated `--vkey` values: each is a vkey given literally or the path of a
 * file holding one vkey per line (blank lines and `#` comments skipped), so that the old and
 * the new key of a rotation can be given as two flags or as one file.
 */
export function readKeyArgs(values: readonly string[]): string[] {
  return values.flatMap((value) => {
    if (!existsSync(value)) return [value.trim()];
    return readFileSync(value, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
  });
}

/** Reads a file given on the command line; a missing file is a usage error. */
export function readFileArg(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new VerifyError('usage', `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

const USAGE = `usage:
  opa-tlog verify decision <id> --url URL --vkey VKEY [--token T] [--policy FILE] [--source S]
                           [--state FILE] [--tiles] [--allow-withheld] [--save-proof FILE]
  opa-tlog verify entry <index> --url URL --vkey VKEY [--token T] [--policy FILE] [--state FILE]
  opa-tlog verify checkpoint --url URL --vkey VKEY [--state FILE] [--policy FILE] [--api]
  opa-tlog verify proof <file> --vkey VKEY [--policy FILE] [--entry-file F]
VKEY is a verifier key or a file holding one per line; repeat --vkey to trust several keys of
the log (a key rotation: a checkpoint signed by any of them verifies). The read token may also
come from OPA_TLOG_TOKEN.
Exit codes: 0 verified, 1 verification failed (evidence printed), 2 usage or network error.`;

/** Maps an error to an exit code, printing it (with evidence for refusals). */
export function reportError(err: unknown, io: CliIo): number {
  if (err instanceof VerifyError) {
    io.err(formatVerifyError(err));
    return isVerificationFailure(err.code) ? 1 : 2;
  }
  io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
  return 2;
}

/** The flags every verifying command (verify, audit, mirror) takes, for its parseArgs options. */
export const LOG_FLAGS = {
  url: { type: 'string' },
  vkey: { type: 'string', multiple: true },
  policy: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * The common prologue of the verifying commands (verify, audit, mirror): runs `parse`,
 * turning a parseArgs failure into a `usage` VerifyError carrying `usage`, and prints
 * `usage` for `--help`. Returns the parsed arguments, or undefined when help was printed
 * (the caller then exits 0).
 */
export function parseCommandArgs<T extends { values: { help?: boolean } }>(
  parse: () => T,
  usage: string,
  io: CliIo,
): T | undefined {
  let parsed: T;
  try {
    parsed = parse();
  } catch (err) {
    throw new VerifyError('usage', `${(err as Error).message}\n${usage}`);
  }
  if (parsed.values.help) {
    io.out(usage);
    return undefined;
  }
  return parsed;
}

function need(v: string | undefined, flag: string): string {
  if (v === undefined || v === '') throw new VerifyError('usage', `missing ${flag}\n${USAGE}`);
  return v;
}

/** The log keys of the repeated `--vkey` flags; missing is a usage error. */
function needKeys(values: readonly string[] | undefined): string[] {
  const keys = readKeyArgs(values ?? []);
  if (keys.length === 0) throw new VerifyError('usage', `missing --vkey\n${USAGE}`);
  return keys;
}

/**
 * Runs `opa-tlog verify <what> ...` (argv without "verify"); returns the exit code.
 */
export async function runVerify(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    return await verifyMain(argv, io);
  } catch (err) {
    return reportError(err, io);
  }
}

type VerifyArgs = ReturnType<typeof parse>['values'];

async function verifyMain(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(() => parse(argv), USAGE, io);
  if (parsed === undefined) return 0;
  const { values, positionals } = parsed;
  const [what, arg, ...extra] = positionals;
  if (extra.length > 0) throw new VerifyError('usage', `unexpected arguments: ${extra.join(' ')}\n${USAGE}`);
  const vkey = needKeys(values.vkey);
  const policy = readPolicyArg(values.policy);
  if (what === 'proof') return verifyProofCommand(need(arg, '<file>'), values, vkey, policy, io);
  const env = io.env ?? process.env;
  const token = values.token ?? env.OPA_TLOG_TOKEN;
  const client = new LogClient({
    ...clientOptions(need(values.url, '--url'), vkey, policy, io),
    ...(values.state !== undefined ? { store: new FileStateStore(values.state) } : {}),
    ...(token ? { token } : {}),
    consistency: values.api ? 'api' : 'tiles',
  });
  switch (what) {
    case 'checkpoint':
      return verifyCheckpointCommand(client, io);
    case 'decision':
    case 'entry':
      return verifyLookupCommand(client, what, arg, values, io);
    default:
      throw new VerifyError('usage', `unknown verify target ${JSON.stringify(what ?? '')}\n${USAGE}`);
  }
}

/** The policy file's text when `--policy` is given (a missing file is a usage error). */
export function readPolicyArg(path: string | undefined): string | undefined {
  return path !== undefined ? readFileArg(path, 'policy') : undefined;
}

/** The {@link LogClient} options every command shares: log URL, trust, and the injected fetch. */
export function clientOptions(
  url: string,
  vkey: LogKeys,
  policy: string | undefined,
  io: CliIo,
): LogClientOptions {
  return {
    url,
    vkey,
    ...(policy !== undefined ? { policy } : {}),
    ...(io.fetch ? { fetch: io.fetch } : {}),
  };
}

/** `verify proof FILE`: verifies a tlog-proof offline (entry from `--entry-file` or its extra line). */
function verifyProofCommand(
  file: string,
  values: VerifyArgs,
  vkey: LogKeys,
  policy: string | undefined,
  io: CliIo,
): number {
  const entry = values['entry-file'] !== undefined ? readBytes(values['entry-file']) : undefined;
  const r = verifyTlogProof(readFileArg(file, 'proof file'), makeTrust(vkey, policy), entry);
  io.out(`verified: leaf ${r.index} (leaf hash ${toBase64(r.leafHash)}) is included in`);
  printCheckpoint(io, r.checkpoint.checkpoint, r.checkpoint.witnesses);
  return 0;
}

/** `verify checkpoint`: updates the trusted state and checks the tree's tiles hash to its root. */
async function verifyCheckpointCommand(client: LogClient, io: CliIo): Promise<number> {
  const r = await client.update();
  await client.verifyTreeTiles(r.checkpoint);
  io.out(`verified checkpoint (${r.status}${r.trusted ? ` from size ${r.trusted.checkpoint.size}` : ''}):`);
  printCheckpoint(io, r.checkpoint.checkpoint, r.checkpoint.witnesses);
  if (r.proof.length > 0) io.out(`consistency proof (${r.proofSource}): ${r.proof.length} hashes`);
  io.out('tiles hash to the signed root');
  return 0;
}

/** `verify decision ID` / `verify entry INDEX`: a verified lookup, printed, its tlog-proof optionally saved. */
async function verifyLookupCommand(
  client: LogClient,
  what: 'decision' | 'entry',
  arg: string | undefined,
  values: VerifyArgs,
  io: CliIo,
): Promise<number> {
  const opts = {
    ...(values.source !== undefined ? { source: values.source } : {}),
    allowWithheld: values['allow-withheld'] === true,
    tiles: values.tiles === true,
  };
  let r: LookupVerification;
  if (what === 'decision') r = await client.verifyDecision(need(arg, '<id>'), opts);
  else {
    const index = Number(need(arg, '<index>'));
    if (!Number.isSafeInteger(index) || index < 0) throw new VerifyError('usage', `bad index ${arg}`);
    r = await client.verifyEntry(index, opts);
  }
  printLookup(io, r);
  if (values['save-proof'] !== undefined && r.tlogProof !== null) {
    writeFileAtomic(resolve(values['save-proof']), r.tlogProof);
    io.out(`  tlog-proof written to ${values['save-proof']}`);
  }
  return 0;
}

/** Prints a verified lookup: the entry, its inclusion, consistency, and what is known of its payload. */
function printLookup(io: CliIo, r: LookupVerification): void {
  io.out(
    `verified: entry ${r.index} (${r.entry.kind}, source ${JSON.stringify(r.entry.src)}, id ${JSON.stringify(r.entry.id)})`,
  );
  io.out(`  leaf hash ${toBase64(r.leafHash)} included in`);
  printCheckpoint(io, r.checkpoint.checkpoint, r.checkpoint.witnesses);
  io.out(`  consistent with trusted state: ${r.consistency.status}`);
  if (r.commitment === 'verified' && r.event !== undefined) {
    io.out('  payload matches the commitment; event:');
    io.out(JSON.stringify(r.event, jsonReplacer, 2));
  } else if (r.commitment === 'erased') {
    io.out(`  payload erased by entry ${r.erased?.erasureIndex} (${r.erased?.reason}); erasure verified`);
  } else if (r.commitment === 'withheld') {
    io.out('  payload withheld by the log: the event content is NOT verified');
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...LOG_FLAGS,
      token: { type: 'string' },
      source: { type: 'string' },
      state: { type: 'string' },
      'entry-file': { type: 'string' },
      'save-proof': { type: 'string' },
      tiles: { type: 'boolean' },
      api: { type: 'boolean' },
      'allow-withheld': { type: 'boolean' },
    },
  });
}

function readBytes(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new VerifyError('usage', `cannot read entry file ${path}: ${(err as Error).message}`);
  }
}

/** JSON.stringify replacer for decoded CBOR: bytes as base64, bigints and Maps made printable. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: toBase64(value) };
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}

function printCheckpoint(
  io: CliIo,
  cp: { origin: string; size: number; rootHash: Uint8Array },
  witnesses: readonly string[],
): void {
  io.out(`  origin ${cp.origin}, tree size ${cp.size}, root ${toBase64(cp.rootHash)}`);
  if (witnesses.length > 0) io.out(`  cosigned by ${witnesses.join(', ')}`);
}
