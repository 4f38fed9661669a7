/**
 * Lookups by id on the PostgreSQL engine, shared by the append's dedup and the storage's
 * lookups: the entries a 52-bit id key points at, each with the source and id it was appended
 * with. For a leaf whose source or id was withheld from the public entry those are the private
 * values (`leaf_meta.source`, `withheld_ids.id`), as in the SQLite engine, so an erased
 * withheld id can no longer be found.
 */
import { decodeEntry, type Entry } from '../core/entry.js';
import { realIds } from './log-store.js';
import type { Queryable } from './postgres-query.js';

/** An entry found through its id key, with the source and id it was appended with. */
export interface IdHit {
  readonly idx: number;
  readonly src: string;
  readonly id: string;
  /** The decoded public entry (its `c` proves content against a salt). */
  readonly entry: Entry;
  /** The stored salt, absent once erased (or for an entry without payload). */
  readonly salt: Uint8Array | undefined;
}

export { idKey } from './lookup-index.js';

interface HitRow {
  idx: number;
  data: Buffer;
  msource: string | null;
  wid: string | null;
  salt: Buffer | null;
}

/**
 * Every committed entry whose id key is one of `keys`, in index order, with its real source
 * and id (an id-key collision shows as another id: callers filter on the id they asked for).
 * One query for all the keys.
 */
export async function entriesByIdKeys(q: Queryable, keys: readonly number[]): Promise<IdHit[]> {
  if (keys.length === 0) return [];
  const rows = (
    await q.query(
      `SELECT i.idx, e.data, m.source AS msource, w.id AS wid, p.salt
       FROM ids i JOIN entries e ON e.idx = i.idx
       LEFT JOIN leaf_meta m ON m.idx = i.idx
       LEFT JOIN withheld_ids w ON w.idx = i.idx
       LEFT JOIN payloads p ON p.idx = i.idx
       WHERE i.key = ANY($1::bigint[]) ORDER BY i.idx`,
      [keys],
    )
  ).rows as HitRow[];
  const out: IdHit[] = [];
  for (const r of rows) {
    const entry = decodeEntry(r.data);
    const ids = realIds(entry, () => (r.msource === null ? undefined : { source: r.msource, id: r.wid }));
    if (ids) out.push({ idx: r.idx, ...ids, entry, salt: r.salt ?? undefined });
  }
  return out;
}
