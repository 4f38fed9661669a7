/**
 * Full audit of a tlog-tiles log: download every entry bundle, recompute the tree from the
 * entries with TileBuilder, compare every hash tile the log serves with the recomputed one,
 * and compare the recomputed root with every signed checkpoint the auditor has seen. Works on
 * any C2SP tlog-tiles log (entries that are not opa-tlog entries are counted as opaque).
 * Resumable: the state (size, right edge, checkpoints seen) is saved as the audit goes.
 * Browser-safe; the Node file store and progress bar are in `src/cli/audit.ts`.
 */
import { bytesEqual, concatBytes, fromBase64, toBase64 } from '../core/bytes.js';
import { decodeEntry, isErasure } from '../core/entry.js';
import { EMPTY_ROOT, leafHash } from '../core/merkle.js';
import { hashTilePath, TILE_WIDTH, TileBuilder, tilesForSize } from '../core/tiles.js';
import { type VerifiedCheckpoint, verifyCheckpointNote } from './checkpoint.js';
import type { LogClient } from './client.js';
import { VerifyError } from './errors.js';

/** The auditor's persistent state (JSON-serialisable). */
export interface AuditState {
  /** Format version of this object. */
  readonly version: 1;
  readonly origin: string;
  /** Leaves audited so far. */
  readonly size: number;
  /** TileBuilder right edge at `size`, base64 hashes per level. */
  readonly edge: readonly (readonly string[])[];
  /** Every signed checkpoint seen, at most one per size. */
  readonly checkpoints: readonly { readonly size: number; readonly note: string }[];
  /** Counters over the audited leaves. */
  readonly stats: AuditStats;
}

/** Counters over audited leaves. */
export interface AuditStats {
  /** Leaves that decode as opa-tlog entries. */
  readonly entries: number;
  /** Of which erasure entries. */
  readonly erasures: number;
  /** Leaves that are not opa-tlog entries (checked as opaque bytes). */
  readonly opaque: number;
}

/** Where the auditor keeps its state between runs. */
export interface AuditStateStore {
  /** The saved state, or undefined before the first run. */
  load(): Promise<AuditState | undefined>;
  /** Saves the state (atomically, ideally). */
  save(state: AuditState): Promise<void>;
}

/** An in-memory {@link AuditStateStore}. */
export class MemoryAuditStateStore implements AuditStateStore {
  /** The last saved state. */
  state: AuditState | undefined;

  /** {@inheritDoc AuditStateStore.load} */
  async load(): Promise<AuditState | undefined> {
    return this.state;
  }

  /** {@inheritDoc AuditStateStore.save} */
  async save(state: AuditState): Promise<void> {
    this.state = state;
  }
}

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

function decodeEdge(edge: readonly (readonly string[])[]): Uint8Array[][] {
  return edge.map((row) =>
    row.map((h) => {
      const b = fromBase64(h);
      if (b === undefined || b.length !== 32)
        throw new VerifyError('bad_state', 'audit state edge is corrupt');
      return b;
    }),
  );
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
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const saveEvery = Math.max(1, opts.saveEvery ?? 16);
  const cp = await client.fetchCheckpoint();
  const target = cp.checkpoint.size;
  const saved = await store.load();
  if (saved !== undefined && saved.origin !== client.origin) {
    throw new VerifyError('usage', `audit state is for ${saved.origin}, not ${client.origin}`);
  }
  // Re-verify every checkpoint of the state: the state file is not trusted to be intact.
  const seen = new Map<number, VerifiedCheckpoint>();
  for (const c of saved?.checkpoints ?? []) {
    try {
      seen.set(c.size, verifyCheckpointNote(c.note, { log: client.trust.log }));
    } catch (err) {
      throw new VerifyError('bad_state', `audit state holds a checkpoint that does not verify`, {
        trusted: c.note,
        cause: err instanceof VerifyError ? err.code : String(err),
      });
    }
  }
  const start = saved?.size ?? 0;
  const builder = new TileBuilder(start, saved ? decodeEdge(saved.edge) : []);
  let stats: AuditStats = saved?.stats ?? { entries: 0, erasures: 0, opaque: 0 };
  const same = seen.get(target);
  if (same !== undefined && !bytesEqual(same.checkpoint.rootHash, cp.checkpoint.rootHash)) {
    throw new VerifyError('fork', `two signed checkpoints of size ${target} have different roots`, {
      trusted: same.note,
      checkpoint: cp.note,
      size: target,
    });
  }
  const largest = [...seen.values()].reduce<VerifiedCheckpoint | undefined>(
    (a, c) => (a === undefined || c.checkpoint.size > a.checkpoint.size ? c : a),
    undefined,
  );
  if (target < start || (largest !== undefined && target < largest.checkpoint.size)) {
    throw new VerifyError('rollback', `the log presents size ${target}, smaller than the audited tree`, {
      ...(largest ? { trusted: largest.note } : {}),
      checkpoint: cp.note,
      size: target,
      expected: `>= ${Math.max(start, largest?.checkpoint.size ?? 0)}`,
    });
  }
  seen.set(target, cp);

  const snapshot = (): AuditState => ({
    version: 1,
    origin: client.origin,
    size: builder.size,
    edge: builder.edge().map((row) => row.map(toBase64)),
    checkpoints: [...seen.values()]
      .sort((a, b) => a.checkpoint.size - b.checkpoint.size)
      .map((c) => ({ size: c.checkpoint.size, note: c.note })),
    stats,
  });
  await store.save(snapshot());

  let checkpointsChecked = 0;
  let tilesChecked = 0;
  const mismatched: VerifiedCheckpoint[] = [];
  const checkRootAt = (size: number): void => {
    const c = seen.get(size);
    if (c === undefined) return;
    checkpointsChecked++;
    const root = size === 0 ? EMPTY_ROOT : builder.root();
    if (!bytesEqual(root, c.checkpoint.rootHash)) mismatched.push(c);
  };
  checkRootAt(start);

  const firstBundle = Math.floor(start / TILE_WIDTH);
  const lastBundle = Math.ceil(target / TILE_WIDTH); // exclusive
  const end =
    opts.maxBundles !== undefined ? Math.min(lastBundle, firstBundle + opts.maxBundles) : lastBundle;
  const sizes = [...seen.keys()].filter((s) => s > start).sort((a, b) => a - b);
  const fetchBundle = (n: number) => {
    const width = Math.min(TILE_WIDTH, target - n * TILE_WIDTH);
    const entries = client.tiles.entryBundle(n, width);
    const tile = width === TILE_WIDTH ? client.tiles.hashTile(0, n, TILE_WIDTH) : undefined;
    // Avoid unhandled rejections for prefetched requests; errors surface when awaited.
    entries.catch(() => {});
    tile?.catch(() => {});
    return { width, entries, tile };
  };
  const window: ReturnType<typeof fetchBundle>[] = [];
  let next = firstBundle;
  const fill = () => {
    while (next < end && window.length < concurrency) window.push(fetchBundle(next++));
  };
  for (let n = firstBundle; n < end; n++) {
    fill();
    const job = window.shift()!;
    const entries = await job.entries;
    const skip = Math.max(0, builder.size - n * TILE_WIDTH);
    const hashes = entries.map((e) => leafHash(e));
    // Leaves audited in an earlier run must be served unchanged.
    const prior = builder.edge()[0] ?? [];
    for (let i = 0; i < skip; i++) {
      if (!bytesEqual(hashes[i]!, prior[i]!)) {
        const index = n * TILE_WIDTH + i;
        // A signed checkpoint covering this leaf was matched by the earlier audit: a split view.
        const signed = [...seen.values()].find(
          (c) => c.checkpoint.size > index && c.checkpoint.size <= start,
        );
        throw new VerifyError(
          signed ? 'fork' : 'inconsistent',
          `leaf ${index} changed since it was audited${signed ? ` under the signed size ${signed.checkpoint.size}` : ''}`,
          {
            index,
            expected: toBase64(prior[i]!),
            actual: toBase64(hashes[i]!),
            checkpoint: cp.note,
            ...(signed ? { trusted: signed.note } : {}),
          },
        );
      }
    }
    let e = stats.entries;
    let er = stats.erasures;
    let op = stats.opaque;
    for (const entry of entries.slice(skip)) {
      try {
        const d = decodeEntry(entry);
        e++;
        if (isErasure(d)) er++;
      } catch {
        op++;
      }
    }
    stats = { entries: e, erasures: er, opaque: op };
    // Append in chunks that stop at every seen checkpoint size, to compare roots there.
    let i = skip;
    while (i < hashes.length) {
      const pos = builder.size;
      const stop = sizes.find((s) => s > pos) ?? Number.POSITIVE_INFINITY;
      const take = Math.min(hashes.length - i, stop - pos);
      for (const w of builder.append(hashes.slice(i, i + take))) {
        if (w.width !== TILE_WIDTH) continue;
        const served =
          w.level === 0 && job.tile
            ? await job.tile
            : await client.tiles.hashTile(w.level, w.index, TILE_WIDTH);
        tilesChecked++;
        if (!bytesEqual(served, w.data)) {
          throw new VerifyError(
            'bad_tile',
            `hash tile ${hashTilePath(w)} differs from the tile recomputed from the entries`,
            {
              url: client.http.url(hashTilePath(w)),
              checkpoint: cp.note,
            },
          );
        }
      }
      i += take;
      checkRootAt(builder.size);
    }
    opts.onProgress?.(builder.size, target);
    // Never save past a mismatched checkpoint: a re-run must find the same evidence.
    if ((n - firstBundle + 1) % saveEvery === 0 && mismatched.length === 0) await store.save(snapshot());
  }
  const complete = builder.size === target;
  if (complete && target > 0) {
    // The right-edge partial tiles the log serves for this size must match the recomputed edge.
    const edge = builder.edge();
    for (const t of tilesForSize(target)) {
      if (t.width === TILE_WIDTH) continue;
      const served = await client.tiles.hashTile(t.level, t.index, t.width);
      tilesChecked++;
      const want = concatBytes(...(edge[t.level] ?? []));
      if (!bytesEqual(served, want)) {
        throw new VerifyError(
          'bad_tile',
          `hash tile ${hashTilePath(t)} differs from the recomputed right edge`,
          {
            url: client.http.url(hashTilePath(t)),
            checkpoint: cp.note,
          },
        );
      }
    }
  }
  if (mismatched.length > 0) {
    const latestBad = mismatched.find((c) => c.checkpoint.size === target);
    if (latestBad !== undefined || !complete) {
      const bad = latestBad ?? mismatched[0]!;
      throw new VerifyError(
        'inconsistent',
        `the entries the log serves do not hash to its signed root at size ${bad.checkpoint.size}`,
        { checkpoint: bad.note, size: bad.checkpoint.size, expected: toBase64(bad.checkpoint.rootHash) },
      );
    }
    const old = mismatched[0]!;
    throw new VerifyError(
      'fork',
      `the log signed root ${toBase64(old.checkpoint.rootHash)} for size ${old.checkpoint.size}, ` +
        `but its current tree (signed at size ${target}) has another root there`,
      { trusted: old.note, checkpoint: cp.note, size: old.checkpoint.size },
    );
  }
  await store.save(snapshot());
  return {
    checkpoint: cp,
    size: builder.size,
    resumedFrom: start,
    complete,
    checkpointsChecked,
    tilesChecked,
    stats,
  };
}
