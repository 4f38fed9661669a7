/**
 * Reading a whole request or response body with a hard cap, counting bytes as they stream in,
 * so a peer that lies about (or omits) Content-Length cannot make us buffer more than the cap.
 * Browser-safe (Web Streams only): the HTTP server, the witness server and the witness pusher
 * share it, and a browser client can too.
 */
import { concatBytes } from './bytes.js';

/** Thrown by {@link readCappedBytes} when a body is, or declares to be, larger than the cap. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  /** Stable code of this condition (HTTP servers answer it with 413). */
  readonly code = 'body_too_large' as const;

  constructor(
    /** The cap that was exceeded, in bytes. */
    readonly maxBytes: number,
    what: string,
  ) {
    super(`${what} exceeds ${maxBytes} bytes`);
  }
}

/** What a capped read needs of a `Request` or `Response`. */
export interface BodySource {
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
}

/**
 * Reads the whole body of `source` as bytes (empty if it has none). Throws
 * {@link BodyTooLargeError} (message `<what> exceeds <maxBytes> bytes`) as soon as the declared
 * Content-Length or the bytes actually received pass `maxBytes`, cancelling the stream: at most
 * `maxBytes` plus one chunk is ever held. `onChunk` sees each chunk as it arrives (e.g. to
 * pre-check it) and is awaited; what it throws stops the read and is thrown.
 */
export async function readCappedBytes(
  source: BodySource,
  maxBytes: number,
  what = 'body',
  onChunk?: (chunk: Uint8Array) => void | Promise<void>,
): Promise<Uint8Array> {
  const declared = source.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw new BodyTooLargeError(maxBytes, what);
  if (!source.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = source.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw new BodyTooLargeError(maxBytes, what);
    }
    if (onChunk) {
      try {
        await onChunk(value);
      } catch (err) {
        reader.releaseLock(); // not cancelled: the server may still drain what the peer sends
        throw err;
      }
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(...chunks);
}
