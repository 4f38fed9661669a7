/**
 * Packing a batch of AppendItems for the writer thread: all bytes (entries, leaf hashes,
 * salts, payloads) go into ONE buffer with an offset table, both transferred (moved, not
 * copied), and the strings travel as flat arrays. Cloning thousands of small objects and
 * Uint8Arrays instead cost ~10 % of the main thread under load.
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
  /** Per item: [kind, source, recvMs, tsMs, path, result, revisions, privateId] or null. */
  readonly metas: (
    | [string, string, number, number | null, string | null, string | null, string[], string | null]
    | null
  )[];
  readonly erases: ([number, string] | null)[];
  /** Per item: bit 0 `refuseConflict`, bit 1 `unsealed`. */
  readonly bits: Uint8Array;
  /** Per item: the id's 52-bit key, or -1 (no id, or not computed). */
  readonly idKeys: Float64Array;
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
  const metas: PackedBatch['metas'] = new Array(items.length);
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
    metas[i] = m
      ? [m.kind, m.source, m.recvMs, m.tsMs, m.path, m.result, [...m.revisions], m.privateId ?? null]
      : null;
    erases[i] = it.erase ? [it.erase.index, it.erase.reason] : null;
    bits[i] = (it.refuseConflict ? REFUSE : 0) | (it.unsealed ? UNSEALED : 0);
    idKeys[i] = it.idKey ?? (sha && it.source !== undefined && it.id !== undefined ? idKey(it.id, sha) : -1);
  });
  return {
    batch: { bytes, offsets, sources, ids, metas, erases, bits, idKeys },
    transfer: [bytes.buffer as ArrayBuffer, offsets.buffer as ArrayBuffer, idKeys.buffer as ArrayBuffer],
  };
}

/** Rebuilds the items; byte fields are views into the received buffer (no copies). */
export function unpackBatch(b: PackedBatch): AppendItem[] {
  const n = b.offsets.length / FIELDS;
  const out: AppendItem[] = new Array(n);
  const view = (off: number, len: number): Uint8Array | undefined =>
    off < 0 ? undefined : b.bytes.subarray(off, off + len);
  for (let i = 0; i < n; i++) {
    const f = i * FIELDS;
    const m = b.metas[i];
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
    if (m) {
      const meta: Mutable<LeafMeta> = {
        kind: m[0],
        source: m[1],
        recvMs: m[2],
        tsMs: m[3],
        path: m[4],
        result: m[5],
        revisions: m[6],
      };
      if (m[7] !== null) meta.privateId = m[7];
      item.meta = meta;
    }
    if (e) item.erase = { index: e[0], reason: e[1] };
    if ((b.bits[i]! & REFUSE) !== 0) item.refuseConflict = true;
    if ((b.bits[i]! & UNSEALED) !== 0) item.unsealed = true;
    out[i] = item;
  }
  return out;
}
