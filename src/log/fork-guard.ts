/**
 * The fork guard: start-up checks that refuse to run the log on storage that disagrees with
 * what it signed. Each check reads through the storage interface, so every engine is held to
 * the same proof of integrity before the first append or signature.
 */
import { bytesEqual, toBase64 } from '../core/bytes.js';
import { openCheckpoint } from '../core/checkpoint.js';
import type { Sha256 } from '../core/hash.js';
import { leafHash, perfectRootOf } from '../core/merkle.js';
import type { NoteVerifier } from '../core/note.js';
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

/** Who the log is: its origin and verifier key, and the verifier of its checkpoints. */
export interface LogIdentityConfig {
  readonly origin: string;
  readonly vkey: string;
  readonly verifier: NoteVerifier;
}

/**
 * Runs every start-up check and resolves if the storage may be used; rejects with
 * StartupError when: the origin or key differ from the ones the database was created with;
 * the database holds fewer leaves than the last signed checkpoint; the stored tiles do not
 * hash to the last signed root; the stored checkpoint does not verify; or the newest leaves
 * or full tiles do not match their hashes one level up.
 */
export async function checkStorage(storage: LogStorage, id: LogIdentityConfig, sha: Sha256): Promise<void> {
  await checkIdentity(storage, id);
  // The newest checkpoint first, then the tree: a shared engine re-reads its tree when it sees
  // a newer checkpoint (another server's sequencer signs meanwhile), so the tree covers it.
  const last = await storage.latestCheckpoint();
  const tree = storage.committedTree();
  await checkAgainstLastCheckpoint(storage, tree, last, id.verifier, sha);
  await checkNewestLeaves(storage, tree.size, sha);
  await checkNewestFullTiles(storage, tree.size, sha);
}

/** The database was created for this origin and key (recorded now on a fresh one). */
async function checkIdentity(storage: LogStorage, id: LogIdentityConfig): Promise<void> {
  const { origin, vkey } = await storage.identity();
  if (origin === undefined && vkey === undefined) {
    if (storage.committedTree().size > 0 || (await storage.latestCheckpoint())) {
      throw new StartupError('database has leaves but no recorded origin/key: refusing to adopt it');
    }
    await storage.setIdentity(id.origin, id.vkey);
    return;
  }
  if (origin !== id.origin) {
    throw new StartupError(`this database belongs to origin "${origin}", not "${id.origin}"`);
  }
  if (vkey !== id.vkey) {
    throw new StartupError(`this database was signed by key ${vkey}, not ${id.vkey}`);
  }
}

/** The last stored checkpoint verifies and agrees with its own row. */
function openLastCheckpoint(last: StoredCheckpoint, verifier: NoteVerifier): void {
  let opened: ReturnType<typeof openCheckpoint>;
  try {
    opened = openCheckpoint(last.note, verifier);
  } catch (err) {
    throw new StartupError(
      `the last stored checkpoint (size ${last.size}) does not verify: ${(err as Error).message}`,
    );
  }
  const cp = opened.checkpoint;
  if (cp.size !== last.size || !bytesEqual(cp.rootHash, last.root)) {
    throw new StartupError(`the last stored checkpoint's note disagrees with its row (size ${last.size})`);
  }
}

/** Every signed leaf is stored, and the stored tree at the last signed size has the signed root. */
async function checkAgainstLastCheckpoint(
  storage: LogStorage,
  tree: CommittedTree,
  last: StoredCheckpoint | undefined,
  verifier: NoteVerifier,
  sha: Sha256,
): Promise<void> {
  if (!last) return;
  openLastCheckpoint(last, verifier);
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
