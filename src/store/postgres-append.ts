/**
 * The PostgreSQL engine's append: one short transaction that takes the next index range under
 * the one-row `tree_head` lock (as Tessera's SQL drivers do), deduplicates against every
 * server's committed entries, and inserts entries, ids, payloads, metadata and erasures with
 * bulk `unnest` inserts. When it commits, every leaf has its final index, so the upload can
 * be acknowledged; the elected sequencer builds the tiles later (postgres-sequencer.ts).
 */
import { utf8 } from '../core/bytes.js';
import { decodeEntry } from '../core/entry.js';
import type { Sha256 } from '../core/hash.js';
import { leafHash } from '../core/merkle.js';
import { type AppendCommit, type AppendItem, type AppendResult, EraseError } from './log-storage.js';
import { key52 } from './log-store.js';
import type { Queryable } from './postgres-query.js';

/** A leaf of the batch that was not a duplicate, with its index. */
interface NewLeaf {
  readonly item: AppendItem;
  readonly index: number;
  readonly leaf: Uint8Array;
  readonly idKey: number | undefined;
}

const dedupKey = (source: string, id: string): string => `${source}\u0000${id}`;

/**
 * Indices of committed entries whose (source, id) is among the batch's, keyed by
 * `source NUL id` (the smallest index when there are several). One query for the batch; each
 * hit of the 52-bit key is confirmed against the entry itself.
 */
async function committedIds(q: Queryable, keys: number[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (keys.length === 0) return out;
  const rows = (
    await q.query(
      'SELECT i.idx, e.data FROM ids i JOIN entries e ON e.idx = i.idx WHERE i.key = ANY($1::bigint[]) ORDER BY i.idx',
      [keys],
    )
  ).rows as { idx: number; data: Buffer }[];
  for (const r of rows) {
    const e = decodeEntry(r.data);
    const k = dedupKey(e.src, e.id);
    if (!out.has(k)) out.set(k, r.idx);
  }
  return out;
}

/**
 * Assigns indices from `next`: a (source, id) already committed, or earlier in this batch,
 * returns that index as a duplicate and adds no leaf.
 */
function assign(
  items: readonly AppendItem[],
  idKeys: (number | undefined)[],
  seen: Map<string, number>,
  next: number,
  sha: Sha256,
): { results: AppendResult[]; leaves: NewLeaf[] } {
  const results: AppendResult[] = [];
  const leaves: NewLeaf[] = [];
  items.forEach((item, i) => {
    if (item.source !== undefined && item.id !== undefined) {
      const k = dedupKey(item.source, item.id);
      const found = seen.get(k);
      if (found !== undefined) {
        results.push({ index: found, duplicate: true });
        return;
      }
      seen.set(k, next);
    }
    const leaf = item.leafHash ?? leafHash(item.entry, sha);
    leaves.push({ item, index: next, leaf, idKey: idKeys[i] });
    results.push({ index: next, duplicate: false });
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
      [paid.map((l) => l.index), paid.map((l) => l.item.salt), paid.map((l) => l.item.payload)],
    );
  }
  await insertMeta(q, leaves);
}

/** Inserts the private search metadata and bundle revisions of the batch. */
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
  const revs = m.flatMap((l) => l.item.meta!.revisions.map((r) => [r, l.index] as const));
  if (revs.length > 0) {
    await q.query(
      'INSERT INTO leaf_revisions (revision, idx) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING',
      [revs.map((r) => r[0]), revs.map((r) => r[1])],
    );
  }
}

/**
 * Applies an erasure entry at `erasureIndex`: deletes the payload of `erase.index` and records
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
  await q.query('DELETE FROM payloads WHERE idx = $1', [erase.index]);
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
 * rolls everything back (EraseError refuses the batch).
 */
export async function appendPostgres(
  q: Queryable,
  items: readonly AppendItem[],
  sha: Sha256,
): Promise<AppendCommit> {
  for (const item of items) if (item.entry.length > 0xffff) throw new Error('entry exceeds 65535 bytes');
  const idKeys = items.map((it) =>
    it.source !== undefined && it.id !== undefined ? key52(sha(utf8(it.id))) : undefined,
  );
  await q.query('BEGIN');
  try {
    const head = (await q.query('SELECT next_idx FROM tree_head WHERE id = 1 FOR UPDATE')).rows[0] as {
      next_idx: number;
    };
    const keys = [...new Set(idKeys.filter((k): k is number => k !== undefined))];
    const seen = await committedIds(q, keys);
    const { results, leaves } = assign(items, idKeys, seen, head.next_idx, sha);
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
