/**
 * The auditor's persistent state and what is checked on it before an audit starts: the state
 * is JSON (size, right edge, every signed checkpoint seen, counters), is not trusted to be
 * intact (every checkpoint in it is re-verified), and the log's latest checkpoint must be
 * neither a rollback of it nor a second root for a size already seen.
 */
import { bytesEqual, fromBase64, toBase64 } from '../core/bytes.js';
import { HASH_SIZE } from '../core/hash.js';
import type { TileBuilder } from '../core/tiles.js';
import { logKeysOnly, type Trust, type VerifiedCheckpoint, verifyCheckpointNote } from './checkpoint.js';
import { VerifyError } from './errors.js';
import { sameSizeFork } from './reconcile.js';

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

/** The saved right edge as hashes; 'bad_state' if a hash is not base64 of 32 bytes. */
export function decodeEdge(edge: readonly (readonly string[])[]): Uint8Array[][] {
  return edge.map((row) =>
    row.map((h) => {
      const b = fromBase64(h);
      if (b === undefined || b.length !== HASH_SIZE)
        throw new VerifyError('bad_state', 'audit state edge is corrupt');
      return b;
    }),
  );
}

/** The state to save: the builder's size and right edge, the checkpoints seen (by size), the counters. */
export function auditSnapshot(
  origin: string,
  builder: TileBuilder,
  seen: ReadonlyMap<number, VerifiedCheckpoint>,
  stats: AuditStats,
): AuditState {
  return {
    version: 1,
    origin,
    size: builder.size,
    edge: builder.edge().map((row) => row.map(toBase64)),
    checkpoints: [...seen.values()]
      .sort((a, b) => a.checkpoint.size - b.checkpoint.size)
      .map((c) => ({ size: c.checkpoint.size, note: c.note })),
    stats,
  };
}

/**
 * Re-verifies every checkpoint of the saved state with the log keys (the state file is not
 * trusted to be intact; a checkpoint signed by any trusted log key passes, so the state
 * survives a key rotation) and returns them by size; 'bad_state' if one does not verify.
 */
export function verifySeenCheckpoints(
  saved: AuditState | undefined,
  trust: Trust,
): Map<number, VerifiedCheckpoint> {
  const seen = new Map<number, VerifiedCheckpoint>();
  for (const c of saved?.checkpoints ?? []) {
    try {
      seen.set(c.size, verifyCheckpointNote(c.note, logKeysOnly(trust)));
    } catch (err) {
      throw new VerifyError('bad_state', `audit state holds a checkpoint that does not verify`, {
        trusted: c.note,
        cause: err instanceof VerifyError ? err.code : String(err),
      });
    }
  }
  return seen;
}

/**
 * Checks the log's latest checkpoint against the audit so far: 'fork' if a seen checkpoint of
 * the same size has another root, 'rollback' if it is smaller than the audited size `start`
 * or than the largest checkpoint seen.
 */
export function checkLatestAgainstSeen(
  seen: ReadonlyMap<number, VerifiedCheckpoint>,
  cp: VerifiedCheckpoint,
  start: number,
): void {
  const target = cp.checkpoint.size;
  const same = seen.get(target);
  if (same !== undefined && !bytesEqual(same.checkpoint.rootHash, cp.checkpoint.rootHash)) {
    throw sameSizeFork(same, cp);
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
}
