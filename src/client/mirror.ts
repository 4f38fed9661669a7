/**
 * A verifying mirror of a C2SP tlog-tiles log: every step is a full audit (`auditLog`) from
 * the mirrored checkpoint to the log's latest one, and every entry bundle and hash tile the
 * audit checks is handed to a {@link MirrorTarget} to be staged. Only when the audit resolves
 * (the recomputed tree has the signed root, and extends the mirrored tree leaf for leaf) are
 * the staged files published, the checkpoint last; a refusal (fork, rollback, bad tile,
 * inconsistent) discards them and leaves the published copy as it was. So a mirror is an
 * auditor that never publishes what it could not verify. Browser-safe: the file system lives
 * behind the target (`src/cli/mirror.ts`).
 */
import { encodeEntryBundle } from '../core/bundle.js';
import { entryBundlePath, hashTilePath } from '../core/tiles.js';
import { type AuditedResource, type AuditState, auditLog, MemoryAuditStateStore } from './audit.js';
import type { VerifiedCheckpoint } from './checkpoint.js';
import type { LogClient } from './client.js';

/** Where a mirror puts what it copies (a directory in the CLI). */
export interface MirrorTarget {
  /**
   * Keeps `data` for the tlog-tiles `path` aside, invisible to readers, until {@link publish}
   * or {@link discard}. Data for a path already published is always identical to it.
   */
  stage(path: string, data: Uint8Array): Promise<void>;
  /**
   * Makes every staged file visible, then replaces the checkpoint with `note` (last), then
   * may remove partial tiles of trees of sizes in [fromSize, toSize) that `toSize` no longer needs.
   */
  publish(note: string, fromSize: number, toSize: number): Promise<void>;
  /** Forgets everything staged (after a refusal, or when nothing changed). */
  discard(): Promise<void>;
}

/** The result of one {@link mirrorStep} or {@link verifyMirrorCopy}. */
export interface MirrorStep {
  /** The checkpoint now mirrored (verified, and proven to extend the previous one). */
  readonly checkpoint: VerifiedCheckpoint;
  /** The audit state at that checkpoint: the input of the next step. */
  readonly state: AuditState;
  /** True if the step published a new checkpoint note. */
  readonly published: boolean;
  /** Hash tiles compared byte for byte with the recomputation. */
  readonly tilesChecked: number;
}

/** Options of {@link mirrorStep} and {@link verifyMirrorCopy}. */
export interface MirrorOptions {
  /** Bundles fetched ahead of the one being hashed (default 4). */
  readonly concurrency?: number;
}

/**
 * Audits the mirrored copy itself (read through `copy`, e.g. a fetch over the mirror's
 * directory) from scratch: its checkpoint verifies, and every bundle and tile hashes to it.
 * Returns the state to resume from; the same refusals as `auditLog`.
 */
export async function verifyMirrorCopy(copy: LogClient, opts: MirrorOptions = {}): Promise<MirrorStep> {
  const store = new MemoryAuditStateStore();
  const report = await auditLog(copy, store, { concurrency: opts.concurrency ?? 4 });
  return {
    checkpoint: report.checkpoint,
    state: onlyLatest(store.state!, report.checkpoint),
    published: false,
    tilesChecked: report.tilesChecked,
  };
}

/**
 * One mirror step: audits `source` from `state` (undefined: from the empty tree) to its latest
 * checkpoint, staging every bundle and tile in `target`, and publishes them and the checkpoint
 * only if the audit succeeds. Refuses like `auditLog` ('fork' for a second root at a mirrored
 * size, 'rollback', 'inconsistent', 'bad_tile', 'gap'), after discarding what it staged.
 */
export async function mirrorStep(
  source: LogClient,
  state: AuditState | undefined,
  target: MirrorTarget,
  opts: MirrorOptions = {},
): Promise<MirrorStep> {
  const store = new MemoryAuditStateStore();
  store.state = state;
  let report: Awaited<ReturnType<typeof auditLog>>;
  try {
    report = await auditLog(source, store, {
      concurrency: opts.concurrency ?? 4,
      onAudited: (r) => target.stage(resourcePath(r), resourceBytes(r)),
    });
  } catch (err) {
    await target.discard();
    throw err;
  }
  const cp = report.checkpoint;
  const unchanged = state?.checkpoints.some((c) => c.note === cp.note) === true;
  if (unchanged) await target.discard();
  else await target.publish(cp.note, state?.size ?? 0, cp.checkpoint.size);
  return {
    checkpoint: cp,
    state: onlyLatest(store.state!, cp),
    published: !unchanged,
    tilesChecked: report.tilesChecked,
  };
}

/**
 * The state with only the mirrored checkpoint among the seen ones: a mirror compares each new
 * checkpoint with the one it publishes, and re-verifying every checkpoint it ever saw would
 * grow without bound while following a log.
 */
function onlyLatest(state: AuditState, cp: VerifiedCheckpoint): AuditState {
  return { ...state, checkpoints: [{ size: cp.checkpoint.size, note: cp.note }] };
}

/** The tlog-tiles path of an audited bundle or tile. */
function resourcePath(r: AuditedResource): string {
  return r.kind === 'tile' ? hashTilePath(r.tile) : entryBundlePath(r.index, r.entries.length);
}

/** The bytes to publish: the tile as served, or the bundle framed from its verified entries. */
function resourceBytes(r: AuditedResource): Uint8Array {
  return r.kind === 'tile' ? r.data : encodeEntryBundle(r.entries);
}
