/**
 * Every server answer the client reads is capped per kind (core/response-caps.ts): a server
 * that streams an endless or oversized body is refused 'response_too_large' once the cap is
 * passed (or at once when Content-Length declares too much), never read to the end.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { LogClient } from '../../src/client/client.js';
import { isVerificationFailure, VerifyError } from '../../src/client/errors.js';
import type { FetchLike } from '../../src/client/http.js';
import {
  MAX_CHECKPOINT_RESPONSE_BYTES,
  MAX_HASH_TILE_RESPONSE_BYTES,
  MAX_JSON_RESPONSE_BYTES,
} from '../../src/core/response-caps.js';
import { type Served, serveFetch } from '../helpers/server.js';
import { BASE, TEST_SIGNER } from './fixture.js';

const CHUNK = 64 * 1024;

/** An endless body of `x` bytes; `sent()` tells how many bytes the reader pulled. */
function endless(): { body: ReadableStream<Uint8Array>; sent: () => number } {
  let sent = 0;
  const chunk = new Uint8Array(CHUNK).fill(0x78);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { body, sent: () => sent };
}

async function refusal(p: Promise<unknown>): Promise<VerifyError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(VerifyError);
    return err as VerifyError;
  }
  throw new Error('expected a refusal');
}

const served: Served[] = [];
afterEach(async () => {
  for (const s of served.splice(0)) await s.close();
});

describe('response size caps', () => {
  test('an endless /checkpoint over real HTTP is refused within the cap', async () => {
    let stream: ReturnType<typeof endless> | undefined;
    const s = await serveFetch(() => {
      stream = endless();
      return new Response(stream.body, { headers: { 'content-type': 'text/plain' } });
    });
    served.push(s);
    const c = new LogClient({ url: s.url, vkey: TEST_SIGNER.vkey });
    const e = await refusal(c.fetchCheckpoint());
    expect(e.code).toBe('response_too_large');
    expect(e.evidence.url).toBe(`${s.url}/checkpoint`);
    expect(e.message).toContain(String(MAX_CHECKPOINT_RESPONSE_BYTES));
    expect(isVerificationFailure(e.code)).toBe(false);
    // The server may have pushed a little ahead into socket buffers, never the whole stream.
    expect(stream!.sent()).toBeLessThan(MAX_CHECKPOINT_RESPONSE_BYTES + 64 * CHUNK);
  });

  test('in process: each kind is cut at its own cap (one chunk past it read, one queued)', async () => {
    let last: ReturnType<typeof endless> | undefined;
    const fetch: FetchLike = async () => {
      last = endless();
      return new Response(last.body);
    };
    const c = new LogClient({ url: BASE, vkey: TEST_SIGNER.vkey, fetch });
    const cases: [() => Promise<unknown>, number][] = [
      [() => c.fetchCheckpoint(), MAX_CHECKPOINT_RESPONSE_BYTES],
      [() => c.tiles.hashTile(0, 0, 256), MAX_HASH_TILE_RESPONSE_BYTES],
      [() => c.consistencyProof(1, 5, 'api'), MAX_JSON_RESPONSE_BYTES],
    ];
    for (const [run, cap] of cases) {
      const e = await refusal(run());
      expect(e.code).toBe('response_too_large');
      expect(last!.sent()).toBeLessThanOrEqual(cap + 2 * CHUNK);
    }
  });

  test('a declared Content-Length above the cap is refused before reading the body', async () => {
    let stream: ReturnType<typeof endless> | undefined;
    const fetch: FetchLike = async () => {
      stream = endless();
      return new Response(stream.body, { headers: { 'content-length': String(1 << 30) } });
    };
    const c = new LogClient({ url: BASE, vkey: TEST_SIGNER.vkey, fetch });
    expect((await refusal(c.tiles.entryBundle(0, 256))).code).toBe('response_too_large');
    expect(stream!.sent()).toBeLessThanOrEqual(CHUNK);
  });

  test('an endless error answer is not read past a few KiB: the failure is still network', async () => {
    let stream: ReturnType<typeof endless> | undefined;
    const fetch: FetchLike = async () => {
      stream = endless();
      return new Response(stream.body, { status: 500 });
    };
    const c = new LogClient({ url: BASE, vkey: TEST_SIGNER.vkey, fetch });
    const e = await refusal(c.fetchCheckpoint());
    expect(e.code).toBe('network');
    expect(e.evidence.status).toBe(500);
    expect(stream!.sent()).toBeLessThanOrEqual(2 * CHUNK);
  });
});
