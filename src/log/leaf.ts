/**
 * From an event to the leaf the log appends: a fresh 32-byte salt, the commitment to the
 * event's deterministic CBOR, the entry bytes, the leaf hash, the private search metadata, and
 * the (source, id) to deduplicate on. The one place this mapping is written: the log, the
 * ingestion routes and the benchmarks all build leaves here.
 */
import { ByteSlab } from '../core/bytes.js';
import type { CborObject, CborValue } from '../core/cbor.js';
import { type CommitmentEntry, encodeEntry, encodePayload } from '../core/entry.js';
import type { Sha256 } from '../core/hash.js';
import { type DerivedEvent, deriveOpaDecision, opaDecisionMeta } from '../core/opa.js';
import { publicFields } from '../core/public-fields.js';
import { type AppendItem, type LeafMeta, type Mutable, sealItem } from '../store/log-storage.js';

/** One event to append as a leaf with a salted commitment to its payload. */
export interface EventInput {
  /** Entry kind, e.g. 'opa.decision' or 'event'. */
  readonly kind: string;
  /** Source (for OPA: labels.id) and id (decision_id) of the event. */
  readonly source: string;
  readonly id: string;
  /** The event's own timestamp string, verbatim. */
  readonly ts?: string;
  /** The event itself; its deterministic CBOR is the committed payload. */
  readonly event: CborValue;
  /** Problems noticed in the event, recorded in the leaf. */
  readonly flags?: readonly string[];
  /**
   * Deduplicate on (source, id) and content: a resend of the same event returns the first
   * index; the same ids with other content are appended and marked as conflicting. Default true.
   */
  readonly dedup?: boolean;
  /** With dedup: refuse (ConflictError) instead of appending when the content differs. */
  readonly refuseConflict?: boolean;
  /** Private search fields (OPA decisions). */
  readonly search?: {
    readonly tsMs: number | null;
    readonly path: string | null;
    readonly result: string | null;
    readonly revisions: readonly string[];
  };
}

/** An {@link EventInput} from the fields derived from an event (core/opa.ts). */
export function derivedInput(d: DerivedEvent, search?: EventInput['search']): EventInput {
  // Field by field (no spreads of temporaries): this runs for every decision.
  const e: Mutable<EventInput> = { kind: d.kind, source: d.source, id: d.id, flags: d.flags, event: d.event };
  if (d.ts !== undefined) e.ts = d.ts;
  if (search) e.search = search;
  return e;
}

/** An OPA decision event as an {@link EventInput}, with its search fields. */
export function opaDecisionInput(event: CborObject, sha: Sha256): EventInput {
  const m = opaDecisionMeta(event);
  return derivedInput(deriveOpaDecision(event, sha), {
    tsMs: m.tsMs,
    path: m.path,
    result: m.result,
    revisions: m.bundleRevisions,
  });
}

/**
 * The leaf for `e`, received at `recvMs`: throws EntryError/CborError if the event cannot be
 * encoded. The salt is fresh, so two calls give two different leaves. Only well-formed source,
 * id and timestamp are published (core/public-fields.ts); the others are withheld from the
 * entry, flagged, and kept privately (the payload; the real source and id in the leaf's
 * private metadata), so dedup and lookups by id still use the real values.
 */
export function eventLeaf(e: EventInput, recvMs: number, sha: Sha256): AppendItem {
  return sealItem(unsealedEventLeaf(e, recvMs), sha);
}

/** A commitment placeholder: {@link unsealedEventLeaf} encodes the entry with it. */
const PLACEHOLDER_C = new Uint8Array(32);

/**
 * Where the payloads and entries of unsealed leaves are encoded: they live until their batch
 * is packed for the writer thread (or committed), so views into shared slabs cost nothing
 * lasting, where a buffer each was two off-heap allocations per decision (ByteSlab).
 */
const slab = new ByteSlab();

/**
 * The leaf for `e` as {@link eventLeaf} makes it, but unsealed (AppendItem.unsealed): the
 * event is encoded and every field checked here, so a bad event fails its own request, while
 * the salt, the commitment and the leaf hash are left to the thread that commits it (the
 * writer thread, off the main thread that parses uploads).
 */
export function unsealedEventLeaf(e: EventInput, recvMs: number): AppendItem {
  const payload = encodePayload(e.event, slab);
  const pub = publicFields(e.source, e.id, e.ts);
  // Built field by field (no spreads of temporaries): this runs for every decision on the
  // thread that parses uploads.
  const flags = e.flags && e.flags.length > 0 ? [...e.flags, ...pub.withheld] : pub.withheld;
  const fields: Mutable<CommitmentEntry> = {
    v: 1,
    kind: e.kind,
    src: pub.src,
    id: pub.id,
    recv: recvMs,
    c: PLACEHOLDER_C,
  };
  if (pub.ts !== undefined) fields.ts = pub.ts;
  if (flags.length > 0) fields.flags = flags;
  const meta: Mutable<LeafMeta> = {
    kind: e.kind,
    source: e.source,
    recvMs,
    tsMs: e.search?.tsMs ?? null,
    path: e.search?.path ?? null,
    result: e.search?.result ?? null,
    revisions: e.search?.revisions ?? [],
  };
  if (pub.id !== e.id) meta.privateId = e.id;
  const item: Mutable<AppendItem> = { entry: encodeEntry(fields, slab), unsealed: true, payload, meta };
  if (e.dedup ?? true) {
    item.source = e.source;
    item.id = e.id;
  }
  if (e.refuseConflict) item.refuseConflict = true;
  return item;
}
