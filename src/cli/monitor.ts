/**
 * `opa-tlog monitor --log-url URL --vkey VKEY --witness URL=VKEY ... [--state DIR] [--once]
 * [--interval-ms N]`: follows a log and its witnesses and detects split views
 * (src/witness/monitor.ts). Exit codes: 0 consistent (--once), 1 split view found (evidence
 * written), 2 usage, 3 something could not be checked (--once).
 */
import { parseArgs } from 'node:util';
import { parsePeerSpec } from '../witness/gossip.js';
import { Monitor, type MonitorReport, type MonitorWitness, monitorExitCode } from '../witness/monitor.js';

/** Usage text of `opa-tlog monitor`. */
export const MONITOR_USAGE = `usage: opa-tlog monitor --log-url URL --vkey VKEY [--witness URL=VKEY ...] [--state DIR] [--once]
  --log-url URL         the log (serves /checkpoint and /v1/proof/consistency)
  --vkey VKEY           the log's verifier key (its name is the origin); repeat it to trust the
                        old and the new key of a key rotation
  --witness URL=VKEY    a witness monitoring prefix and its cosigner vkey (repeatable)
  --state DIR           keeps the last verified checkpoint and evidence/*.json (default ./monitor-state)
  --once                check once and exit: 0 consistent, 1 split view, 3 incomplete
  --interval-ms N       period between checks when not --once (default 60000)`;

/** Parsed flags of `opa-tlog monitor`. */
export interface MonitorConfig {
  logUrl: string;
  /** The log's vkeys (one, or several during a key rotation). */
  vkeys: string[];
  witnesses: MonitorWitness[];
  state: string;
  once: boolean;
  intervalMs: number;
}

/** Parses the monitor flags; throws Error with a usage message. */
export function parseMonitorArgs(argv: string[]): MonitorConfig {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      'log-url': { type: 'string' },
      vkey: { type: 'string', multiple: true },
      witness: { type: 'string', multiple: true },
      state: { type: 'string' },
      once: { type: 'boolean' },
      'interval-ms': { type: 'string' },
    },
  });
  if (!values['log-url'] || !values.vkey?.length) throw new Error('--log-url and --vkey are required');
  const witnesses = (values.witness ?? []).map((spec) => {
    const p = parsePeerSpec(spec);
    if (p.vkey === undefined) throw new Error(`--witness ${spec}: expected URL=VKEY`);
    return { url: p.url, vkey: p.vkey };
  });
  const intervalMs = Number(values['interval-ms'] ?? 60_000);
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 100) throw new Error('--interval-ms must be ≥ 100');
  return {
    logUrl: values['log-url'],
    vkeys: values.vkey,
    witnesses,
    state: values.state ?? './monitor-state',
    once: values.once ?? false,
    intervalMs,
  };
}

function print(r: MonitorReport): void {
  for (const o of r.observations) console.log(`opa-tlog monitor: ${o.source}: size ${o.size}`);
  for (const p of r.problems) console.error(`opa-tlog monitor: warning: ${p}`);
  for (const s of r.splitViews) console.error(`opa-tlog monitor: SPLIT VIEW (${s.reason}): ${s.detail}`);
  for (const f of r.evidenceFiles) console.error(`opa-tlog monitor: evidence written to ${f}`);
}

/** Entry point of `opa-tlog monitor` (wire into src/cli/main.ts). Resolves with the exit code. */
export async function runMonitor(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(MONITOR_USAGE);
    return 0;
  }
  let cfg: MonitorConfig;
  let monitor: Monitor;
  try {
    cfg = parseMonitorArgs(argv);
    monitor = new Monitor({
      logUrl: cfg.logUrl,
      logVkey: cfg.vkeys,
      witnesses: cfg.witnesses,
      stateDir: cfg.state,
    });
  } catch (err) {
    console.error(`opa-tlog monitor: ${(err as Error).message}\n${MONITOR_USAGE}`);
    return 2;
  }
  for (;;) {
    const report = await monitor.check();
    print(report);
    const code = monitorExitCode(report);
    if (cfg.once || code === 1) return code;
    await new Promise((ok) => setTimeout(ok, cfg.intervalMs));
  }
}
