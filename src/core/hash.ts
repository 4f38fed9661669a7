/**
 * SHA-256, injectable. The pure core hashes with @noble/hashes so that it runs unchanged in a
 * browser; a server may pass a faster native implementation (node:crypto) wherever a function
 * takes a `Sha256`. Both must return the 32-byte digest of exactly the given bytes.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

/**
 * A SHA-256 implementation: the 32-byte digest of `data`. It must neither keep nor change
 * `data` (callers hash views of reused scratch buffers), and may return a view that shares
 * its buffer with other digests (never transfer or reuse the digest's `.buffer`).
 */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** The default, browser-safe SHA-256 (@noble/hashes). */
export const sha256: Sha256 = (data) => nobleSha256(data);

/** Length in bytes of every hash in the log. */
export const HASH_SIZE = 32;
