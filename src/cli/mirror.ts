/**
 * `opa-tlog mirror --url URL --vkey VKEY [--vkey VKEY] --to DIR [--once] [--interval-ms N] [--policy FILE]`:
 * copies a tlog-tiles log into DIR in the tlog-tiles layout (`checkpoint`, `tile/<L>/<N>…`,
 * `tile/entries/<N>…`) so that any static web server serves its read path, verifying all of
 * it on the way (`src/client/mirror.ts`). This module is the file system side: staged files
 * under `DIR/.mirror-staging/` (each written and fsynced), moved into place by rename, then
 * the checkpoint (temp file, fsync, rename), then stale partial tiles removed. Full tiles are
 * written once; a crash leaves the published checkpoint and every file it needs intact, and a
 * restart re-verifies the copy from scratch before following the log again.
 * Exit codes: 0 mirrored (`--once`), 1 refused (fork, rollback, bad tile; evidence printed,
 * published copy untouched), 2 usage or network error.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { LogClient } from '../client/client.js';
import { VerifyError } from '../client/errors.js';
import type { FetchLike } from '../client/http.js';
import { type MirrorStep, type MirrorTarget, mirrorStep, verifyMirrorCopy } from '../client/mirror.js';
import { bytesEqual, toBase64 } from '../core/bytes.js';
import { entryBundlePath, hashesAtLevel, hashTilePath, TILE_WIDTH } from '../core/tiles.js';
import {
  type CliIo,
  clientOptions,
  LOG_FLAGS,
  parseCommandArgs,
  processIo,
  readKeyArgs,
  readPolicyArg,
  reportError,
} from './verify.js';

const USAGE = `usage: opa-tlog mirror --url URL --vkey VKEY [--vkey VKEY] --to DIR [--once] [--interval-ms N] [--policy FILE]
Copies a tlog-tiles log (checkpoint, hash tiles, entry bundles) into DIR, in the same layout,
verifying everything first: DIR can then be served by any static web server. Without --once it
follows the log, polling every --interval-ms (default 5000).
Exit codes: 0 mirrored, 1 refused (fork, rollback, bad tile: nothing published), 2 usage or network error.`;

/** The staging directory inside the mirror (readers never ask for it). */
const STAGING = '.mirror-staging';
/** The log prefix the mirror's own copy is read through (never resolved: see {@link dirFetch}). */
const COPY_URL = 'http://mirror.copy.invalid';

/** Writes `data` to a new file at `path` and fsyncs it. */
function writeSynced(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let o = 0; o < bytes.length; ) o += writeSync(fd, bytes, o);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncs a directory, so that the renames into it survive a power loss. */
function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The file bytes, or undefined if it does not exist. */
function readIfExists(path: string): Uint8Array | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * A {@link MirrorTarget} over a directory. Staging writes each file fully (and fsyncs it)
 * outside the served tree; publishing renames them in, fsyncs their directories, then writes
 * the checkpoint the same way, then prunes partial tiles the new checkpoint no longer needs.
 * A staged path whose published file already holds the same bytes is left alone (a full tile
 * keeps its inode and mtime for ever).
 */
export class MirrorDir implements MirrorTarget {
  readonly root: string;
  readonly #staged: string[] = [];

  /** A mirror in `dir` (created if needed); removes what an interrupted run left staged. */
  constructor(dir: string) {
    this.root = resolve(dir);
    mkdirSync(this.root, { recursive: true });
    rmSync(join(this.root, STAGING), { recursive: true, force: true });
  }

  /** {@inheritDoc MirrorTarget.stage} */
  async stage(path: string, data: Uint8Array): Promise<void> {
    const published = readIfExists(this.#file(path));
    if (published !== undefined && bytesEqual(published, data)) return;
    writeSynced(join(this.root, STAGING, path), data);
    this.#staged.push(path);
  }

  /** {@inheritDoc MirrorTarget.publish} */
  async publish(note: string, fromSize: number, toSize: number): Promise<void> {
    const dirs = new Set<string>();
    for (const path of this.#staged.splice(0)) {
      const file = this.#file(path);
      mkdirSync(dirname(file), { recursive: true });
      renameSync(join(this.root, STAGING, path), file);
      // The file's directory and every directory created for it up to the root.
      for (let d = dirname(file); d.startsWith(this.root) && !dirs.has(d); d = dirname(d)) dirs.add(d);
    }
    for (const d of dirs) syncDir(d);
    const tmp = join(this.root, STAGING, 'checkpoint');
    writeSynced(tmp, note);
    renameSync(tmp, join(this.root, 'checkpoint'));
    syncDir(this.root);
    await this.discard();
    this.prune(fromSize, toSize);
  }

  /** {@inheritDoc MirrorTarget.discard} */
  async discard(): Promise<void> {
    this.#staged.length = 0;
    rmSync(join(this.root, STAGING), { recursive: true, force: true });
  }

  /**
   * Removes partial tiles and bundles that a tree of `toSize` does not need, looking at every
   * tile that was on the right edge of a tree of a size in [fromSize, toSize] (fromSize 0 on
   * start-up: every tile). tlog-tiles readers of the published checkpoint need only its own
   * partials (and fall back to the full tile when one is missing).
   */
  prune(fromSize: number, toSize: number): void {
    const kinds: { tier: number; path: (index: number, width: number) => string }[] = [
      { tier: 0, path: (index, width) => entryBundlePath(index, width) },
    ];
    for (let level = 0; hashesAtLevel(toSize, level) > 0; level++) {
      kinds.push({ tier: level, path: (index, width) => hashTilePath({ level, index, width }) });
    }
    for (const { tier, path } of kinds) {
      const n = hashesAtLevel(toSize, tier);
      const edge = Math.floor(n / TILE_WIDTH);
      for (let index = Math.floor(hashesAtLevel(fromSize, tier) / TILE_WIDTH); index <= edge; index++) {
        this.#prunePartials(dirname(this.#file(path(index, 1))), index === edge ? n % TILE_WIDTH : 0);
      }
    }
  }

  /** Deletes every width in the `.p` directory `pdir` except `keep`, and the directory if emptied. */
  #prunePartials(pdir: string, keep: number): void {
    let names: string[];
    try {
      names = readdirSync(pdir);
    } catch {
      return;
    }
    for (const name of names) if (name !== String(keep)) unlinkSync(join(pdir, name));
    if (keep === 0 || !names.includes(String(keep))) rmdirSync(pdir);
  }

  #file(path: string): string {
    return join(this.root, ...path.split('/'));
  }
}

/**
 * A fetch over the files of `dir` (for auditing the mirror's own copy): the URL path is the
 * file path; a missing file is a 404. Only tlog-tiles paths below `dir` are ever requested.
 */
export function dirFetch(dir: string): FetchLike {
  return async (input) => {
    const rel = decodeURIComponent(new URL(input).pathname).replace(/^\/+/, '');
    const file = resolve(dir, rel);
    if (!file.startsWith(resolve(dir) + sep)) return new Response('outside the mirror', { status: 404 });
    const data = readIfExists(file);
    return data === undefined ? new Response('not found', { status: 404 }) : new Response(data);
  };
}

type MirrorArgs = ReturnType<typeof parse>['values'];

/** Runs `opa-tlog mirror ...` (argv without "mirror"); returns the exit code. */
export async function runMirror(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    const parsed = parseCommandArgs(() => parse(argv), USAGE, io);
    if (parsed === undefined) return 0;
    return await mirrorMain(parsed.values, io);
  } catch (err) {
    return reportError(err, io);
  }
}

/** Checks the arguments, re-verifies the copy in DIR, then mirrors once or for ever. */
async function mirrorMain(values: MirrorArgs, io: CliIo): Promise<number> {
  if (!values.url || !values.vkey?.length || !values.to) {
    throw new VerifyError('usage', `--url, --vkey and --to are required\n${USAGE}`);
  }
  const interval = Number(values['interval-ms'] ?? '5000');
  if (!Number.isSafeInteger(interval) || interval < 10) {
    throw new VerifyError('usage', '--interval-ms must be an integer >= 10');
  }
  const vkey = readKeyArgs(values.vkey);
  const policy = readPolicyArg(values.policy);
  const dir = new MirrorDir(values.to);
  const source = new LogClient(clientOptions(values.url, vkey, policy, io));
  let last = await verifyCopy(dir, vkey, policy, io);
  for (;;) {
    try {
      last = await mirrorStep(source, last?.state, dir);
      if (last.published) report(last, io);
    } catch (err) {
      // Following: a network failure is retried; a refusal stops the mirror.
      if (values.once || !(err instanceof VerifyError) || err.code !== 'network') throw err;
      io.err(`mirror: ${err.message}; retrying`);
    }
    if (values.once) {
      if (last !== undefined && !last.published) report(last, io);
      return 0;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * Audits the copy already in the directory (if it has a checkpoint) against the trusted key:
 * the start of every run, so a copy damaged on disk is found before it is built on. Prunes
 * partial tiles an interrupted run left.
 */
async function verifyCopy(
  dir: MirrorDir,
  vkey: readonly string[],
  policy: string | undefined,
  io: CliIo,
): Promise<MirrorStep | undefined> {
  if (!existsSync(join(dir.root, 'checkpoint'))) return undefined;
  const copy = new LogClient({
    ...clientOptions(COPY_URL, vkey, policy, io),
    fetch: dirFetch(dir.root),
  });
  let step: MirrorStep;
  try {
    step = await verifyMirrorCopy(copy);
  } catch (err) {
    if (err instanceof VerifyError) err.message = `the copy in ${dir.root} does not verify: ${err.message}`;
    throw err;
  }
  dir.prune(0, step.checkpoint.checkpoint.size);
  io.out(`mirror: the copy in ${dir.root} verifies at size ${step.checkpoint.checkpoint.size}`);
  return step;
}

/** One line per published checkpoint. */
function report(step: MirrorStep, io: CliIo): void {
  const cp = step.checkpoint.checkpoint;
  io.out(`mirrored ${cp.origin}: tree size ${cp.size}, root ${toBase64(cp.rootHash)}`);
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      ...LOG_FLAGS,
      to: { type: 'string' },
      once: { type: 'boolean' },
      'interval-ms': { type: 'string' },
    },
  });
}
