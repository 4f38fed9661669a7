/**
 * Settings for `opa-tlog serve`: each one from a flag, else an environment variable
 * (OPA_TLOG_<NAME>), else a JSON config file (--config / OPA_TLOG_CONFIG), else the default.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_INGEST_OPTIONS } from '../http/ingest.js';
import { DEFAULT_DEDUP_WINDOW } from '../store/dedup-window.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './logging.js';

export interface ServeConfig {
  data: string;
  /** postgres:// URL of a shared database; undefined: SQLite at <data>/log.db. */
  store: string | undefined;
  host: string;
  port: number;
  origin: string | undefined;
  /** Signer key files; several during a key rotation's overlap. Empty: `<data>/log.key`. */
  key: string[];
  /** Start even though no configured key is among the database's current keys. */
  forceKeyChange: boolean;
  signIntervalMs: number;
  maxBatch: number;
  maxDelayMs: number;
  maxQueue: number;
  maxQueueMiB: number;
  synchronous: 'FULL' | 'NORMAL';
  cacheMiB: number;
  /** How long a resend is recognised as a duplicate by the in-memory dedup window, ms. */
  dedupWindowMs: number;
  /** Most leaves the dedup window holds (~12-16 bytes each, plus 8 of tags where probed). */
  dedupWindowEntries: number;
  maxBodyBytes: number;
  /** Largest ingest body after gunzip, bytes (the gzip-bomb guard; bounds a request's memory). */
  maxInflatedBytes: number;
  /** Most events in one ingest request. */
  maxEvents: number;
  tokens: string;
  tokenFile: string | undefined;
  insecureNoAuth: boolean;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  retentionDays: number;
  witnessPolicy: string | undefined;
  witnessMinIntervalMs: number;
  writerThread: boolean;
  /** Exact origins whose pages may send tokens cross-origin (CORS); empty: public reads only. */
  corsOrigins: string[];
  /** Longest a graceful stop (SIGTERM) may take before the process exits anyway. */
  shutdownTimeoutMs: number;
  logFormat: LogFormat;
  logLevel: LogLevel;
}

interface Setting {
  readonly flag: string;
  readonly env: string;
  /**
   * `list`: repeatable flag, comma-separated in the environment, string or array in the file.
   * `duration`: a number with a unit (ms, s, m, h, d; none: ms), as milliseconds.
   */
  readonly kind: 'string' | 'int' | 'bool' | 'list' | 'duration';
  /** For a list: checks one item, returning what is wrong with it, or undefined. */
  readonly item?: (v: string) => string | undefined;
  readonly def: string | number | boolean | undefined;
  readonly help: string;
}

const SETTINGS: Record<keyof ServeConfig, Setting> = {
  data: {
    flag: 'data',
    env: 'OPA_TLOG_DATA',
    kind: 'string',
    def: './data',
    help: 'data directory (database, keys)',
  },
  store: {
    flag: 'store',
    env: 'OPA_TLOG_STORE',
    kind: 'string',
    def: undefined,
    help: 'postgres://user:pass@host/db to share one PostgreSQL database between servers (default: SQLite in --data)',
  },
  host: {
    flag: 'host',
    env: 'OPA_TLOG_HOST',
    kind: 'string',
    def: '127.0.0.1',
    help: 'address to listen on',
  },
  port: { flag: 'port', env: 'OPA_TLOG_PORT', kind: 'int', def: 8080, help: 'TCP port' },
  origin: {
    flag: 'origin',
    env: 'OPA_TLOG_ORIGIN',
    kind: 'string',
    def: undefined,
    help: 'checkpoint origin, e.g. audit.example.com/opa (fixed at first run)',
  },
  key: {
    flag: 'key',
    env: 'OPA_TLOG_KEY',
    kind: 'list',
    def: undefined,
    help: 'signer key file (default <data>/log.key, created on first run); repeatable (key rotation), env comma-separated',
  },
  forceKeyChange: {
    flag: 'force-key-change',
    env: 'OPA_TLOG_FORCE_KEY_CHANGE',
    kind: 'bool',
    def: false,
    help: "start with keys sharing none with the log's current keys (old key lost); use once",
  },
  signIntervalMs: {
    flag: 'sign-interval-ms',
    env: 'OPA_TLOG_SIGN_INTERVAL_MS',
    kind: 'int',
    def: 1000,
    help: 'checkpoint signing period',
  },
  maxBatch: {
    flag: 'max-batch',
    env: 'OPA_TLOG_MAX_BATCH',
    kind: 'int',
    def: 1000,
    help: 'most leaves per commit (bounds how long a checkpoint waits behind a commit)',
  },
  maxDelayMs: {
    flag: 'max-delay-ms',
    env: 'OPA_TLOG_MAX_DELAY_MS',
    kind: 'int',
    def: 2,
    help: 'longest wait to fill a commit',
  },
  maxQueue: {
    flag: 'max-queue',
    env: 'OPA_TLOG_MAX_QUEUE',
    kind: 'int',
    def: 200000,
    help: 'most leaves queued before 503',
  },
  maxQueueMiB: {
    flag: 'max-queue-mib',
    env: 'OPA_TLOG_MAX_QUEUE_MIB',
    kind: 'int',
    def: 32,
    help: 'most MiB of leaves queued before 503 (heap: about this much again in objects; spec/storage.md "Memory")',
  },
  synchronous: {
    flag: 'synchronous',
    env: 'OPA_TLOG_SYNCHRONOUS',
    kind: 'string',
    def: 'FULL',
    help: 'FULL (survives power loss) or NORMAL',
  },
  cacheMiB: {
    flag: 'cache-mib',
    env: 'OPA_TLOG_CACHE_MIB',
    kind: 'int',
    def: 16, // = DEFAULT_CACHE_MIB (src/store/db.ts; not imported: it loads the SQLite driver)
    help: "SQLite page cache of the committing connection, MiB (the readers' connection takes at most 4)",
  },
  dedupWindowMs: {
    flag: 'dedup-window',
    env: 'OPA_TLOG_DEDUP_WINDOW',
    kind: 'duration',
    def: '24h',
    help: 'how long a resend is recognised as a duplicate (in memory; e.g. 30m, 24h, 7d)',
  },
  dedupWindowEntries: {
    flag: 'dedup-window-entries',
    env: 'OPA_TLOG_DEDUP_WINDOW_ENTRIES',
    kind: 'int',
    def: DEFAULT_DEDUP_WINDOW.maxEntries,
    help: 'most leaves the dedup window holds (~12-16 bytes each: 24-32 MiB at the default 2,000,000)',
  },
  maxBodyBytes: {
    flag: 'max-body-bytes',
    env: 'OPA_TLOG_MAX_BODY_BYTES',
    kind: 'int',
    def: 16 * 1024 * 1024,
    help: 'largest request body',
  },
  maxInflatedBytes: {
    flag: 'max-inflated-bytes',
    env: 'OPA_TLOG_MAX_INFLATED_BYTES',
    kind: 'int',
    def: DEFAULT_INGEST_OPTIONS.maxDecompressedBytes,
    help: 'largest ingest body after gunzip (a request is committed whole: its memory grows with it)',
  },
  maxEvents: {
    flag: 'max-events',
    env: 'OPA_TLOG_MAX_EVENTS',
    kind: 'int',
    def: DEFAULT_INGEST_OPTIONS.maxEvents,
    help: 'most events in one ingest request',
  },
  tokens: {
    flag: 'tokens',
    env: 'OPA_TLOG_TOKENS',
    kind: 'string',
    def: '',
    help: 'bearer tokens, comma-separated <role>[+<role>]:<token> (roles ingest, read, metrics, admin)',
  },
  tokenFile: {
    flag: 'token-file',
    env: 'OPA_TLOG_TOKEN_FILE',
    kind: 'string',
    def: undefined,
    help: 'file with one <role>[+<role>]:<token> per line, re-read on change',
  },
  insecureNoAuth: {
    flag: 'insecure-no-auth',
    env: 'OPA_TLOG_INSECURE_NO_AUTH',
    kind: 'bool',
    def: false,
    help: 'allow binding a non-loopback address without any token',
  },
  tlsCert: {
    flag: 'tls-cert',
    env: 'OPA_TLOG_TLS_CERT',
    kind: 'string',
    def: undefined,
    help: 'TLS certificate (PEM)',
  },
  tlsKey: {
    flag: 'tls-key',
    env: 'OPA_TLOG_TLS_KEY',
    kind: 'string',
    def: undefined,
    help: 'TLS private key (PEM)',
  },
  retentionDays: {
    flag: 'retention-days',
    env: 'OPA_TLOG_RETENTION_DAYS',
    kind: 'int',
    def: 0,
    help: 'erase payloads older than this many days (0 = keep forever)',
  },
  writerThread: {
    flag: 'writer-thread',
    env: 'OPA_TLOG_WRITER_THREAD',
    kind: 'bool',
    def: true,
    help: 'commit in a worker thread (uses the second core); false = on the main thread',
  },
  witnessPolicy: {
    flag: 'witness-policy',
    env: 'OPA_TLOG_WITNESS_POLICY',
    kind: 'string',
    def: undefined,
    help: 'C2SP tlog-policy file: witnesses (with URLs) and the quorum /checkpoint must meet',
  },
  witnessMinIntervalMs: {
    flag: 'witness-min-interval-ms',
    env: 'OPA_TLOG_WITNESS_MIN_INTERVAL_MS',
    kind: 'int',
    def: 10_000,
    help: 'least time between two pushes to one witness',
  },
  corsOrigins: {
    flag: 'cors-origin',
    env: 'OPA_TLOG_CORS_ORIGIN',
    kind: 'list',
    def: undefined,
    item: (o) => (isOrigin(o) ? undefined : 'must be an origin such as https://app.example.com'),
    help: 'origin (https://host[:port]) whose pages may send tokens (CORS); repeatable, env comma-separated',
  },
  shutdownTimeoutMs: {
    flag: 'shutdown-timeout-ms',
    env: 'OPA_TLOG_SHUTDOWN_TIMEOUT_MS',
    kind: 'int',
    def: 10_000,
    help: 'longest a graceful stop (SIGTERM: commit the queue, sign, close) may take before exiting anyway',
  },
  logFormat: {
    flag: 'log-format',
    env: 'OPA_TLOG_LOG_FORMAT',
    kind: 'string',
    def: 'json',
    help: 'json (one JSON object per line) or pretty (a line per event, for a terminal)',
  },
  logLevel: {
    flag: 'log-level',
    env: 'OPA_TLOG_LOG_LEVEL',
    kind: 'string',
    def: 'info',
    help: 'debug, info, warn, error or silent',
  },
};

export class ConfigError extends Error {}

/** Usage text for `serve`, generated from the settings table. */
export function serveUsage(): string {
  const lines = Object.values(SETTINGS).map(
    (s) =>
      `  --${s.flag.padEnd(18)} ${s.help} [env ${s.env}${s.def !== undefined ? `, default ${s.def}` : ''}]`,
  );
  return `usage: opa-tlog serve [flags]\n  --config FILE        JSON file with any of the settings below (keys as the flags)\n${lines.join('\n')}`;
}

type RawValue = string | number | boolean | readonly unknown[];
type Value = string | number | boolean | string[] | undefined;

/** Converts a setting's raw value (flag, env or file) to its kind, or says why it cannot. */
function coerce(s: Setting, raw: RawValue | undefined): Value {
  if (s.kind === 'list') return parseList(s, raw);
  if (raw === undefined) return undefined;
  if (s.kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    if (/^(1|true|yes)$/i.test(String(raw))) return true;
    if (/^(0|false|no|)$/i.test(String(raw))) return false;
    throw new ConfigError(`--${s.flag} must be true or false, got ${raw}`);
  }
  if (s.kind === 'duration') return parseDuration(s, raw);
  if (s.kind === 'int') {
    const n = typeof raw === 'number' ? raw : Number(String(raw));
    if (!Number.isSafeInteger(n) || n < 0)
      throw new ConfigError(`--${s.flag} must be a non-negative integer, got ${raw}`);
    return n;
  }
  return String(raw);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration setting: a non-negative number with a unit (ms, s, m, h, d; none: ms). */
function parseDuration(s: Setting, raw: RawValue): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(String(raw));
  const ms = m ? Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!) : Number.NaN;
  if (!Number.isSafeInteger(ms))
    throw new ConfigError(`--${s.flag} must be a duration such as 90s, 30m or 24h, got ${raw}`);
  return ms;
}

/**
 * Parses a list setting: repeated flags (an array), a comma-separated string (env, file) or a
 * JSON array (file); blank items are dropped and each other one must pass the setting's check.
 * CORS origins must be exact origins, `scheme://host[:port]` with no path: a browser sends
 * exactly that in `Origin` (`*` is refused, as it would let any site send tokens).
 */
function parseList(s: Setting, raw: RawValue | undefined): string[] {
  if (raw === undefined) return [];
  const items = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => String(v).split(','));
  return items
    .map((o) => o.trim())
    .filter((o) => o !== '')
    .map((o) => {
      const problem = s.item?.(o);
      if (problem !== undefined) throw new ConfigError(`--${s.flag} ${problem}, got ${o}`);
      return o;
    });
}

/** True for an exact http(s) origin as browsers serialize it (no path, default port omitted). */
function isOrigin(o: string): boolean {
  try {
    const u = new URL(o);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === o;
  } catch {
    return false;
  }
}

/** Resolves the serve configuration from argv, env and an optional config file. */
export function loadServeConfig(argv: string[], env: NodeJS.ProcessEnv): ServeConfig {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    config: { type: 'string' },
  };
  for (const s of Object.values(SETTINGS))
    options[s.flag] = { type: s.kind === 'bool' ? 'boolean' : 'string', multiple: s.kind === 'list' };
  let values: Record<string, RawValue | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const configPath = (values.config as string | undefined) ?? env.OPA_TLOG_CONFIG;
  let file: Record<string, unknown> = {};
  if (configPath) {
    try {
      file = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`cannot read config file ${configPath}: ${(err as Error).message}`);
    }
    const known = new Set(Object.values(SETTINGS).map((s) => s.flag));
    for (const k of Object.keys(file))
      if (!known.has(k)) throw new ConfigError(`unknown setting "${k}" in ${configPath}`);
  }
  const out: Record<string, Value> = {};
  for (const [name, s] of Object.entries(SETTINGS)) {
    const raw = values[s.flag] ?? env[s.env] ?? (file[s.flag] as RawValue | undefined) ?? s.def;
    out[name] = coerce(s, raw);
  }
  const cfg = out as unknown as ServeConfig;
  if (cfg.synchronous !== 'FULL' && cfg.synchronous !== 'NORMAL') {
    throw new ConfigError(`--synchronous must be FULL or NORMAL, got ${cfg.synchronous}`);
  }
  if (cfg.store !== undefined && !/^postgres(ql)?:\/\//i.test(cfg.store)) {
    throw new ConfigError('--store must be a postgres:// URL (leave it out for SQLite in --data)');
  }
  if (!LOG_FORMATS.includes(cfg.logFormat))
    throw new ConfigError(`--log-format must be json or pretty, got ${cfg.logFormat}`);
  if (!LOG_LEVELS.includes(cfg.logLevel))
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${cfg.logLevel}`);
  if (cfg.port > 65535) throw new ConfigError(`--port ${cfg.port} is out of range`);
  if (cfg.signIntervalMs < 10) throw new ConfigError('--sign-interval-ms must be at least 10');
  if (cfg.dedupWindowEntries < 1) throw new ConfigError('--dedup-window-entries must be positive');
  if (cfg.maxInflatedBytes < 1 || cfg.maxEvents < 1)
    throw new ConfigError('--max-inflated-bytes and --max-events must be positive');
  if (cfg.maxBatch < 1 || cfg.maxQueue < 1 || cfg.maxQueueMiB < 1)
    throw new ConfigError('--max-batch, --max-queue and --max-queue-mib must be positive');
  if ((cfg.tlsCert === undefined) !== (cfg.tlsKey === undefined)) {
    throw new ConfigError('--tls-cert and --tls-key go together');
  }
  return cfg;
}
