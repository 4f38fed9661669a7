/**
 * Packing a batch of AppendItems for the writer thread: all bytes (entries, leaf hashes,
 * salts, payloads) go into ONE buffer with an offset table, both transferred (moved, not
 * copied), and the strings travel as flat arrays. Cloning thousands of small objects and
 * Uint8Arrays instead cost ~10 % of the main thread under load. The search metadata travels
 * as columns too (a string array per field, numbers in typed arrays, all revisions in one
 * array): a packed batch waits for the commit before it (~10-100 ms), long enough for what it
 * holds to be promoted to the old generation, where an array or two per leaf were 17 % of
 * the bytes the main thread promoted (heap sampling of surviving objects, session 10).
 */
import type { Sha256 } from '../core/hash.js';
import type { AppendItem, LeafMeta, Mutable } from './log-storage.js';
import { idKey } from './lookup-index.js';

/** A batch as it crosses the thread boundary. */
export interface PackedBatch {
  readonly bytes: Uint8Array;
  /** Per item: entry off, len; leaf hash off (-1: none); salt off (-1); payload off, len (-1). */
  readonly offsets: Int32Array;
  readonly sources: (string | null)[];
  readonly ids: (string | null)[];
  /** Per item, the LeafMeta fields as columns: kind null for an item without metadata. */
  readonly meta: PackedMeta;
  readonly erases: ([number, string] | null)[];
  /** Per item: bit 0 `refuseConflict`, bit 1 `unsealed`. */
  readonly bits: Uint8Array;
  /** Per item: the id's 52-bit key, or -1 (no id, or not computed). */
  readonly idKeys: Float64Array;
}

/** The search metadata of a batch's items, a column per field (see PackedBatch.meta). */
export interface PackedMeta {
  readonly kinds: (string | null)[];
  readonly sources: (string | null)[];
  /** recvMs; tsMs (NaN: null). */
  readonly times: Float64Array;
  readonly paths: (string | null)[];
  readonly results: (string | null)[];
  readonly privateIds: (string | null)[];
  /** Each item's revisions, in item order; `revisionCounts[i]` of them are item i's. */
  readonly revisions: string[];
  readonly revisionCounts: Uint32Array;
}

const FIELDS = 7;
const REFUSE = 1;
const UNSEALED = 2;

/**
 * Packs items; the returned transfer list moves the buffers to the receiver. With `sha`, the
 * 52-bit key of each deduplicated item's id is computed here (lookup-index.ts idKey), by the
 * sending thread, so the writer thread does not.
 */
export function packBatch(
  items: readonly AppendItem[],
  sha?: Sha256,
): { batch: PackedBatch; transfer: ArrayBuffer[] } {
  let total = 0;
  for (const it of items) {
    total +=
      it.entry.length + (it.leafHash ? 32 : 0) + (it.salt ? it.salt.length : 0) + (it.payload?.length ?? 0);
  }
  const bytes = new Uint8Array(total);
  const offsets = new Int32Array(items.length * FIELDS);
  const sources: (string | null)[] = new Array(items.length);
  const ids: (string | null)[] = new Array(items.length);
  const n = items.length;
  const meta: PackedMeta = {
    kinds: new Array(n),
    sources: new Array(n),
    times: new Float64Array(2 * n),
    paths: new Array(n),
    results: new Array(n),
    privateIds: new Array(n),
    revisions: [],
    revisionCounts: new Uint32Array(n),
  };
  const erases: PackedBatch['erases'] = new Array(items.length);
  const bits = new Uint8Array(items.length);
  const idKeys = new Float64Array(items.length);
  let o = 0;
  const put = (b: Uint8Array | undefined): number => {
    if (!b) return -1;
    const at = o;
    bytes.set(b, o);
    o += b.length;
    return at;
  };
  items.forEach((it, i) => {
    const f = i * FIELDS;
    offsets[f] = put(it.entry);
    offsets[f + 1] = it.entry.length;
    offsets[f + 2] = put(it.leafHash);
    offsets[f + 3] = put(it.salt);
    offsets[f + 4] = it.salt?.length ?? 0;
    offsets[f + 5] = put(it.payload);
    offsets[f + 6] = it.payload?.length ?? 0;
    sources[i] = it.source ?? null;
    ids[i] = it.id ?? null;
    const m = it.meta;
    meta.kinds[i] = m ? m.kind : null;
    meta.sources[i] = m ? m.source : null;
    meta.times[2 * i] = m ? m.recvMs : 0;
    meta.times[2 * i + 1] = m?.tsMs ?? Number.NaN;
    meta.paths[i] = m ? m.path : null;
    meta.results[i] = m ? m.result : null;
    meta.privateIds[i] = m?.privateId ?? null;
    if (m) {
      for (const r of m.revisions) meta.revisions.push(r);
      meta.revisionCounts[i] = m.revisions.length;
    }
    erases[i] = it.erase ? [it.erase.index, it.erase.reason] : null;
    bits[i] = (it.refuseConflict ? REFUSE : 0) | (it.unsealed ? UNSEALED : 0);
    idKeys[i] = it.idKey ?? (sha && it.source !== undefined && it.id !== undefined ? idKey(it.id, sha) : -1);
  });
  return {
    batch: { bytes, offsets, sources, ids, meta, erases, bits, idKeys },
    transfer: [
      bytes.buffer as ArrayBuffer,
      offsets.buffer as ArrayBuffer,
      idKeys.buffer as ArrayBuffer,
      meta.times.buffer as ArrayBuffer,
      meta.revisionCounts.buffer as ArrayBuffer,
    ],
  };
}

/** Rebuilds the items; byte fields are views into the received buffer (no copies). */
export function unpackBatch(b: PackedBatch): AppendItem[] {
  const n = b.offsets.length / FIELDS;
  const out: AppendItem[] = new Array(n);
  const view = (off: number, len: number): Uint8Array | undefined =>
    off < 0 ? undefined : b.bytes.subarray(off, off + len);
  const m = b.meta;
  let rev = 0;
  for (let i = 0; i < n; i++) {
    const f = i * FIELDS;
    const e = b.erases[i];
    const source = b.sources[i];
    const id = b.ids[i];
    const leafHash = view(b.offsets[f + 2]!, 32);
    const salt = view(b.offsets[f + 3]!, b.offsets[f + 4]!);
    const payload = view(b.offsets[f + 5]!, b.offsets[f + 6]!);
    // One object per item, fields assigned only when present (no spread temporaries: this
    // runs for every leaf in the writer thread, where garbage is what the commit waits on).
    const item: Mutable<AppendItem> = { entry: view(b.offsets[f]!, b.offsets[f + 1]!)! };
    if (leafHash) item.leafHash = leafHash;
    if (salt) item.salt = salt;
    if (payload) item.payload = payload;
    if (source !== null && source !== undefined) item.source = source;
    if (id !== null && id !== undefined) item.id = id;
    if (b.idKeys[i]! >= 0) item.idKey = b.idKeys[i]!;
    const kind = m.kinds[i];
    if (kind !== null && kind !== undefined) {
      const ts = m.times[2 * i + 1]!;
      const count = m.revisionCounts[i]!;
      const meta: Mutable<LeafMeta> = {
        kind,
        source: m.sources[i]!,
        recvMs: m.times[2 * i]!,
        tsMs: Number.isNaN(ts) ? null : ts,
        path: m.paths[i] ?? null,
        result: m.results[i] ?? null,
        revisions: count === 0 ? [] : m.revisions.slice(rev, rev + count),
      };
      rev += count;
      const privateId = m.privateIds[i];
      if (privateId !== null && privateId !== undefined) meta.privateId = privateId;
      item.meta = meta;
    }
    if (e) item.erase = { index: e[0], reason: e[1] };
    if ((b.bits[i]! & REFUSE) !== 0) item.refuseConflict = true;
    if ((b.bits[i]! & UNSEALED) !== 0) item.unsealed = true;
    out[i] = item;
  }
  return out;
}
