/**
 * Builds and runs test/interop/go/tlogcheck, an independent verifier written on Go's reference
 * golang.org/x/mod/sumdb/{note,tlog} packages (Debian golang-go + golang-golang-x-mod-dev).
 * GOPATH mode, no network; the build cache and the binary live under os.tmpdir(), never in the
 * repository.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';

const GOPATH = '/usr/share/gocode';
const SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'go', 'tlogcheck');

function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH,
    GOFLAGS: '',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    GOCACHE: join(tmpdir(), 'opa-tlog-go-build-cache'),
  };
}

let available: boolean | undefined;

/** True when a Go toolchain and the x/mod sumdb packages are installed. */
export function goAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync('go', ['version'], { env: goEnv(), stdio: 'ignore', timeout: 30_000 });
      available =
        existsSync(join(GOPATH, 'src/golang.org/x/mod/sumdb/tlog/tlog.go')) &&
        existsSync(join(GOPATH, 'src/golang.org/x/mod/sumdb/note/note.go'));
    } catch {
      available = false;
    }
  }
  return available;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  stdin?: string,
  cwd?: string,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {}); // the tool may exit before reading stdin
    child.stdin.end(stdin ?? '');
  });
}

let binary: Promise<string> | undefined;

/** Compiles tlogcheck once per process into a fresh temporary directory. */
function buildOnce(): Promise<string> {
  binary ??= (async () => {
    const dir = tempDir('opa-tlog-tlogcheck-');
    const out = join(dir, 'tlogcheck');
    const r = await run('go', ['build', '-o', out, '.'], goEnv(), undefined, SOURCE_DIR);
    if (r.code !== 0) throw new Error(`go build of tlogcheck failed (${r.code}):\n${r.stderr}${r.stdout}`);
    return out;
  })();
  return binary;
}

/** Runs tlogcheck with `args` (and optional stdin); compiles it on first use. */
export async function runTlogCheck(args: string[], stdin?: string): Promise<RunResult> {
  const bin = await buildOnce();
  return run(bin, args, { ...process.env, NO_PROXY: '*' }, stdin);
}
