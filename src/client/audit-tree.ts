/**
 * The tree recomputation of an audit: entry bundles are fetched a few ahead, leaves audited
 * in an earlier run are checked unchanged, the rest are counted and appended to a TileBuilder,
 * every full hash tile it produces (and at the end the right-edge partial tiles) is compared
 * with the one the log serves, and at every seen checkpoint size the recomputed root is
 * compared with the signed one. Root mismatches are collected; the verdict is
 * {@link mismatchRefusal}.
 */
import { bytesEqual, concatBytes, toBase64 } from '../core/bytes.js';
import { isErasure } from '../core/entry.js';
import { EMPTY_ROOT, leafHash } from '../core/merkle.js';
import { hashTilePath, TILE_WIDTH, type Tile, type TileBuilder, tilesForSize } from '../core/tiles.js';
import type { AuditStats } from './audit-state.js';
import type { VerifiedCheckpoint } from './checkpoint.js';
import type { LogClient } from './client.js';
import { VerifyError } from './errors.js';
import { decodeEntryIfOpaTlog } from './tile-proofs.js';

/** One audit run: what it works on and what it has checked so far. */
export interface AuditRun {
  readonly client: LogClient;
  /** The latest checkpoint (verified). */
  readonly cp: VerifiedCheckpoint;
  /** Its size: the tree the audit recomputes. */
  readonly target: number;
  /** The size audited by earlier runs, where this run starts. */
  readonly start: number;
  /** Every signed checkpoint seen, by size (the latest included). */
  readonly seen: ReadonlyMap<number, VerifiedCheckpoint>;
  readonly builder: TileBuilder;
  stats: AuditStats;
  checkpointsChecked: number;
  tilesChecked: number;
  /** Seen checkpoints whose root differs from the recomputed tree at their size. */
  readonly mismatched: VerifiedCheckpoint[];
  /** Receives every bundle and hash tile checked (AuditOptions.onAudited). */
  readonly onAudited?: (r: AuditedResource) => void | Promise<void>;
}

/**
 * An entry bundle (all its entries, also those audited in an earlier run) or a hash tile (the
 * served bytes, equal to the recomputed ones) of the target tree, as the audit checked it. It
 * is authenticated only when the audit resolves: then the recomputed tree, of which it is a
 * part, has the signed root. A rejected audit may already have reported some.
 */
export type AuditedResource =
  | { readonly kind: 'bundle'; readonly index: number; readonly entries: readonly Uint8Array[] }
  | { readonly kind: 'tile'; readonly tile: Tile; readonly data: Uint8Array };

/** The requests for one entry bundle (and its full level-0 hash tile), started ahead of use. */
export interface BundleJob {
  /** Bundle index. */
  readonly n: number;
  readonly entries: Promise<Uint8Array[]>;
  /** The level-0 hash tile, fetched with the bundle when the bundle is full. */
  readonly tile: Promise<Uint8Array> | undefined;
}

/** Starts fetching bundle `n` of the target tree (and its hash tile when full). */
function fetchBundle(run: AuditRun, n: number): BundleJob {
  const width = Math.min(TILE_WIDTH, run.target - n * TILE_WIDTH);
  const entries = run.client.tiles.entryBundle(n, width);
  const tile = width === TILE_WIDTH ? run.client.tiles.hashTile(0, n, TILE_WIDTH) : undefined;
  // Avoid unhandled rejections for prefetched requests; errors surface when awaited.
  entries.catch(() => {});
  tile?.catch(() => {});
  return { n, entries, tile };
}

/** The bundles [first, end) in order, each fetched while up to `concurrency - 1` before it are audited. */
export function* prefetchBundles(
  run: AuditRun,
  first: number,
  end: number,
  concurrency: number,
): Generator<BundleJob> {
  const window: BundleJob[] = [];
  let next = first;
  while (next < end || window.length > 0) {
    while (next < end && window.length < concurrency) window.push(fetchBundle(run, next++));
    yield window.shift()!;
  }
}

/** If a checkpoint of `size` was seen, compares its signed root with the recomputed tree. */
export function checkRootAt(run: AuditRun, size: number): void {
  const c = run.seen.get(size);
  if (c === undefined) return;
  run.checkpointsChecked++;
  const root = size === 0 ? EMPTY_ROOT : run.builder.root();
  if (!bytesEqual(root, c.checkpoint.rootHash)) run.mismatched.push(c);
}

/**
 * Audits one bundle: leaves audited before must be unchanged, new ones are counted and
 * appended; `sizes` are the seen checkpoint sizes above the start, where roots are compared.
 */
export async function auditBundle(run: AuditRun, job: BundleJob, sizes: readonly number[]): Promise<void> {
  const entries = await job.entries;
  const skip = Math.max(0, run.builder.size - job.n * TILE_WIDTH);
  const hashes = entries.map((e) => leafHash(e));
  checkAuditedLeaves(run, job.n, hashes.slice(0, skip));
  await run.onAudited?.({ kind: 'bundle', index: job.n, entries });
  run.stats = countEntries(run.stats, entries.slice(skip));
  await appendLeaves(run, job, hashes.slice(skip), sizes);
}

/**
 * Leaves audited in an earlier run must be served unchanged: 'fork' when a signed checkpoint
 * that the earlier audit matched covers the changed leaf (a split view), else 'inconsistent'.
 */
function checkAuditedLeaves(run: AuditRun, n: number, hashes: readonly Uint8Array[]): void {
  const prior = run.builder.edge()[0] ?? [];
  hashes.forEach((hash, i) => {
    if (bytesEqual(hash, prior[i]!)) return;
    const index = n * TILE_WIDTH + i;
    const signed = [...run.seen.values()].find(
      (c) => c.checkpoint.size > index && c.checkpoint.size <= run.start,
    );
    throw new VerifyError(
      signed ? 'fork' : 'inconsistent',
      `leaf ${index} changed since it was audited${signed ? ` under the signed size ${signed.checkpoint.size}` : ''}`,
      {
        index,
        expected: toBase64(prior[i]!),
        actual: toBase64(hash),
        checkpoint: run.cp.note,
        ...(signed ? { trusted: signed.note } : {}),
      },
    );
  });
}

/** The counters after `entries`: opa-tlog entries (and erasures among them), others opaque. */
function countEntries(stats: AuditStats, entries: readonly Uint8Array[]): AuditStats {
  let { entries: e, erasures: er, opaque: op } = stats;
  for (const bytes of entries) {
    const d = decodeEntryIfOpaTlog(bytes);
    if (d === undefined) op++;
    else {
      e++;
      if (isErasure(d)) er++;
    }
  }
  return { entries: e, erasures: er, opaque: op };
}

/**
 * Appends leaf hashes in chunks that stop at every seen checkpoint size (to compare roots
 * there), comparing every full hash tile the builder completes with the served one.
 */
async function appendLeaves(
  run: AuditRun,
  job: BundleJob,
  hashes: readonly Uint8Array[],
  sizes: readonly number[],
): Promise<void> {
  let i = 0;
  while (i < hashes.length) {
    const pos = run.builder.size;
    const stop = sizes.find((s) => s > pos) ?? Number.POSITIVE_INFINITY;
    const take = Math.min(hashes.length - i, stop - pos);
    for (const w of run.builder.append(hashes.slice(i, i + take))) {
      if (w.width !== TILE_WIDTH) continue;
      const served =
        w.level === 0 && job.tile
          ? await job.tile
          : await run.client.tiles.hashTile(w.level, w.index, TILE_WIDTH);
      compareServedTile(run, w, served, w.data, 'the tile recomputed from the entries');
      await run.onAudited?.({
        kind: 'tile',
        tile: { level: w.level, index: w.index, width: w.width },
        data: served,
      });
    }
    i += take;
    checkRootAt(run, run.builder.size);
  }
}

/** Compares a served hash tile with the recomputed bytes (counted); 'bad_tile' if they differ. */
function compareServedTile(run: AuditRun, t: Tile, served: Uint8Array, want: Uint8Array, what: string): void {
  run.tilesChecked++;
  if (bytesEqual(served, want)) return;
  throw new VerifyError('bad_tile', `hash tile ${hashTilePath(t)} differs from ${what}`, {
    url: run.client.http.url(hashTilePath(t)),
    checkpoint: run.cp.note,
  });
}

/** The right-edge partial tiles the log serves for the target size must match the recomputed edge. */
export async function checkRightEdge(run: AuditRun): Promise<void> {
  const edge = run.builder.edge();
  for (const t of tilesForSize(run.target)) {
    if (t.width === TILE_WIDTH) continue;
    const served = await run.client.tiles.hashTile(t.level, t.index, t.width);
    compareServedTile(run, t, served, concatBytes(...(edge[t.level] ?? [])), 'the recomputed right edge');
    await run.onAudited?.({ kind: 'tile', tile: t, data: served });
  }
}

/**
 * The verdict on root mismatches: a mismatch with the latest checkpoint (or any, when the
 * audit is incomplete) is 'inconsistent'; a mismatch only with an earlier checkpoint while
 * the latest matches is 'fork', with both notes.
 */
export function mismatchRefusal(run: AuditRun, complete: boolean): VerifyError {
  const latestBad = run.mismatched.find((c) => c.checkpoint.size === run.target);
  if (latestBad !== undefined || !complete) {
    const bad = latestBad ?? run.mismatched[0]!;
    return new VerifyError(
      'inconsistent',
      `the entries the log serves do not hash to its signed root at size ${bad.checkpoint.size}`,
      { checkpoint: bad.note, size: bad.checkpoint.size, expected: toBase64(bad.checkpoint.rootHash) },
    );
  }
  const old = run.mismatched[0]!;
  return new VerifyError(
    'fork',
    `the log signed root ${toBase64(old.checkpoint.rootHash)} for size ${old.checkpoint.size}, ` +
      `but its current tree (signed at size ${run.target}) has another root there`,
    { trusted: old.note, checkpoint: run.cp.note, size: old.checkpoint.size },
  );
}
