/**
 * Where the SQLite engine keeps private payloads and their salts: the leaves of a full entry
 * bundle (256 leaves, as bundle-blobs.ts keeps their entries) share ONE row of
 * `payload_bundles`, their salts side by side and their payloads deflated together; only the
 * partial rightmost bundle's payloads are rows of `payloads`, stored raw. The commit that fills
 * a bundle writes its blob and deletes its rows in the same transaction.
 *
 * Why (issue 11, spec/storage.md "Payload bundles"): deflating each ~550-byte payload alone
 * costs ~16 us of the writer thread, most of it loading the 3.7 KiB dictionary into a fresh
 * context; one stream over 256 payloads costs ~4 us per payload, stores about half the bytes
 * (decisions of one fleet repeat each other), and a commit of 10,000 leaves writes 39 payload
 * rows instead of 10,000. The price: reading one payload inflates its bundle (~140 KB, ~0.5
 * ms; a small cache of decoded bundles serves neighbours), and erasing one rewrites its blob
 * (all erasures of a commit are applied to a bundle at once). Payload rows written before this
 * table existed (compressed one by one, payload-codec.ts) are read as before, never rewritten.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { concatBytes } from '../core/bytes.js';
import { Lru } from '../core/lru.js';
import { TILE_WIDTH } from '../core/tiles.js';
import type { Db } from './db.js';
import { decodeStoredPayload, rawStoredPayload } from './payload-codec.js';
import { PAYLOAD_DICTIONARY_V1 } from './payload-dictionary.js';

/** The migration that adds the table (in db.ts's MIGRATIONS). */
export const PAYLOAD_BUNDLES_MIGRATION = `
  -- Salts and payloads of full bundles (256 leaves, idx = leaf index / 256), one blob each
  -- (src/store/payload-bundles.ts), written in the transaction that appends the bundle's 256th
  -- leaf, which deletes its rows from payloads; rewritten only to erase a payload.
  CREATE TABLE IF NOT EXISTS payload_bundles (
    idx  INTEGER PRIMARY KEY,
    data BLOB NOT NULL
  );
  `;

/** First byte of a payload bundle blob, format 1. */
const FORMAT_V1 = 0x01;
/** Length slot of a leaf without a payload (none, or erased). */
const NONE = 0xffffffff;
const SALT_SIZE = 32;
/**
 * Deflate level of a bundle: on the bench's OPA decisions (CPU per payload, bytes per payload)
 * level 2 costs 1.95 us for 82 B, level 6 4.1 us for 71 B (spec/storage.md "Payload bundles"):
 * the writer thread bounds ingest, the disk budget has room.
 */
const LEVEL = 2;
/** Largest payload bundle a blob may inflate to (256 payloads; damage must not allocate more). */
const MAX_INFLATED = 256 * 1024 * 1024;
/** Decoded bundles kept per connection (dedup and indexer checks read recent leaves one by one). */
const DECODED_CACHE = 4;
/** Full bundles whose salts are kept per connection (8 KiB each: 128 KiB). */
const SALT_CACHE = 16;

/** A leaf's salt and payload (the deterministic CBOR its entry commits to). */
export interface SaltedPayload {
  readonly salt: Uint8Array;
  readonly payload: Uint8Array;
}

/** A decoded bundle: one slot per leaf of the bundle, undefined where it holds no payload. */
type Slots = (SaltedPayload | undefined)[];

/**
 * The blob of a full bundle: `0x01`, u16 n (leaves covered), n u32 payload lengths (0xffffffff:
 * none), the salts of the leaves that have one (32 bytes each, in leaf order), then ONE raw
 * deflate stream (dictionary v1) of their payloads concatenated in leaf order. Big-endian.
 */
export function encodePayloadBundle(slots: Slots): Uint8Array {
  const present = slots.filter((s): s is SaltedPayload => s !== undefined);
  const z = deflateRawSync(concatBytes(...present.map((s) => s.payload)), {
    level: LEVEL,
    dictionary: PAYLOAD_DICTIONARY_V1,
  });
  const head = 3 + 4 * slots.length;
  const out = new Uint8Array(head + SALT_SIZE * present.length + z.length);
  const view = new DataView(out.buffer);
  out[0] = FORMAT_V1;
  view.setUint16(1, slots.length);
  let salts = head;
  slots.forEach((s, i) => {
    view.setUint32(3 + 4 * i, s === undefined ? NONE : s.payload.length);
    if (s === undefined) return;
    if (s.salt.length !== SALT_SIZE) throw new Error(`salt of ${s.salt.length} bytes, not ${SALT_SIZE}`);
    out.set(s.salt, salts);
    salts += SALT_SIZE;
  });
  out.set(z, salts);
  return out;
}

/** A blob's header: each slot's payload length (NONE: none) and where the salts start. */
function bundleHeader(blob: Uint8Array): { lengths: number[]; saltsAt: number; zAt: number } {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (blob.length < 3 || blob[0] !== FORMAT_V1) throw new Error('payload bundle: unknown format');
  const n = view.getUint16(1);
  const saltsAt = 3 + 4 * n;
  const lengths: number[] = [];
  for (let i = 0; i < n; i++) lengths.push(view.getUint32(3 + 4 * i));
  const zAt = saltsAt + SALT_SIZE * lengths.filter((l) => l !== NONE).length;
  if (blob.length < zAt) throw new Error('payload bundle: truncated');
  return { lengths, saltsAt, zAt };
}

/** Copies of the salts of every slot of a blob (undefined: no payload), without inflating it. */
export function payloadBundleSalts(blob: Uint8Array): (Uint8Array | undefined)[] {
  const { lengths, saltsAt } = bundleHeader(blob);
  let at = saltsAt;
  return Array.from(lengths, (len) => {
    if (len === NONE) return undefined;
    at += SALT_SIZE;
    return blob.slice(at - SALT_SIZE, at);
  });
}

/** The slots of a blob made by {@link encodePayloadBundle}; throws on a damaged blob. */
export function decodePayloadBundle(blob: Uint8Array): Slots {
  const { lengths, saltsAt, zAt } = bundleHeader(blob);
  const all = inflateRawSync(blob.subarray(zAt), {
    dictionary: PAYLOAD_DICTIONARY_V1,
    maxOutputLength: MAX_INFLATED,
  });
  const slots: Slots = [];
  let salt = saltsAt;
  let at = 0;
  for (const len of lengths) {
    if (len === NONE) {
      slots.push(undefined);
      continue;
    }
    if (at + len > all.length) throw new Error('payload bundle: payloads shorter than their lengths');
    slots.push({ salt: blob.subarray(salt, salt + SALT_SIZE), payload: all.subarray(at, at + len) });
    salt += SALT_SIZE;
    at += len;
  }
  return slots;
}

/** The payloads and payload_bundles tables: every read and write of salts and payloads. */
export class PayloadBundles {
  readonly #q;
  /** Decoded full bundles; an erasure rewrites a blob, so reads check `erasures` (see payload). */
  readonly #decoded = new Lru<number, Slots>(DECODED_CACHE);
  /** During an append transaction: the batch's payloads, written by {@link flush}. */
  #pending: Map<number, SaltedPayload> | undefined;
  /** During an append transaction: leaves of full bundles whose payload this batch erases. */
  #erasedInBlobs: Set<number> | undefined;
  /**
   * The salts of recently read full bundles (8 KiB each): a resent upload's duplicates are
   * consecutive leaves, each confirmed by its salt, and reading the ~40 KiB blob once per
   * duplicate took 42 % of the writer thread (a resend of the bench's bodies on a 10M log:
   * 10k duplicates/s). An erasure's rewrite drops its bundle's entry.
   */
  readonly #salts = new Lru<number, (Uint8Array | undefined)[]>(SALT_CACHE);
  /** During an append transaction: bundles whose blob it rewrote (not cached until it ends). */
  #rewritten: Set<number> | undefined;

  constructor(db: Db) {
    this.#q = {
      row: db.prepare('SELECT salt, payload FROM payloads WHERE idx = ?'),
      rows: db.prepare('SELECT idx, salt, payload FROM payloads WHERE idx >= ? AND idx < ?'),
      insertRow: db.prepare('INSERT INTO payloads (idx, salt, payload) VALUES (?, ?, ?)'),
      deleteRow: db.prepare('DELETE FROM payloads WHERE idx = ?'),
      deleteRows: db.prepare('DELETE FROM payloads WHERE idx >= ? AND idx < ?'),
      blob: db.prepare('SELECT data FROM payload_bundles WHERE idx = ?').pluck(),
      insertBlob: db.prepare('INSERT INTO payload_bundles (idx, data) VALUES (?, ?)'),
      updateBlob: db.prepare('UPDATE payload_bundles SET data = ? WHERE idx = ?'),
      erased: db.prepare('SELECT 1 FROM erasures WHERE idx = ?').pluck(),
    };
  }

  /**
   * Salt and payload of leaf `index`, or undefined (none, or erased). Rows are read before
   * blobs (a concurrent commit that fills the bundle inserts the blob and deletes the rows at
   * once); a decoded bundle from the cache is served only if the leaf was not erased since.
   */
  payload(index: number): SaltedPayload | undefined {
    const pending = this.#pending?.get(index);
    if (pending) return pending;
    const row = this.#q.row.get(index) as { salt: Buffer; payload: Buffer } | undefined;
    if (row) return { salt: row.salt, payload: decodeStoredPayload(row.payload) };
    const b = Math.floor(index / TILE_WIDTH);
    const hit = this.#decoded.get(b);
    if (hit) return this.#q.erased.get(index) === undefined ? hit[index % TILE_WIDTH] : undefined;
    return this.#decodedBundle(b)?.[index % TILE_WIDTH];
  }

  /**
   * The salt of leaf `index`, or undefined (none, or erased), as {@link payload} finds it but
   * without inflating a bundle that is not decoded already: the dedup proof needs only the salt.
   */
  salt(index: number): Uint8Array | undefined {
    const pending = this.#pending?.get(index);
    if (pending) return pending.salt;
    const row = this.#q.row.get(index) as { salt: Buffer } | undefined;
    if (row) return row.salt;
    const b = Math.floor(index / TILE_WIDTH);
    if (this.#decoded.get(b) !== undefined) return this.payload(index)?.salt;
    let salts = this.#salts.get(b);
    if (!salts) {
      const blob = this.#q.blob.get(b) as Buffer | undefined;
      if (!blob) return undefined;
      salts = payloadBundleSalts(blob);
      // A blob this transaction rewrote may yet roll back: not kept.
      if (!this.#rewritten?.has(b)) this.#salts.set(b, salts);
    }
    return salts[index % TILE_WIDTH];
  }

  /** Starts an append transaction's batch (see {@link add}, {@link erase}, {@link flush}). */
  begin(): void {
    this.#pending = new Map();
    this.#erasedInBlobs = new Set();
    this.#rewritten = new Set();
  }

  /** Adds leaf `index`'s payload to the batch (written by {@link flush}). */
  add(index: number, salt: Uint8Array, payload: Uint8Array): void {
    this.#pending!.set(index, { salt, payload });
  }

  /**
   * Erases leaf `index`'s salt and payload within the batch: dropped if this batch added it,
   * its row deleted if it is in the partial bundle (or a legacy row), its bundle rewritten by
   * {@link flush} otherwise. secure_delete (db.ts) zeroes the freed bytes either way.
   */
  erase(index: number): void {
    if (this.#pending!.delete(index)) return;
    if (this.#q.deleteRow.run(index).changes > 0) return;
    this.#erasedInBlobs!.add(index);
  }

  /**
   * Writes the batch, inside its transaction, for a tree that now has `size` leaves: rewrites
   * each bundle blob the batch erased from once; every bundle the batch fills becomes one blob
   * (with the rows earlier commits left for it, which are deleted); the rest, the new partial
   * bundle's payloads, become raw rows.
   */
  flush(size: number): void {
    this.#rewriteErased();
    const pending = this.#pending!;
    const bundles = new Set([...pending.keys()].map((i) => Math.floor(i / TILE_WIDTH)));
    for (const b of [...bundles].sort((x, y) => x - y)) {
      const start = b * TILE_WIDTH;
      if (start + TILE_WIDTH > size) {
        for (let i = start; i < size; i++) {
          const p = pending.get(i);
          if (p) this.#q.insertRow.run(i, p.salt, rawStoredPayload(p.payload));
        }
        continue;
      }
      const slots: Slots = new Array(TILE_WIDTH).fill(undefined);
      for (const r of this.#q.rows.all(start, start + TILE_WIDTH) as RowOf[]) {
        slots[r.idx - start] = { salt: r.salt, payload: decodeStoredPayload(r.payload) };
      }
      for (let i = 0; i < TILE_WIDTH; i++) slots[i] = pending.get(start + i) ?? slots[i];
      this.#q.insertBlob.run(b, encodePayloadBundle(slots));
      this.#q.deleteRows.run(start, start + TILE_WIDTH);
    }
  }

  /** Ends the transaction's batch (committed or not). */
  end(): void {
    this.#pending = undefined;
    this.#erasedInBlobs = undefined;
    this.#rewritten = undefined;
  }

  #rewriteErased(): void {
    const byBundle = new Map<number, number[]>();
    for (const i of this.#erasedInBlobs!) {
      const b = Math.floor(i / TILE_WIDTH);
      byBundle.set(b, [...(byBundle.get(b) ?? []), i]);
    }
    for (const [b, leaves] of byBundle) {
      const blob = this.#q.blob.get(b) as Buffer | undefined;
      if (!blob) continue;
      const slots = decodePayloadBundle(blob);
      for (const i of leaves) slots[i % TILE_WIDTH] = undefined;
      this.#q.updateBlob.run(encodePayloadBundle(slots), b);
      this.#decoded.delete(b);
      this.#salts.delete(b);
      this.#rewritten!.add(b);
    }
  }

  #decodedBundle(b: number): Slots | undefined {
    const blob = this.#q.blob.get(b) as Buffer | undefined;
    if (!blob) return undefined;
    const slots = decodePayloadBundle(blob);
    this.#decoded.set(b, slots);
    return slots;
  }
}

interface RowOf {
  idx: number;
  salt: Buffer;
  payload: Buffer;
}
