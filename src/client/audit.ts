/**
 * Full audit of a tlog-tiles log: download every entry bundle, recompute the tree from the
 * entries with TileBuilder, compare every hash tile the log serves with the recomputed one,
 * and compare the recomputed root with every signed checkpoint the auditor has seen. Works on
 * any C2SP tlog-tiles log (entries that are not opa-tlog entries are counted as opaque).
 * Resumable: the state (size, right edge, checkpoints seen) is saved as the audit goes.
 * Browser-safe; the Node file store and progress bar are in `src/cli/audit.ts`. The state and
 * its checks are in `audit-state.ts`, the recomputation in `audit-tree.ts`.
 */
import { TILE_WIDTH, TileBuilder } from '../core/tiles.js';
import {
  type AuditStateStore,
  type AuditStats,
  auditSnapshot,
  checkLatestAgainstSeen,
  decodeEdge,
  verifySeenCheckpoints,
} from './audit-state.js';
import {
  type AuditedResource,
  type AuditRun,
  auditBundle,
  checkRightEdge,
  checkRootAt,
  mismatchRefusal,
  prefetchBundles,
} from './audit-tree.js';
import type { VerifiedCheckpoint } from './checkpoint.js';
import type { LogClient } from './client.js';
import { VerifyError } from './errors.js';

export {
  type AuditState,
  type AuditStateStore,
  type AuditStats,
  MemoryAuditStateStore,
} from './audit-state.js';
export type { AuditedResource } from './audit-tree.js';

/** Options of {@link auditLog}. */
export interface AuditOptions {
  /** Called after every bundle with the leaves audited and the target size. */
  onProgress?: (done: number, total: number) => void;
  /** Bundles fetched ahead of the one being hashed (default 4). */
  concurrency?: number;
  /** Save the state every this many bundles (default 16), and always at the end. */
  saveEvery?: number;
  /** Stop after this many bundles (for tests and time-boxed runs); the state is saved. */
  maxBundles?: number;
  /**
   * Called with every entry bundle and hash tile once it has been checked against the
   * recomputation (see {@link AuditedResource}); awaited before the audit goes on.
   */
  onAudited?: (r: AuditedResource) => void | Promise<void>;
}

/** Result of {@link auditLog}. */
export interface AuditReport {
  /** The latest checkpoint, verified to be the root of the recomputed tree (when complete). */
  readonly checkpoint: VerifiedCheckpoint;
  /** Leaves audited in total, and where this run started. */
  readonly size: number;
  readonly resumedFrom: number;
  /** True if the audit reached the checkpoint's size. */
  readonly complete: boolean;
  /** Number of signed checkpoints whose roots were compared with the recomputed tree. */
  readonly checkpointsChecked: number;
  /** Hash tiles compared byte for byte with the recomputed ones in this run. */
  readonly tilesChecked: number;
  readonly stats: AuditStats;
}

/**
 * Audits the log of `client` (see the module comment). Refuses with 'rollback' (the log shows
 * a smaller tree than audited before), 'fork' (an earlier signed checkpoint's root is not the
 * tree the log now serves, while the latest is), 'inconsistent' (the entries do not hash to
 * the latest signed root), 'bad_tile' (a served hash tile differs from the recomputed one,
 * or a bundle is malformed) and 'gap' (a tile or bundle is missing).
 */
export async function auditLog(
  client: LogClient,
  store: AuditStateStore,
  opts: AuditOptions = {},
): Promise<AuditReport> {
  const cp = await client.fetchCheckpoint();
  const saved = await store.load();
  if (saved !== undefined && saved.origin !== client.origin) {
    throw new VerifyError('usage', `audit state is for ${saved.origin}, not ${client.origin}`);
  }
  const seen = verifySeenCheckpoints(saved, client.trust);
  const start = saved?.size ?? 0;
  const builder = new TileBuilder(start, saved ? decodeEdge(saved.edge) : []);
  checkLatestAgainstSeen(seen, cp, start);
  seen.set(cp.checkpoint.size, cp);
  const run: AuditRun = {
    client,
    cp,
    target: cp.checkpoint.size,
    start,
    seen,
    builder,
    stats: saved?.stats ?? { entries: 0, erasures: 0, opaque: 0 },
    checkpointsChecked: 0,
    tilesChecked: 0,
    mismatched: [],
    ...(opts.onAudited ? { onAudited: opts.onAudited } : {}),
  };
  const save = () => store.save(auditSnapshot(client.origin, run.builder, seen, run.stats));
  await save();
  checkRootAt(run, start);
  await auditBundles(run, save, opts);
  const complete = run.builder.size === run.target;
  if (complete && run.target > 0) await checkRightEdge(run);
  if (run.mismatched.length > 0) throw mismatchRefusal(run, complete);
  await save();
  return {
    checkpoint: cp,
    size: run.builder.size,
    resumedFrom: start,
    complete,
    checkpointsChecked: run.checkpointsChecked,
    tilesChecked: run.tilesChecked,
    stats: run.stats,
  };
}

/**
 * Audits the bundles from the audited size up to the target (or `maxBundles` of them),
 * reporting progress and saving every `saveEvery` bundles. Never saves past a mismatched
 * checkpoint: a re-run must find the same evidence.
 */
async function auditBundles(run: AuditRun, save: () => Promise<void>, opts: AuditOptions): Promise<void> {
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const saveEvery = Math.max(1, opts.saveEvery ?? 16);
  const first = Math.floor(run.start / TILE_WIDTH);
  const last = Math.ceil(run.target / TILE_WIDTH); // exclusive
  const end = opts.maxBundles !== undefined ? Math.min(last, first + opts.maxBundles) : last;
  const sizes = [...run.seen.keys()].filter((s) => s > run.start).sort((a, b) => a - b);
  for (const job of prefetchBundles(run, first, end, concurrency)) {
    await auditBundle(run, job, sizes);
    opts.onProgress?.(run.builder.size, run.target);
    if ((job.n - first + 1) % saveEvery === 0 && run.mismatched.length === 0) await save();
  }
}
