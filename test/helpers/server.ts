/**
 * The suite's one server launcher. Real processes: `opa-tlog serve` (startServer) and
 * `opa-tlog witness` (startWitnessServer) from dist/cli/main.js (built by `npm test`), started
 * on port 0 and awaited until they print where they listen. In-process: serveFetch puts any
 * fetch handler (the hono apps, a static tiles server, a test page) on 127.0.0.1:0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { expect } from 'vitest';
import { decodeEntryBundle } from '../../src/core/bundle.js';

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

/** A CLI process the suite started. */
export interface CliProcess {
  readonly proc: ChildProcess;
  /** Everything it printed so far (stdout and stderr interleaved). */
  output(): string;
  /** SIGKILL: no chance to flush or sign. */
  kill(): Promise<void>;
  /** SIGTERM: graceful stop; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface RunningServer extends CliProcess {
  readonly url: string;
  readonly vkey: string;
}

export interface RunningWitness extends CliProcess {
  /** Base URL, no trailing slash. */
  readonly url: string;
  readonly vkey: string;
}

/**
 * Spawns `node dist/cli/main.js ...args` and resolves once `ready` finds what it waits for in
 * the output (checked on every stdout chunk); rejects if the process exits first or after 20 s.
 */
async function startCli<T>(
  args: string[],
  ready: (out: string) => T | undefined,
): Promise<{ cli: CliProcess; found: T }> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  const found = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start:\n${out}`)), 20_000);
    proc.stdout!.on('data', () => {
      const f = ready(out);
      if (f === undefined) return;
      clearTimeout(timer);
      resolve(f);
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code}:\n${out}`));
    });
  });
  const cli: CliProcess = {
    proc,
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
  return { cli, found };
}

/** Starts `opa-tlog serve --data DIR --port 0 ...` and waits for it to listen. */
export async function startServer(data: string, args: string[] = []): Promise<RunningServer> {
  const { cli, found } = await startCli(
    ['serve', '--data', data, '--port', '0', ...args],
    (out) => /listening on (https?:\/\/[^\s]+) /.exec(out)?.[1],
  );
  return { ...cli, url: found, vkey: readFileSync(join(data, 'log.vkey'), 'utf8').trim() };
}

/**
 * Starts `opa-tlog witness` on 127.0.0.1:0 named `name`, trusting the log `logVkey`, and waits
 * until it has printed both its URL and its verifier key.
 */
export async function startWitnessServer(
  data: string,
  name: string,
  logVkey: string,
  args: string[] = [],
): Promise<RunningWitness> {
  const { cli, found } = await startCli(
    [
      'witness',
      '--data',
      data,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--name',
      name,
      '--log',
      logVkey,
      ...args,
    ],
    (out) => {
      const url = /listening on ([^\s"]+)/.exec(out)?.[1];
      const vkey = /verifier key ([^\s"]+)/.exec(out)?.[1];
      return url && vkey ? { url: url.replace(/\/$/, ''), vkey } : undefined;
    },
  );
  return { ...cli, ...found };
}

/** A fetch handler served in-process on 127.0.0.1, random port. */
export interface Served {
  url: string;
  close(): Promise<void>;
}

/** Serves a fetch handler on 127.0.0.1:0 with @hono/node-server; close() drops open connections. */
export async function serveFetch(fetchFn: (req: Request) => Response | Promise<Response>): Promise<Served> {
  const server = await new Promise<ReturnType<typeof serve>>((ok) => {
    const s = serve({ fetch: fetchFn, hostname: '127.0.0.1', port: 0 }, () => ok(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}

/** Splits an entry bundle into its entries (uint16 big-endian length prefixes). */
export function parseBundle(b: Uint8Array): Uint8Array[] {
  return decodeEntryBundle(b);
}

/**
 * Posts `n` small JSON entries (`{i}` for i in 0..n-1) to the log at `url`, expects 200 and
 * returns the committed tree size the log reports.
 */
export async function append(url: string, n: number): Promise<number> {
  const res = await fetch(`${url}/v1/entries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ i }))),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { committed_size: number }).committed_size;
}

/**
 * Fetches /checkpoint until it covers `size` leaves (the signer runs on its own interval, so an
 * acknowledged append is not yet in the published checkpoint) and returns its text.
 */
export async function checkpointCovering(url: string, size: number, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const note = await (await fetch(`${url}/checkpoint`)).text();
    if (Number(note.split('\n')[1]) >= size || Date.now() > deadline) return note;
    await new Promise((r) => setTimeout(r, 20));
  }
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
