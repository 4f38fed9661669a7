/**
 * The PostgreSQL engine's append: one short transaction that takes the next index range under
 * the one-row `tree_head` lock (as Tessera's SQL drivers do), deduplicates on (source, id)
 * and content against every server's committed entries, and inserts entries, ids, payloads, metadata and erasures with
 * bulk `unnest` inserts. When it commits, every leaf has its final index, so the upload can
 * be acknowledged; the elected sequencer builds the tiles later (postgres-sequencer.ts).
 */
import { toHex } from '../core/bytes.js';
import { decodeEntry, verifyCommitment } from '../core/entry.js';
import type { Sha256 } from '../core/hash.js';
import { leafHash } from '../core/merkle.js';
import {
  type AppendCommit,
  type AppendItem,
  type AppendResult,
  ConflictError,
  EraseError,
  sealItem,
} from './log-storage.js';
import { key52 } from './log-store.js';
import { decodeStoredPayload, encodeStoredPayload } from './payload-codec.js';
import { entriesByIdKeys, type IdHit, idKey } from './postgres-ids.js';
import type { Queryable } from './postgres-query.js';

/** A leaf of the batch that was not a duplicate, with its index. */
interface NewLeaf {
  readonly item: AppendItem;
  readonly index: number;
  readonly leaf: Uint8Array;
  readonly idKey: number | undefined;
}

/**
 * Entries with one (source, id) a batch item can match: committed ones (from the database)
 * and the batch's own earlier new leaves, each with what proves its content.
 */
type Candidate = Pick<IdHit, 'idx' | 'entry' | 'salt'> & { readonly payload?: () => Uint8Array | undefined };

const dedupKey = (source: string, id: string): string => `${source}\u0000${id}`;

/** Candidates under one (source, id) beyond which {@link ContentIndex} is used. */
const LINEAR_CANDIDATES = 8;

/**
 * Committed entries by `source NUL id`, in index order (one query for the batch). A (source,
 * id) whose candidates may outgrow {@link LINEAR_CANDIDATES} in this batch (its committed
 * entries plus the batch's items with it, `batchCounts`) gets its committed payloads too, in
 * a second query, for {@link ContentIndex}; the common case (a new id, or a retry) reads none.
 */
async function committedCandidates(
  q: Queryable,
  keys: number[],
  batchCounts: ReadonlyMap<string, number>,
): Promise<Map<string, Candidate[]>> {
  const hits = new Map<string, IdHit[]>();
  for (const h of await entriesByIdKeys(q, keys)) {
    const k = dedupKey(h.src, h.id);
    const list = hits.get(k);
    if (list) list.push(h);
    else hits.set(k, [h]);
  }
  const indexed: number[] = [];
  for (const [k, list] of hits) {
    if (list.length + (batchCounts.get(k) ?? 0) > LINEAR_CANDIDATES)
      for (const h of list) indexed.push(h.idx);
  }
  const stored = await storedPayloads(q, indexed);
  const out = new Map<string, Candidate[]>();
  for (const [k, list] of hits) {
    out.set(
      k,
      list.map((h) => {
        const p = stored.get(h.idx);
        return { idx: h.idx, entry: h.entry, salt: h.salt, payload: () => p && decodeStoredPayload(p) };
      }),
    );
  }
  return out;
}

/** The stored payloads (payload-codec.ts) of entries `idxs`, by index; erased ones are absent. */
async function storedPayloads(q: Queryable, idxs: readonly number[]): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  if (idxs.length === 0) return out;
  const rows = (await q.query('SELECT idx, payload FROM payloads WHERE idx = ANY($1::bigint[])', [idxs]))
    .rows as { idx: number | string; payload: Buffer }[];
  for (const r of rows) out.set(Number(r.idx), r.payload);
  return out;
}

/**
 * The dedup of one item against the entries with its (source, id), as the SQLite engine's
 * probe: the earliest one with the same content (its stored salt hashes with the new payload
 * to its `c`; an item without payload, an erasure, matches on (source, id) alone) is a
 * duplicate; else the earliest one, if any, is the entry the new leaf conflicts with. An entry
 * erased earlier in the batch has lost its salt and matches nothing.
 */
function matchContent(
  item: AppendItem,
  list: readonly Candidate[],
  erased: ReadonlySet<number>,
  sha: Sha256,
): { duplicate: number } | { conflictsWith: number | undefined } {
  const payload = item.payload;
  const same = list.find(
    (c) =>
      payload === undefined ||
      (c.salt !== undefined && !erased.has(c.idx) && verifyCommitment(c.entry, c.salt, payload, sha)),
  );
  return same ? { duplicate: same.idx } : { conflictsWith: list[0]?.idx };
}

/**
 * The batch's index of candidates by content, for a (source, id) with many of them (one id
 * sent with thousands of contents): a digest of each candidate's payload, made once per batch,
 * so an item costs one lookup and one commitment check instead of one per candidate (which
 * made such a batch quadratic). Memory only, for the batch; the pick is confirmed with the
 * stored salt as {@link matchContent} does, and a failed confirmation (a payload row that
 * does not match its commitment, or erased earlier in the batch) falls back to it. Within the
 * window of one (source, id) a content appears once (a second copy would have been a
 * duplicate), except after an erasure: the earliest is kept.
 */
class ContentIndex {
  readonly #sha: Sha256;
  readonly #by = new Map<string, Map<string, Candidate>>();

  constructor(sha: Sha256) {
    this.#sha = sha;
  }

  /** The match of `item` among `list` (ascending), or undefined: ask {@link matchContent}. */
  match(
    k: string,
    list: readonly Candidate[],
    item: AppendItem,
    erased: ReadonlySet<number>,
  ): { duplicate: number } | { conflictsWith: number | undefined } | undefined {
    if (list.length <= LINEAR_CANDIDATES || item.payload === undefined) return undefined;
    let index = this.#by.get(k);
    if (!index) {
      index = new Map();
      for (const c of list) this.#add(index, c);
      this.#by.set(k, index);
    }
    const c = index.get(this.#digest(item.payload));
    if (c === undefined) return { conflictsWith: list[0]!.idx };
    const same =
      c.salt !== undefined &&
      !erased.has(c.idx) &&
      verifyCommitment(c.entry, c.salt, item.payload, this.#sha);
    return same ? { duplicate: c.idx } : undefined;
  }

  /** Records a new leaf of the batch under `k` (when that key is indexed). */
  added(k: string, c: Candidate): void {
    const index = this.#by.get(k);
    if (index) this.#add(index, c);
  }

  #add(index: Map<string, Candidate>, c: Candidate): void {
    const p = c.salt === undefined ? undefined : c.payload?.();
    if (p === undefined) return;
    const d = this.#digest(p);
    if (!index.has(d)) index.set(d, c);
  }

  #digest(payload: Uint8Array): string {
    return toHex(this.#sha(payload));
  }
}

/**
 * Assigns indices from `next`: an item whose (source, id) and content are already committed,
 * or earlier in this batch, returns that index as a duplicate and adds no leaf; one with other
 * content is appended with `conflictsWith`, or refuses the batch (ConflictError) when it says
 * `refuseConflict`.
 */
function assign(
  items: readonly AppendItem[],
  idKeys: (number | undefined)[],
  seen: Map<string, Candidate[]>,
  next: number,
  sha: Sha256,
): { results: AppendResult[]; leaves: NewLeaf[] } {
  const results: AppendResult[] = [];
  const leaves: NewLeaf[] = [];
  const erased = new Set<number>();
  const byContent = new ContentIndex(sha);
  items.forEach((item, i) => {
    let conflictsWith: number | undefined;
    if (item.source !== undefined && item.id !== undefined) {
      const k = dedupKey(item.source, item.id);
      const list = seen.get(k) ?? [];
      if (list.length === 0) seen.set(k, list);
      const m = byContent.match(k, list, item, erased) ?? matchContent(item, list, erased, sha);
      if ('duplicate' in m) {
        results.push({ index: m.duplicate, duplicate: true });
        return;
      }
      conflictsWith = m.conflictsWith;
      if (conflictsWith !== undefined && item.refuseConflict) {
        throw new ConflictError(`id ${item.id} was logged with other content (entry ${conflictsWith})`);
      }
      const payload = item.payload;
      const c: Candidate = {
        idx: next,
        entry: decodeEntry(item.entry),
        salt: item.salt,
        payload: () => payload,
      };
      list.push(c);
      byContent.added(k, c);
    }
    if (item.erase) erased.add(item.erase.index);
    const leaf = item.leafHash ?? leafHash(item.entry, sha);
    leaves.push({ item, index: next, leaf, idKey: idKeys[i] });
    results.push({
      index: next,
      duplicate: false,
      ...(conflictsWith !== undefined ? { conflictsWith } : {}),
    });
    next++;
  });
  return { results, leaves };
}

/** Inserts the batch's rows, one bulk statement per table. */
async function insertRows(q: Queryable, leaves: readonly NewLeaf[]): Promise<void> {
  await q.query(
    'INSERT INTO entries (idx, data, leaf, leaf_key) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bigint[])',
    [
      leaves.map((l) => l.index),
      leaves.map((l) => l.item.entry),
      leaves.map((l) => l.leaf),
      leaves.map((l) => key52(l.leaf)),
    ],
  );
  const withId = leaves.filter((l) => l.idKey !== undefined);
  if (withId.length > 0) {
    await q.query('INSERT INTO ids (key, idx) SELECT * FROM unnest($1::bigint[], $2::bigint[])', [
      withId.map((l) => l.idKey),
      withId.map((l) => l.index),
    ]);
  }
  const paid = leaves.filter((l) => l.item.salt && l.item.payload);
  if (paid.length > 0) {
    await q.query(
      'INSERT INTO payloads (idx, salt, payload) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])',
      [
        paid.map((l) => l.index),
        paid.map((l) => l.item.salt),
        paid.map((l) => encodeStoredPayload(l.item.payload!)),
      ],
    );
  }
  await insertMeta(q, leaves);
}

/** Inserts the private search metadata, withheld ids and bundle revisions of the batch. */
async function insertMeta(q: Queryable, leaves: readonly NewLeaf[]): Promise<void> {
  const m = leaves.filter((l) => l.item.meta);
  if (m.length === 0) return;
  const col = <T>(f: (x: NonNullable<AppendItem['meta']>) => T): T[] => m.map((l) => f(l.item.meta!));
  await q.query(
    'INSERT INTO leaf_meta (idx, kind, source, recv_ms, ts_ms, path, result) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[])',
    [
      m.map((l) => l.index),
      col((x) => x.kind),
      col((x) => x.source),
      col((x) => x.recvMs),
      col((x) => x.tsMs),
      col((x) => x.path),
      col((x) => x.result),
    ],
  );
  const withheld = m.filter((l) => l.item.meta!.privateId !== undefined);
  if (withheld.length > 0) {
    await q.query('INSERT INTO withheld_ids (idx, id) SELECT * FROM unnest($1::bigint[], $2::text[])', [
      withheld.map((l) => l.index),
      withheld.map((l) => l.item.meta!.privateId),
    ]);
  }
  const revs = m.flatMap((l) => l.item.meta!.revisions.map((r) => [r, l.index] as const));
  if (revs.length > 0) {
    await q.query(
      'INSERT INTO leaf_revisions (revision, idx) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING',
      [revs.map((r) => r[0]), revs.map((r) => r[1])],
    );
  }
}

/**
 * Applies an erasure entry at `erasureIndex`: deletes the payload of `erase.index` with every
 * private field derived from it (search metadata, bundle revisions, withheld id) and records
 * why. Runs after the batch's rows are inserted, in batch order, so it sees the entries and
 * erasures before it in the batch, as SQLite's in-transaction order does.
 */
async function applyErasure(
  q: Queryable,
  erase: { index: number; reason: string },
  erasureIndex: number,
): Promise<void> {
  const rows = (
    await q.query(
      'SELECT e.data, x.idx AS erased FROM entries e LEFT JOIN erasures x ON x.idx = e.idx WHERE e.idx = $1',
      [erase.index],
    )
  ).rows as { data: Buffer; erased: number | null }[];
  const row = erase.index < erasureIndex ? rows[0] : undefined;
  if (!row) throw new EraseError('no_such_entry', `no entry at index ${erase.index}`);
  if (decodeEntry(row.data).kind === 'erasure') {
    throw new EraseError('not_erasable', `entry ${erase.index} is an erasure entry`);
  }
  if (row.erased !== null) throw new EraseError('already_erased', `entry ${erase.index} is already erased`);
  for (const table of ['payloads', 'leaf_meta', 'leaf_revisions', 'withheld_ids']) {
    await q.query(`DELETE FROM ${table} WHERE idx = $1`, [erase.index]);
  }
  await q.query('INSERT INTO erasures (idx, erasure_idx, reason, erased_at) VALUES ($1, $2, $3, $4)', [
    erase.index,
    erasureIndex,
    erase.reason,
    Date.now(),
  ]);
}

/**
 * Commits `items` in one transaction on `q` (a dedicated connection): locks the index
 * counter, deduplicates, inserts, applies erasures and advances the counter. Returns one
 * result per item and the number of leaves committed by every server so far. A failure
 * rolls everything back (EraseError, ConflictError refuse the batch).
 */
export async function appendPostgres(
  q: Queryable,
  items: readonly AppendItem[],
  sha: Sha256,
): Promise<AppendCommit> {
  for (const item of items) if (item.entry.length > 0xffff) throw new Error('entry exceeds 65535 bytes');
  // Sealed up front (the main thread; PostgreSQL has no writer thread): dedup needs the
  // stored form of earlier items of the batch.
  const sealed = items.map((it) => sealItem(it, sha));
  const idKeys = items.map((it) =>
    it.source !== undefined && it.id !== undefined ? idKey(it.id, sha) : undefined,
  );
  await q.query('BEGIN');
  try {
    const head = (await q.query('SELECT next_idx FROM tree_head WHERE id = 1 FOR UPDATE')).rows[0] as {
      next_idx: number;
    };
    const keys = [...new Set(idKeys.filter((k): k is number => k !== undefined))];
    const batchCounts = new Map<string, number>();
    for (const it of items) {
      if (it.source === undefined || it.id === undefined) continue;
      const k = dedupKey(it.source, it.id);
      batchCounts.set(k, (batchCounts.get(k) ?? 0) + 1);
    }
    const seen = await committedCandidates(q, keys, batchCounts);
    const { results, leaves } = assign(sealed, idKeys, seen, head.next_idx, sha);
    const size = head.next_idx + leaves.length;
    if (leaves.length > 0) {
      await insertRows(q, leaves);
      for (const l of leaves) if (l.item.erase) await applyErasure(q, l.item.erase, l.index);
      await q.query('UPDATE tree_head SET next_idx = $1 WHERE id = 1', [size]);
    }
    await q.query('COMMIT');
    return { results, size };
  } catch (err) {
    await q.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
