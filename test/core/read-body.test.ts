/** The capped body reader: declared and streamed sizes past the cap are refused, nothing more read. */
import { describe, expect, test } from 'vitest';
import { BodyTooLargeError, readCappedBytes } from '../../src/core/read-body.js';

function chunked(chunks: Uint8Array[]): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++]!);
      else c.close();
    },
  });
  return { stream, pulled: () => i };
}

describe('readCappedBytes', () => {
  test('reads a body up to the cap, whole', async () => {
    const body = new Uint8Array(100).fill(7);
    expect(await readCappedBytes(new Request('http://x/', { method: 'POST', body }), 100)).toEqual(body);
    expect(await readCappedBytes(new Response(null), 10)).toEqual(new Uint8Array(0));
  });

  test('joins chunks', async () => {
    const { stream } = chunked([new Uint8Array([1, 2]), new Uint8Array([3])]);
    const got = await readCappedBytes({ headers: new Headers(), body: stream }, 3);
    expect(got).toEqual(new Uint8Array([1, 2, 3]));
  });

  test('a declared Content-Length past the cap is refused before reading', async () => {
    const { stream } = chunked([new Uint8Array(1)]);
    const headers = new Headers({ 'content-length': '11' });
    const err = await readCappedBytes({ headers, body: stream }, 10, 'request body').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BodyTooLargeError);
    expect((err as BodyTooLargeError).code).toBe('body_too_large');
    expect((err as BodyTooLargeError).maxBytes).toBe(10);
    expect((err as Error).message).toBe('request body exceeds 10 bytes');
    expect(stream.locked).toBe(false); // never started reading
  });

  test('a stream without Content-Length is cut at the first chunk past the cap', async () => {
    const { stream, pulled } = chunked([new Uint8Array(6), new Uint8Array(6), new Uint8Array(6)]);
    await expect(readCappedBytes({ headers: new Headers(), body: stream }, 10)).rejects.toThrow(
      new BodyTooLargeError(10, 'body'),
    );
    expect(pulled()).toBeLessThan(3);
  });
});
