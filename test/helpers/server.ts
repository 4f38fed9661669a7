/** Runs the real server process (dist/cli/main.js, built by `npm test`) for end-to-end tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeEntryBundle } from '../../src/core/bundle.js';

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface RunningServer {
  readonly url: string;
  readonly proc: ChildProcess;
  readonly vkey: string;
  output(): string;
  /** SIGKILL: no chance to flush or sign. */
  kill(): Promise<void>;
  /** SIGTERM: graceful stop. */
  stop(): Promise<number | null>;
}

/** Starts `opa-tlog serve --data DIR --port 0 ...` and waits for it to listen. */
export async function startServer(data: string, args: string[] = []): Promise<RunningServer> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  const proc = spawn(process.execPath, [CLI, 'serve', '--data', data, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20_000);
    const check = () => {
      const m = /listening on (https?:\/\/[^\s]+) /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    proc,
    vkey: readFileSync(join(data, 'log.vkey'), 'utf8').trim(),
    output: () => out,
    kill: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** Splits an entry bundle into its entries (uint16 big-endian length prefixes). */
export function parseBundle(b: Uint8Array): Uint8Array[] {
  return decodeEntryBundle(b);
}

/** Downloads every entry of the tree of `size` through the tile API. */
export async function fetchAllEntries(url: string, size: number): Promise<Uint8Array[]> {
  const { entryBundlePath } = await import('../../src/core/tiles.js');
  const out: Uint8Array[] = [];
  for (let n = 0; n * 256 < size; n++) {
    const width = Math.min(256, size - n * 256);
    const res = await fetch(`${url}/${entryBundlePath(n, width)}`);
    if (res.status !== 200) throw new Error(`bundle ${n}: HTTP ${res.status}`);
    const entries = parseBundle(new Uint8Array(await res.arrayBuffer()));
    if (entries.length !== width) throw new Error(`bundle ${n} has ${entries.length} entries, want ${width}`);
    out.push(...entries);
  }
  return out;
}
