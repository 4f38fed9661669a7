/**
 * The largest server answer each verifier reads, per kind of resource, in one place: the
 * verifying client and the witness side (gossip, monitor, pusher) read every response with
 * `readCappedBytes` (./read-body.ts) and one of these caps, so a server that streams an endless
 * or oversized body costs at most the cap in memory, never more.
 */

/** A checkpoint note (`/checkpoint`, a witness's monitoring checkpoint): 1 MiB. */
export const MAX_CHECKPOINT_RESPONSE_BYTES = 1024 * 1024;

/** A hash tile: at most 256 hashes of 32 bytes (8 KiB), plus slack. */
export const MAX_HASH_TILE_RESPONSE_BYTES = 8 * 1024 + 1024;

/** An entry bundle: at most 256 entries, each a 2-byte length and at most 65535 bytes (~16 MiB). */
export const MAX_ENTRY_BUNDLE_RESPONSE_BYTES = 256 * (2 + 0xffff);

/** A JSON answer without payloads (consistency proofs, status): 4 MiB. */
export const MAX_JSON_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * A decision or entry lookup answer, which carries the decision's payload: the log accepts
 * events up to 64 MiB once inflated, base64 adds a third, so 96 MiB.
 */
export const MAX_LOOKUP_RESPONSE_BYTES = 96 * 1024 * 1024;

/** A witness's add-checkpoint answer (cosignature lines): 16 KiB, as transparency-dev's client. */
export const MAX_WITNESS_RESPONSE_BYTES = 16 * 1024;

/** The part of an error answer read for its message: 4 KiB (the rest is discarded). */
export const MAX_ERROR_RESPONSE_BYTES = 4 * 1024;
