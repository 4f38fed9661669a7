/**
 * `opa-tlog witness`: a C2SP tlog-witness server with gossip. Each setting comes from a flag,
 * else an environment variable OPA_TLOG_WITNESS_<NAME>, else a JSON config file (--config /
 * OPA_TLOG_WITNESS_CONFIG), else the default. Exit codes: 0 stopped by a signal, 1 failure,
 * 2 usage.
 */

import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import { errorFields, type Logger, silentLogger } from '../core/logger.js';
import { WitnessStore } from '../store/witness-store.js';
import { Gossip, type GossipPeer, parsePeerSpec } from '../witness/gossip.js';
import { loadOrCreateWitnessKey } from '../witness/keys.js';
import { createWitnessApp, Witness, witnessLogsFromSpecs } from '../witness/witness.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './logging.js';

/** Resolved configuration of `opa-tlog witness`. */
export interface WitnessConfig {
  data: string;
  host: string;
  port: number;
  /** Name for a new key (ignored, but checked, once the key exists). */
  name: string | undefined;
  /** `<vkey>` or `<vkey> <url>` per log. */
  logs: string[];
  /** `<url>` or `<url>=<vkey>` per peer witness. */
  peers: string[];
  gossipIntervalMs: number;
  /** Log lines: json (default) or pretty, at this level (default info). */
  logFormat?: LogFormat;
  logLevel?: LogLevel;
}

/** A usage error (exit code 2). */
export class WitnessConfigError extends Error {
  override readonly name = 'WitnessConfigError';
}

/** Usage text of `opa-tlog witness`. */
export const WITNESS_USAGE = `usage: opa-tlog witness --log <vkey> [--log '<vkey> <log url>' ...] [flags]
  --config FILE             JSON file with any of the settings below (keys as the flags; log/peer: arrays)
  --data DIR                data directory (witness.key, witness.vkey, witness.db) [env OPA_TLOG_WITNESS_DATA, default ./witness-data]
  --host H                  address to listen on [env OPA_TLOG_WITNESS_HOST, default 127.0.0.1]
  --port N                  TCP port [env OPA_TLOG_WITNESS_PORT, default 7380]
  --name NAME               witness name for a new key [env OPA_TLOG_WITNESS_NAME, default opa-tlog-witness.local/<random>]
  --log '<vkey> [<url>]'    a log to witness; the URL lets gossip fetch consistency proofs (repeatable;
                            several vkeys of one origin = a key rotation, any of them may sign)
                            [env OPA_TLOG_WITNESS_LOGS, one per line]
  --peer '<url>[=<vkey>]'   a peer witness to gossip with (repeatable) [env OPA_TLOG_WITNESS_PEERS, one per line]
  --gossip-interval-ms N    gossip period [env OPA_TLOG_WITNESS_GOSSIP_INTERVAL_MS, default 60000]
  --log-format F            json or pretty [env OPA_TLOG_WITNESS_LOG_FORMAT, default json]
  --log-level L             debug, info, warn, error or silent [env OPA_TLOG_WITNESS_LOG_LEVEL, default info]`;

function listFrom(v: unknown, what: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v.split('\n').filter((l) => l.trim() !== '');
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new WitnessConfigError(`${what} must be a string or an array of strings`);
}

function intFrom(v: unknown, what: string): number {
  const n = typeof v === 'number' ? v : Number(String(v));
  if (!Number.isSafeInteger(n) || n < 0)
    throw new WitnessConfigError(`${what} must be a non-negative integer`);
  return n;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
  if (!allowed.includes(String(v) as T))
    throw new WitnessConfigError(`${what} must be one of ${allowed.join(', ')}, got ${String(v)}`);
  return String(v) as T;
}

/** Resolves the configuration from argv, the environment and an optional JSON file. */
export function loadWitnessConfig(argv: string[], env: NodeJS.ProcessEnv): WitnessConfig {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        data: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        name: { type: 'string' },
        log: { type: 'string', multiple: true },
        peer: { type: 'string', multiple: true },
        'gossip-interval-ms': { type: 'string' },
        'log-format': { type: 'string' },
        'log-level': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new WitnessConfigError((err as Error).message);
  }
  const configPath = (values.config as string | undefined) ?? env.OPA_TLOG_WITNESS_CONFIG;
  let file: Record<string, unknown> = {};
  if (configPath) {
    try {
      file = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new WitnessConfigError(`cannot read config file ${configPath}: ${(err as Error).message}`);
    }
    const known = new Set([
      'data',
      'host',
      'port',
      'name',
      'log',
      'peer',
      'gossip-interval-ms',
      'log-format',
      'log-level',
    ]);
    for (const k of Object.keys(file)) {
      if (!known.has(k)) throw new WitnessConfigError(`unknown setting "${k}" in ${configPath}`);
    }
  }
  const pick = (flag: string, envName: string): unknown => values[flag] ?? env[envName] ?? file[flag];
  const cfg: WitnessConfig = {
    data: String(pick('data', 'OPA_TLOG_WITNESS_DATA') ?? './witness-data'),
    host: String(pick('host', 'OPA_TLOG_WITNESS_HOST') ?? '127.0.0.1'),
    port: intFrom(pick('port', 'OPA_TLOG_WITNESS_PORT') ?? 7380, '--port'),
    name: (pick('name', 'OPA_TLOG_WITNESS_NAME') as string | undefined) ?? undefined,
    logs: listFrom(pick('log', 'OPA_TLOG_WITNESS_LOGS'), 'log') ?? [],
    peers: listFrom(pick('peer', 'OPA_TLOG_WITNESS_PEERS'), 'peer') ?? [],
    gossipIntervalMs: intFrom(
      pick('gossip-interval-ms', 'OPA_TLOG_WITNESS_GOSSIP_INTERVAL_MS') ?? 60_000,
      '--gossip-interval-ms',
    ),
    logFormat: oneOf(
      pick('log-format', 'OPA_TLOG_WITNESS_LOG_FORMAT') ?? 'json',
      LOG_FORMATS,
      '--log-format',
    ),
    logLevel: oneOf(pick('log-level', 'OPA_TLOG_WITNESS_LOG_LEVEL') ?? 'info', LOG_LEVELS, '--log-level'),
  };
  if (cfg.port > 65535) throw new WitnessConfigError(`--port ${cfg.port} is out of range`);
  if (cfg.logs.length === 0) throw new WitnessConfigError('at least one --log <vkey> is required');
  if (cfg.gossipIntervalMs < 100) throw new WitnessConfigError('--gossip-interval-ms must be at least 100');
  return cfg;
}

/** A running witness server. */
export interface RunningWitness {
  /** http://host:port */
  url: string;
  vkey: string;
  /** True if the key was created at this start. */
  created: boolean;
  witness: Witness;
  gossip: Gossip | undefined;
  /** Stops gossip, the server, and closes the database. */
  close(): Promise<void>;
}

/** Starts the witness described by `cfg` (creating its key on first run), logging to `logger`. */
export async function startWitness(
  cfg: WitnessConfig,
  logger: Logger = silentLogger,
): Promise<RunningWitness> {
  const data = resolve(cfg.data);
  let key: ReturnType<typeof loadOrCreateWitnessKey>;
  let logs: ReturnType<typeof witnessLogsFromSpecs>;
  let peers: GossipPeer[];
  try {
    key = loadOrCreateWitnessKey(data, cfg.name);
    logs = witnessLogsFromSpecs(cfg.logs);
    peers = cfg.peers.map(parsePeerSpec);
  } catch (err) {
    throw new WitnessConfigError((err as Error).message);
  }
  const store = WitnessStore.open(join(data, 'witness.db'));
  const witness = new Witness({ signer: key.signer, logs, store });
  const app = createWitnessApp(witness, logger);
  const server = await new Promise<ReturnType<typeof serve>>((ok, fail) => {
    const s = serve({ fetch: app.fetch, hostname: cfg.host, port: cfg.port }, () => ok(s));
    s.once('error', fail);
  });
  const addr = server.address() as AddressInfo;
  const gossip = peers.length > 0 ? new Gossip({ witness, peers, logger }) : undefined;
  gossip?.start(cfg.gossipIntervalMs);
  return {
    url: `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`,
    vkey: key.signer.vkey,
    created: key.created,
    witness,
    gossip,
    close: async () => {
      gossip?.stop();
      await new Promise<void>((ok) => {
        server.close(() => ok());
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
      store.close();
    },
  };
}

/** Entry point of `opa-tlog witness` (wire into src/cli/main.ts). Resolves with the exit code. */
export async function runWitness(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(WITNESS_USAGE);
    return 0;
  }
  let running: RunningWitness;
  let logger: Logger | undefined;
  try {
    const cfg = loadWitnessConfig(argv, process.env);
    logger = createLogger(cfg.logFormat ?? 'json', cfg.logLevel ?? 'info');
    running = await startWitness(cfg, logger);
  } catch (err) {
    if (err instanceof WitnessConfigError) {
      console.error(`opa-tlog witness: ${err.message}\n${WITNESS_USAGE}`);
      return 2;
    }
    if (logger) logger.error(errorFields(err), `refusing to start: ${(err as Error).message}`);
    else console.error(`opa-tlog witness: ${(err as Error).message}`);
    return 1;
  }
  const log = logger;
  if (running.created) log.info('created a new cosigner key');
  log.info({ name: running.witness.signer.name }, `name ${running.witness.signer.name}`);
  log.info({ vkey: running.vkey }, `verifier key ${running.vkey}`);
  for (const l of running.witness.logs()) log.info({ origin: l.origin }, `witnessing ${l.origin}`);
  log.info(`listening on ${running.url}`);
  return new Promise<number>((done) => {
    const stop = (signal: string) => {
      log.info({ signal }, `${signal}: stopping`);
      running.close().then(
        () => done(0),
        () => done(1),
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
