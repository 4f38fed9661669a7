/**
 * Event tags: 32-bit digests of a leaf's real (source, id) and of its payload, keyed with a
 * secret drawn at start, kept in memory only (the dedup window holds them per leaf). They let
 * the commit's dedup probe tell candidates under one id key apart with an integer compare, so
 * a key held by many leaves (one decision id sent with many contents, or from many sources)
 * costs a read per leaf once, not a read per leaf per probe. A tag is a hint: the probe confirms
 * the one leaf it picks against the stored entry and salt, so a collision costs a slower probe,
 * never a wrong answer. The secret keeps an uploader from making collisions on purpose, and
 * keeps the tags from being an unsalted digest of an event (they never reach a file anyway).
 */
import type { Sha256 } from '../core/hash.js';

/** The tag of "matches nothing" (a leaf whose ids or payload were erased). */
export const NEVER_TAG = 0xffffffff;

const utf8 = new TextEncoder();

export class EventTags {
  readonly #sha: Sha256;
  readonly #secret = crypto.getRandomValues(new Uint8Array(16));

  constructor(sha: Sha256) {
    this.#sha = sha;
  }

  /** Tag of a real (source, id); undefined (erased ids) gives {@link NEVER_TAG}. */
  ids(ids: { src: string; id: string } | undefined): number {
    return ids ? this.#tag(0, utf8.encode(JSON.stringify([ids.src, ids.id]))) : NEVER_TAG;
  }

  /** Tag of a payload; undefined (erased, or none) gives {@link NEVER_TAG}. */
  content(payload: Uint8Array | undefined): number {
    return payload ? this.#tag(1, payload) : NEVER_TAG;
  }

  /** Low 32 bits of SHA-256(secret ‖ domain ‖ bytes), never 0 (unset) or NEVER_TAG. */
  #tag(domain: number, bytes: Uint8Array): number {
    const m = new Uint8Array(17 + bytes.length);
    m.set(this.#secret);
    m[16] = domain;
    m.set(bytes, 17);
    const d = this.#sha(m);
    const t = (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0;
    return t === 0 || t === NEVER_TAG ? 1 : t;
  }
}
