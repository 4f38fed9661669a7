#!/usr/bin/env node
/**
 * `opa-tlog`: serve | keygen. Exit codes: 0 ok, 1 refused (e.g. fork guard), 2 usage.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { getRequestListener, type ServerType } from '@hono/node-server';
import { toHex } from '../core/bytes.js';
import { errorFields, type Logger } from '../core/logger.js';
import {
  type Ed25519NoteSigner,
  generateEd25519Key,
  isValidKeyName,
  newEd25519Signer,
  randomSeed,
} from '../core/note.js';
import { type Policy, parsePolicy } from '../core/policy.js';
import { createServing, DEFAULT_APP_OPTIONS, type Serving } from '../http/app.js';
import { TokenStore } from '../http/auth.js';
import { Metrics } from '../http/metrics.js';
import { StartupError, TransparencyLog } from '../log/log.js';
import { Retention } from '../log/retention.js';
import { type Db, openDatabase } from '../store/db.js';
import { SqliteWitnessPushState } from '../store/witness-push-state.js';
import { WitnessPusher } from '../witness/pusher.js';
import { runAudit } from './audit.js';
import { ConfigError, loadServeConfig, type ServeConfig, serveUsage } from './config.js';
import { runConsole } from './console.js';
import { createLogger } from './logging.js';
import { applyHeapSettings } from './memory.js';
import { runMirror } from './mirror.js';
import { runMonitor } from './monitor.js';
import { untilStopped } from './shutdown.js';
import { runVerify } from './verify.js';
import { runWitness } from './witness.js';

const USAGE = `usage: opa-tlog <command> [flags]
commands:
  serve    run the log server (opa-tlog serve --help)
  keygen   create a signer key: opa-tlog keygen --origin ORIGIN [--out DIR] [--name NAME]
  verify   verify a decision, a checkpoint or a tlog-proof file (opa-tlog verify --help)
  audit    download and recompute a whole tlog-tiles log (opa-tlog audit --help)
  witness  run a C2SP tlog-witness that cosigns checkpoints (opa-tlog witness --help)
  monitor  compare a log and its witnesses; exit 1 on a split view (opa-tlog monitor --help)
  mirror   copy a tlog-tiles log, verified, into a directory for static serving (opa-tlog mirror --help)`;

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
    case 'mirror':
      return runMirror(rest);
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

/**
 * Writes a fresh key pair: <dir>/<name>.key (0600) and <dir>/<name>.vkey. Refuses to overwrite
 * either, so the next key of a rotation can be made beside the current one.
 */
function writeKeyPair(dir: string, origin: string, name = 'log'): { skey: string; vkey: string } {
  const keyFile = join(dir, `${name}.key`);
  const vkeyFile = join(dir, `${name}.vkey`);
  for (const f of [keyFile, vkeyFile]) {
    if (existsSync(f)) throw new ConfigError(`${f} exists; refusing to overwrite a signer key`);
  }
  const pair = generateEd25519Key(origin);
  writeFileSync(keyFile, `${pair.skey}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(keyFile, 0o600);
  writeFileSync(vkeyFile, `${pair.vkey}\n`, { flag: 'wx' });
  return pair;
}

/**
 * `opa-tlog keygen --origin ORIGIN [--out DIR] [--name NAME]`: a new signer key pair
 * DIR/NAME.key and DIR/NAME.vkey (default ./log.key). For a key rotation, the next key of a
 * log: same origin, another name (e.g. --name log-2026), beside the current key.
 */
function runKeygen(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { origin: { type: 'string' }, out: { type: 'string' }, name: { type: 'string' } },
  });
  if (!values.origin) throw new ConfigError('keygen needs --origin (e.g. audit.example.com/opa)');
  if (!isValidKeyName(values.origin)) throw new ConfigError(`invalid origin "${values.origin}"`);
  const name = values.name ?? 'log';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new ConfigError(`--name ${name}: use letters, digits, ".", "_" and "-" (a file name, no path)`);
  }
  const dir = resolve(values.out ?? '.');
  mkdirSync(dir, { recursive: true });
  const pair = writeKeyPair(dir, values.origin, name);
  console.log(`wrote ${join(dir, `${name}.key`)} (secret, mode 0600) and ${join(dir, `${name}.vkey`)}`);
  console.log(`verifier key: ${pair.vkey}`);
  return 0;
}

/** Reads one signer key file. */
function readSigner(keyFile: string): Ed25519NoteSigner {
  if (!existsSync(keyFile)) throw new ConfigError(`key file ${keyFile} does not exist`);
  try {
    return newEd25519Signer(readFileSync(keyFile, 'utf8').trim());
  } catch (err) {
    throw new ConfigError(`key file ${keyFile}: ${(err as Error).message}`);
  }
}

/**
 * The signer keys: every `--key` file (several during a key rotation; all of one origin), or
 * `<data>/log.key`, created (with a new origin) if absent.
 */
function loadSigners(
  cfg: ServeConfig,
  data: string,
): { signers: Ed25519NoteSigner[]; keyFile: string; created: boolean } {
  const keyFiles = cfg.key.length > 0 ? cfg.key.map((k) => resolve(k)) : [join(data, 'log.key')];
  let created = false;
  if (cfg.key.length === 0 && !existsSync(keyFiles[0]!)) {
    const origin = cfg.origin ?? `opa-tlog.local/${toHex(randomSeed().subarray(0, 4))}`;
    if (!isValidKeyName(origin)) throw new ConfigError(`invalid origin "${origin}"`);
    writeKeyPair(data, origin);
    created = true;
  }
  const signers = keyFiles.map(readSigner);
  const origin = cfg.origin ?? signers[0]!.name;
  signers.forEach((signer, i) => {
    if (signer.name !== origin) {
      const what = cfg.origin !== undefined ? '--origin' : `the first key's origin`;
      throw new ConfigError(
        `${what} ${origin} differs from the key's origin ${signer.name} (${keyFiles[i]})`,
      );
    }
  });
  if (new Set(signers.map((s) => s.vkey)).size !== signers.length) {
    throw new ConfigError('the same signer key is given twice');
  }
  return { signers, keyFile: keyFiles[0]!, created };
}

/**
 * The bearer tokens; refuses (ConfigError) to serve without tokens on anything but loopback
 * unless --insecure-no-auth says so.
 */
function loadTokens(cfg: ServeConfig, logger: Logger): TokenStore {
  let tokens: TokenStore;
  try {
    tokens = new TokenStore(
      cfg.tokens.split(',').join('\n'),
      cfg.tokenFile ? [resolve(cfg.tokenFile)] : [],
      logger,
    );
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
    logger.warn('no tokens configured: every endpoint is open to anyone who can connect');
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
 * cosigned one. The pusher keeps its rows in the log database: the storage engine's own
 * state when it has one (PostgreSQL, where only the elected sequencer pushes), else through
 * its own connection to the SQLite file, returned to be closed once the log has stopped.
 */
async function startWitnessPusher(
  cfg: ServeConfig,
  policy: Policy,
  log: TransparencyLog,
  dbPath: string,
  logger: Logger,
): Promise<{ pusher: WitnessPusher; db: Db | undefined }> {
  const shared = log.storage.shared;
  const engineState = log.storage.witnessPushState;
  const db = engineState ? undefined : openDatabase(dbPath, { synchronous: cfg.synchronous, cacheMiB: 8 });
  const p = new WitnessPusher({
    origin: log.origin,
    policy,
    consistencyProof: (m, n) => log.consistencyProof(m, n),
    state: engineState ?? new SqliteWitnessPushState(db!),
    minIntervalMs: cfg.witnessMinIntervalMs,
    logger,
    ...(shared ? { isSequencer: () => shared.leading } : {}),
  });
  log.onCheckpoint((cp) => p.onCheckpoint(cp));
  p.onCheckpoint(log.latest());
  log.setCosignatureSource((cp) => (p.publishedSize() === cp.size ? p.published() : undefined));
  await p.ready();
  return { pusher: p, db };
}

/**
 * Starts the HTTP(S) server, the public reads' fast path in front of the app
 * (src/http/fast-reads.ts); logs where it listens.
 */
function listen(cfg: ServeConfig, serving: Serving, log: TransparencyLog, logger: Logger): ServerType {
  const tls =
    cfg.tlsCert && cfg.tlsKey
      ? { cert: readFileSync(cfg.tlsCert), key: readFileSync(cfg.tlsKey) }
      : undefined;
  const listener = serving.fastReads(getRequestListener(serving.app.fetch));
  const server = tls ? createHttpsServer(tls, listener) : createHttpServer(listener);
  server.listen(cfg.port, cfg.host, () => {
    const info = server.address() as AddressInfo;
    const where = `${tls ? 'https' : 'http'}://${info.address}:${info.port}`;
    logger.info({ treeSize: log.latest().size }, `listening on ${where} (tree size ${log.latest().size})`);
  });
  return server;
}

/**
 * Sizes of the database (its file and its blob file of full tiles and bundles) and of its
 * write-ahead log, for metrics (0 when absent).
 */
function storageBytes(dbPath: string): { db: number; wal: number } {
  const size = (f: string) => statSync(f, { throwIfNoEntry: false })?.size ?? 0;
  return { db: size(dbPath) + size(`${dbPath}-blobs`), wal: size(`${dbPath}-wal`) };
}

/**
 * `opa-tlog serve`: opens (or creates) the log and serves it until a signal stops it. A
 * refusal to start (the fork guard, an unreadable database) is logged and exits 1.
 */
async function runServe(cfg: ServeConfig): Promise<number> {
  applyHeapSettings();
  const logger = createLogger(cfg.logFormat, cfg.logLevel);
  try {
    return await serveWith(cfg, logger);
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    logger.error(errorFields(err), `refusing to start: ${err.message}`);
    return 1;
  }
}

async function serveWith(cfg: ServeConfig, logger: Logger): Promise<number> {
  const data = resolve(cfg.data);
  // Owner-only: the folder holds private payloads and the signer key (spec/storage.md).
  mkdirSync(data, { recursive: true, mode: 0o700 });
  const { signers, keyFile, created } = loadSigners(cfg, data);
  const signer = signers[0]!;
  const dbPath = join(data, 'log.db');
  const metrics = new Metrics({ processMetrics: true });
  const log = await TransparencyLog.open({
    dbPath: cfg.store ?? dbPath,
    origin: signer.name,
    signer: signers,
    forceKeyChange: cfg.forceKeyChange,
    signIntervalMs: cfg.signIntervalMs,
    sequencer: {
      maxBatch: cfg.maxBatch,
      maxDelayMs: cfg.maxDelayMs,
      maxQueue: cfg.maxQueue,
      maxQueueBytes: cfg.maxQueueMiB * 1024 * 1024,
    },
    synchronous: cfg.synchronous,
    cacheMiB: cfg.cacheMiB,
    dedupWindowMs: cfg.dedupWindowMs,
    dedupWindowEntries: cfg.dedupWindowEntries,
    writerThread: cfg.writerThread,
    logger,
    metrics: metrics.log,
  });
  let tokens: TokenStore;
  let policy: Policy | undefined;
  try {
    tokens = loadTokens(cfg, logger);
    await log.start();
    policy = cfg.witnessPolicy ? loadWitnessPolicy(cfg.witnessPolicy) : undefined;
  } catch (err) {
    await log.close();
    throw err;
  }
  const witness = policy ? await startWitnessPusher(cfg, policy, log, dbPath, logger) : undefined;
  const pusher = witness?.pusher;
  const retention =
    cfg.retentionDays > 0 ? new Retention(log, cfg.retentionDays, Date.now, logger) : undefined;
  retention?.start();
  const witnessState = pusher ? () => pusher.status() : undefined;
  metrics.bind(log, {
    storageBytes: () => log.storage.storageBytes?.() ?? storageBytes(dbPath),
    ...(witnessState ? { witnesses: witnessState } : {}),
  });
  const serving = createServing(log, {
    ...DEFAULT_APP_OPTIONS,
    maxBodyBytes: cfg.maxBodyBytes,
    tokens,
    vkeys: signers.map((s) => s.vkey),
    corsOrigins: cfg.corsOrigins,
    ingest: {
      ...DEFAULT_APP_OPTIONS.ingest,
      maxCompressedBytes: cfg.maxBodyBytes,
      maxDecompressedBytes: cfg.maxInflatedBytes,
      maxEvents: cfg.maxEvents,
    },
    logger,
    metrics,
    readiness: witnessState ? { quorumMet: () => witnessState().quorumMet } : {},
    ...(pusher ? { publishedCheckpoint: () => pusher.published() } : {}),
  });
  if (created) logger.info({ keyFile }, `created a new signer key in ${keyFile}`);
  logger.info({ origin: signer.name }, `origin ${signer.name}`);
  for (const s of signers) logger.info({ vkey: s.vkey }, `verifier key ${s.vkey}`);
  const server = listen(cfg, serving, log, logger);
  return untilStopped({
    server,
    log,
    logger,
    timeoutMs: cfg.shutdownTimeoutMs,
    stopFirst: [() => retention?.stop(), () => pusher?.close()],
    closeAfter: [() => witness?.db?.close()],
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`opa-tlog: ${err.message}`);
      process.exit(2);
    }
    // A one-shot command's unexpected failure, told to the user who ran it (`serve` logs its own).
    console.error(err);
    process.exit(1);
  },
);

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
