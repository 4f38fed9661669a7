/**
 * The fork guard: start-up checks that refuse to run the log on storage that disagrees with
 * what it signed. Each check reads through the storage interface, so every engine is held to
 * the same proof of integrity before the first append or signature.
 */
import { bytesEqual, toBase64 } from '../core/bytes.js';
import type { Checkpoint } from '../core/checkpoint.js';
import type { Sha256 } from '../core/hash.js';
import { openCheckpointWithLogKeys } from '../core/log-keys.js';
import { leafHash, perfectRootOf } from '../core/merkle.js';
import { type NoteVerifier, newEd25519Verifier } from '../core/note.js';
import { hashesAtLevel, TILE_WIDTH, tileHashes } from '../core/tiles.js';
import type { CommittedTree, LogStorage, StoredCheckpoint } from '../store/log-storage.js';
import { storedSubtreeReader, treeHashAsync } from './subtree-reader.js';

/** A refusal to start: the database does not match what the log signed, or config conflicts. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** Who the log is: its origin and the verifier keys it signs with from now on. */
export interface LogIdentityConfig {
  readonly origin: string;
  /** The current key set (vkeys, each named the origin); every checkpoint is signed by each. */
  readonly vkeys: readonly string[];
  /**
   * Start even though no configured key is among the recorded current keys (the old key was
   * lost or leaked); without it such a start is refused as another log's key.
   */
  readonly forceKeyChange?: boolean;
}

/**
 * Runs every start-up check and resolves if the storage may be used; rejects with
 * StartupError when: the origin differs from the one the database was created with; the key
 * set shares no key with the recorded current keys (unless forceKeyChange); the database holds
 * fewer leaves than the last signed checkpoint; the stored checkpoint does not verify with
 * the keys the log ever recorded; the stored tiles do not hash to the last signed root; or the
 * newest leaves or full tiles do not match their hashes one level up. Only once all passed,
 * records the key set (keys no longer configured become retired keys).
 */
export async function checkStorage(storage: LogStorage, id: LogIdentityConfig, sha: Sha256): Promise<void> {
  const next = await nextIdentity(storage, id);
  // The newest checkpoint first, then the tree: a shared engine re-reads its tree when it sees
  // a newer checkpoint (another server's sequencer signs meanwhile), so the tree covers it.
  const last = await storage.latestCheckpoint();
  const tree = storage.committedTree();
  await checkAgainstLastCheckpoint(storage, tree, last, next.known, sha);
  await checkNewestLeaves(storage, tree.size, sha);
  await checkNewestFullTiles(storage, tree.size, sha);
  if (next.changed) await storage.setIdentity(id.origin, id.vkeys, next.retired);
}

/** The identity to record after a successful start, and every key that may have signed. */
interface NextIdentity {
  readonly retired: readonly string[];
  /** Verifiers of the current, the previously current and the retired keys. */
  readonly known: readonly NoteVerifier[];
  readonly changed: boolean;
}

const unique = (xs: readonly string[]): string[] => [...new Set(xs)];
const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** Verifiers of recorded or configured vkeys; a malformed recorded key refuses the start. */
function verifiersOf(vkeys: readonly string[]): NoteVerifier[] {
  return vkeys.map((k) => {
    try {
      return newEd25519Verifier(k);
    } catch (err) {
      throw new StartupError(`recorded log key ${k} is invalid: ${(err as Error).message}`);
    }
  });
}

/**
 * Compares the configured identity with the recorded one: the origin never changes, and the
 * key set must share a key with the recorded current keys (a rotation goes {old} -> {old,new}
 * -> {new}), unless forceKeyChange. A fresh database (no leaves, no checkpoint) takes the
 * configured identity.
 */
async function nextIdentity(storage: LogStorage, id: LogIdentityConfig): Promise<NextIdentity> {
  const rec = await storage.identity();
  if (rec.origin === undefined && rec.vkeys === undefined) {
    if (storage.committedTree().size > 0 || (await storage.latestCheckpoint())) {
      throw new StartupError('database has leaves but no recorded origin/key: refusing to adopt it');
    }
    return { retired: [], known: verifiersOf(id.vkeys), changed: true };
  }
  if (rec.origin !== id.origin) {
    throw new StartupError(`this database belongs to origin "${rec.origin}", not "${id.origin}"`);
  }
  const current = rec.vkeys ?? [];
  const retiredBefore = rec.retiredVkeys ?? [];
  if (!id.vkeys.some((k) => current.includes(k)) && !id.forceKeyChange) {
    throw new StartupError(
      `this database was signed by key ${current.join(', ')}, not ${id.vkeys.join(', ')}: a key set sharing no key ` +
        "with the log's current keys is another log's key. To rotate keys, first run with the old and the new key " +
        'together (spec/key-rotation.md); --force-key-change overrides this check',
    );
  }
  const retired = unique([...retiredBefore, ...current]).filter((k) => !id.vkeys.includes(k));
  return {
    retired,
    known: verifiersOf(unique([...id.vkeys, ...current, ...retiredBefore])),
    changed: !sameList(current, id.vkeys) || !sameList(retiredBefore, retired),
  };
}

/**
 * The last stored checkpoint verifies with a key the log recorded (current or retired: it
 * was valid when signed), no recorded key's line on it fails, and it agrees with its row.
 */
function openLastCheckpoint(last: StoredCheckpoint, known: readonly NoteVerifier[]): void {
  let cp: Checkpoint;
  try {
    cp = openCheckpointWithLogKeys(last.note, known).checkpoint;
  } catch (err) {
    throw new StartupError(
      `the last stored checkpoint (size ${last.size}) does not verify: ${(err as Error).message}`,
    );
  }
  if (cp.size !== last.size || !bytesEqual(cp.rootHash, last.root)) {
    throw new StartupError(`the last stored checkpoint's note disagrees with its row (size ${last.size})`);
  }
}

/** Every signed leaf is stored, and the stored tree at the last signed size has the signed root. */
async function checkAgainstLastCheckpoint(
  storage: LogStorage,
  tree: CommittedTree,
  last: StoredCheckpoint | undefined,
  known: readonly NoteVerifier[],
  sha: Sha256,
): Promise<void> {
  if (!last) return;
  openLastCheckpoint(last, known);
  if (tree.size < last.size) {
    throw new StartupError(
      `the database holds ${tree.size} leaves but checkpoint ${last.size} was signed: acknowledged leaves are missing`,
    );
  }
  let root: Uint8Array;
  try {
    root =
      last.size === tree.size
        ? tree.root
        : await treeHashAsync(last.size, storedSubtreeReader(storage, sha, false), sha);
  } catch (err) {
    throw new StartupError(`cannot recompute the root at size ${last.size}: ${(err as Error).message}`);
  }
  if (!bytesEqual(root, last.root)) {
    throw new StartupError(
      `FORK GUARD: the stored tree at size ${last.size} has root ${toBase64(root)}, but the log signed ${toBase64(last.root)}. ` +
        'The database was altered or damaged; refusing to run (signing now would fork the log).',
    );
  }
}

/** The newest entries (up to one tile) hash to their leaf hashes in the level-0 tiles. */
async function checkNewestLeaves(storage: LogStorage, size: number, sha: Sha256): Promise<void> {
  const lo = Math.max(0, size - TILE_WIDTH);
  const entries = await storage.entries(lo, size);
  if (entries.length !== size - lo) throw new StartupError(`entries below ${size} are missing`);
  const tiles = new Map<number, Uint8Array[]>();
  for (let i = 0; i < entries.length; i++) {
    const idx = lo + i;
    const t = Math.floor(idx / TILE_WIDTH);
    let hashes = tiles.get(t);
    if (!hashes) {
      const tile = await storage.tile(0, t);
      if (!tile) throw new StartupError(`leaf tile ${t} is missing`);
      hashes = tileHashes(tile.data);
      tiles.set(t, hashes);
    }
    const h = hashes[idx - t * TILE_WIDTH];
    if (!h || !bytesEqual(h, leafHash(entries[i]!, sha))) {
      throw new StartupError(
        `entry ${idx} does not match its leaf hash in the tiles: the database was altered`,
      );
    }
  }
}

/** The last full tile of each level must hash to its parent hash one level up. */
async function checkNewestFullTiles(storage: LogStorage, size: number, sha: Sha256): Promise<void> {
  for (let level = 0; hashesAtLevel(size, level + 1) > 0; level++) {
    const t = hashesAtLevel(size, level + 1) - 1; // index of the last full tile at `level`
    const data = (await storage.tile(level, t))?.data;
    const parent = (await storage.tile(level + 1, Math.floor(t / TILE_WIDTH)))?.data;
    const want = parent?.subarray((t % TILE_WIDTH) * 32, (t % TILE_WIDTH) * 32 + 32);
    if (!data || data.length !== TILE_WIDTH * 32 || !want || want.length !== 32) {
      throw new StartupError(`tile ${level}/${t} or its parent is missing`);
    }
    if (!bytesEqual(perfectRootOf(tileHashes(data), sha), want)) {
      throw new StartupError(
        `tile ${level}/${t} does not hash to its parent in level ${level + 1}: the database was altered`,
      );
    }
  }
}
