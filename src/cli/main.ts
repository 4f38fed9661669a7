#!/usr/bin/env node
/**
 * `opa-tlog`: serve | keygen. Exit codes: 0 ok, 1 refused (e.g. fork guard), 2 usage.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type ServerType, serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { toHex } from '../core/bytes.js';
import {
  type Ed25519NoteSigner,
  generateEd25519Key,
  isValidKeyName,
  newEd25519Signer,
  newEd25519Verifier,
  randomSeed,
} from '../core/note.js';
import { type Policy, parsePolicy } from '../core/policy.js';
import { createApp, DEFAULT_APP_OPTIONS } from '../http/app.js';
import { TokenStore } from '../http/auth.js';
import { StartupError, TransparencyLog } from '../log/log.js';
import { Retention } from '../log/retention.js';
import { type Db, openDatabase } from '../store/db.js';
import { SqliteWitnessPushState } from '../store/witness-push-state.js';
import { WitnessPusher } from '../witness/pusher.js';
import { runAudit } from './audit.js';
import { ConfigError, loadServeConfig, type ServeConfig, serveUsage } from './config.js';
import { runConsole } from './console.js';
import { runMonitor } from './monitor.js';
import { runVerify } from './verify.js';
import { runWitness } from './witness.js';

const USAGE = `usage: opa-tlog <command> [flags]
commands:
  serve    run the log server (opa-tlog serve --help)
  keygen   create a signer key: opa-tlog keygen --origin ORIGIN [--out DIR]
  verify   verify a decision, a checkpoint or a tlog-proof file (opa-tlog verify --help)
  audit    download and recompute a whole tlog-tiles log (opa-tlog audit --help)
  witness  run a C2SP tlog-witness that cosigns checkpoints (opa-tlog witness --help)
  monitor  compare a log and its witnesses; exit 1 on a split view (opa-tlog monitor --help)`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve':
      if (rest.includes('--help') || rest.includes('-h')) {
        console.log(serveUsage());
        return 0;
      }
      return runServe(loadServeConfig(rest, process.env));
    case 'keygen':
      return runKeygen(rest);
    case 'verify':
      return runVerify(rest);
    case 'audit':
      return runAudit(rest);
    case 'witness':
      return runWitness(rest);
    case 'monitor':
      return runMonitor(rest);
    case 'console':
      return runConsole(rest);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      console.error(`opa-tlog: unknown command "${cmd}"\n${USAGE}`);
      return 2;
  }
}

/** Writes a fresh key pair: <dir>/log.key (0600) and <dir>/log.vkey. Refuses to overwrite. */
function writeKeyPair(dir: string, origin: string): { skey: string; vkey: string } {
  const keyFile = join(dir, 'log.key');
  if (existsSync(keyFile)) throw new ConfigError(`${keyFile} exists; refusing to overwrite a signer key`);
  const pair = generateEd25519Key(origin);
  writeFileSync(keyFile, `${pair.skey}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(keyFile, 0o600);
  writeFileSync(join(dir, 'log.vkey'), `${pair.vkey}\n`);
  return pair;
}

function runKeygen(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { origin: { type: 'string' }, out: { type: 'string' } },
  });
  if (!values.origin) throw new ConfigError('keygen needs --origin (e.g. audit.example.com/opa)');
  if (!isValidKeyName(values.origin)) throw new ConfigError(`invalid origin "${values.origin}"`);
  const dir = resolve(values.out ?? '.');
  mkdirSync(dir, { recursive: true });
  const pair = writeKeyPair(dir, values.origin);
  console.log(`wrote ${join(dir, 'log.key')} (secret, mode 0600) and ${join(dir, 'log.vkey')}`);
  console.log(`verifier key: ${pair.vkey}`);
  return 0;
}

/** The signer key: `--key`, or `<data>/log.key`, created (with a new origin) if absent. */
function loadSigner(
  cfg: ServeConfig,
  data: string,
): { signer: Ed25519NoteSigner; keyFile: string; created: boolean } {
  const keyFile = cfg.key ? resolve(cfg.key) : join(data, 'log.key');
  let created = false;
  if (!existsSync(keyFile)) {
    if (cfg.key) throw new ConfigError(`key file ${keyFile} does not exist`);
    const origin = cfg.origin ?? `opa-tlog.local/${toHex(randomSeed().subarray(0, 4))}`;
    if (!isValidKeyName(origin)) throw new ConfigError(`invalid origin "${origin}"`);
    writeKeyPair(data, origin);
    created = true;
  }
  const signer = newEd25519Signer(readFileSync(keyFile, 'utf8').trim());
  if (cfg.origin !== undefined && cfg.origin !== signer.name) {
    throw new ConfigError(`--origin ${cfg.origin} differs from the key's origin ${signer.name} (${keyFile})`);
  }
  return { signer, keyFile, created };
}

/**
 * The bearer tokens; refuses (ConfigError) to serve without tokens on anything but loopback
 * unless --insecure-no-auth says so.
 */
function loadTokens(cfg: ServeConfig): TokenStore {
  let tokens: TokenStore;
  try {
    tokens = new TokenStore(cfg.tokens.split(',').join('\n'), cfg.tokenFile ? [resolve(cfg.tokenFile)] : []);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (!tokens.configured) {
    if (!isLoopback(cfg.host) && !cfg.insecureNoAuth) {
      throw new ConfigError(
        `no token is configured, so the log only binds to loopback; refusing --host ${cfg.host} ` +
          '(configure --tokens / --token-file, or pass --insecure-no-auth to override)',
      );
    }
    console.log('opa-tlog: no tokens configured: every endpoint is open to anyone who can connect');
  }
  return tokens;
}

/** The witness policy file, parsed; a bad file is a ConfigError. */
function loadWitnessPolicy(file: string): Policy {
  try {
    return parsePolicy(readFileSync(resolve(file)));
  } catch (err) {
    throw new ConfigError(`--witness-policy ${file}: ${(err as Error).message}`);
  }
}

/**
 * Starts pushing every new checkpoint to the policy's witnesses and publishes the newest
 * cosigned one. The pusher keeps its rows in the log database through its own connection,
 * returned to be closed once the log has stopped.
 */
async function startWitnessPusher(
  cfg: ServeConfig,
  policy: Policy,
  log: TransparencyLog,
  dbPath: string,
): Promise<{ pusher: WitnessPusher; db: Db }> {
  const db = openDatabase(dbPath, { synchronous: cfg.synchronous, cacheMiB: 8 });
  const p = new WitnessPusher({
    origin: log.origin,
    policy,
    consistencyProof: (m, n) => log.consistencyProof(m, n),
    state: new SqliteWitnessPushState(db),
    minIntervalMs: cfg.witnessMinIntervalMs,
    report: (m) => console.error(`opa-tlog: witness: ${m}`),
  });
  log.onCheckpoint((cp) => p.onCheckpoint(cp));
  p.onCheckpoint(log.latest());
  log.setCosignatureSource((cp) => (p.publishedSize() === cp.size ? p.published() : undefined));
  await p.ready();
  return { pusher: p, db };
}

/** Starts the HTTP(S) server; logs where it listens. */
function listen(cfg: ServeConfig, app: Hono, log: TransparencyLog): ServerType {
  const tls =
    cfg.tlsCert && cfg.tlsKey
      ? { cert: readFileSync(cfg.tlsCert), key: readFileSync(cfg.tlsKey) }
      : undefined;
  const scheme = tls ? 'https' : 'http';
  return serve(
    {
      fetch: app.fetch,
      hostname: cfg.host,
      port: cfg.port,
      ...(tls ? { createServer: createHttpsServer, serverOptions: tls } : {}),
    },
    (info) => {
      console.log(
        `opa-tlog: listening on ${scheme}://${info.address}:${info.port} (tree size ${log.latest().size})`,
      );
    },
  );
}

/**
 * Resolves with the exit code once the server stops: on SIGINT/SIGTERM (queued entries are
 * committed and a final checkpoint signed: 0) or on a server error (1). `stopFirst` runs
 * before the log closes, `closeAfter` once it has.
 */
function untilStopped(
  server: ServerType,
  log: TransparencyLog,
  stopFirst: (() => void)[],
  closeAfter: (() => void)[],
): Promise<number> {
  const closeLog = () =>
    log.close().finally(() => {
      for (const f of closeAfter) f();
    });
  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`opa-tlog: ${signal}: committing queued entries and stopping`);
      server.close();
      for (const f of stopFirst) f();
      closeLog().then(
        () => done(0),
        (err: unknown) => {
          console.error(`opa-tlog: ${(err as Error).message}`);
          done(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    server.on('error', (err) => {
      console.error(`opa-tlog: ${err.message}`);
      void closeLog().finally(() => done(1));
    });
  });
}

/** `opa-tlog serve`: opens (or creates) the log and serves it until a signal stops it. */
async function runServe(cfg: ServeConfig): Promise<number> {
  const data = resolve(cfg.data);
  // Owner-only: the folder holds private payloads and the signer key (spec/storage.md).
  mkdirSync(data, { recursive: true, mode: 0o700 });
  const { signer, keyFile, created } = loadSigner(cfg, data);
  const dbPath = join(data, 'log.db');
  const log = await TransparencyLog.open({
    dbPath,
    origin: signer.name,
    signer,
    verifier: newEd25519Verifier(signer.vkey),
    signIntervalMs: cfg.signIntervalMs,
    sequencer: { maxBatch: cfg.maxBatch, maxDelayMs: cfg.maxDelayMs, maxQueue: cfg.maxQueue },
    synchronous: cfg.synchronous,
    cacheMiB: cfg.cacheMiB,
    writerThread: cfg.writerThread,
  });
  let tokens: TokenStore;
  let policy: Policy | undefined;
  try {
    tokens = loadTokens(cfg);
    await log.start();
    policy = cfg.witnessPolicy ? loadWitnessPolicy(cfg.witnessPolicy) : undefined;
  } catch (err) {
    await log.close();
    throw err;
  }
  const witness = policy ? await startWitnessPusher(cfg, policy, log, dbPath) : undefined;
  const pusher = witness?.pusher;
  const retention = cfg.retentionDays > 0 ? new Retention(log, cfg.retentionDays) : undefined;
  retention?.start();
  const app = createApp(log, {
    ...DEFAULT_APP_OPTIONS,
    maxBodyBytes: cfg.maxBodyBytes,
    tokens,
    vkey: signer.vkey,
    corsOrigins: cfg.corsOrigins,
    ingest: { ...DEFAULT_APP_OPTIONS.ingest, maxCompressedBytes: cfg.maxBodyBytes },
    ...(pusher ? { publishedCheckpoint: () => pusher.published() } : {}),
  });
  if (created) console.log(`opa-tlog: created a new signer key in ${keyFile}`);
  console.log(`opa-tlog: origin ${signer.name}`);
  console.log(`opa-tlog: verifier key ${signer.vkey}`);
  const server = listen(cfg, app, log);
  const stopFirst = [() => retention?.stop(), () => pusher?.close()];
  return untilStopped(server, log, stopFirst, [() => witness?.db.close()]);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`opa-tlog: ${err.message}`);
      process.exit(2);
    }
    if (err instanceof StartupError) {
      console.error(`opa-tlog: refusing to start: ${err.message}`);
      process.exit(1);
    }
    console.error(err);
    process.exit(1);
  },
);

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
