/**
 * Test fixtures for the verifying client: in-process logs (optionally diverging forks under one
 * key), fetch functions
 * that route to hono apps, and a tampering wrapper that makes an honest server lie.
 */
import { join } from 'node:path';
import type { FetchLike } from '../../src/client/http.js';
import type { CborValue } from '../../src/core/cbor.js';
import { encodeEntry, makeCommitment } from '../../src/core/entry.js';
import { leafHash } from '../../src/core/merkle.js';
import type { Ed25519NoteSigner } from '../../src/core/note.js';
import { newEd25519Verifier } from '../../src/core/note.js';
import { createApp, DEFAULT_APP_OPTIONS } from '../../src/http/app.js';
import type { TransparencyLog } from '../../src/log/log.js';
import type { AppendItem } from '../../src/store/log-store.js';
import { openTestLog, TEST_SIGNER, tempDir } from '../helpers/log.js';

/** Base URL used for in-process fetches. */
export const BASE = 'http://log.test';

/** A deterministic decision leaf: fixed salt and recv, so two logs can share a prefix. */
export function decisionItem(i: number, tag = ''): AppendItem {
  const event: CborValue = {
    decision_id: `d${i}${tag}`,
    path: 'authz/allow',
    result: i % 2 === 0,
    input: { user: `u${i}` },
  };
  const { salt, payload, commitment } = makeCommitment(event, {
    salt: new Uint8Array(32).fill((i % 250) + 1),
  });
  const entry = encodeEntry({
    v: 1,
    kind: 'opa.decision',
    src: 'svc',
    id: `d${i}${tag}`,
    recv: 1_700_000_000_000 + i,
    c: commitment,
  });
  return { entry, leafHash: leafHash(entry), salt, payload, source: 'svc', id: `d${i}${tag}` };
}

/** A log in a temp dir holding decisions d0..d(n-1) (ids suffixed with `tag`), checkpoint signed. */
export async function makeLog(
  n: number,
  opts: { tag?: string; signer?: Ed25519NoteSigner; from?: number } = {},
): Promise<TransparencyLog> {
  const over = opts.signer ? { signer: opts.signer, verifier: newEd25519Verifier(opts.signer.vkey) } : {};
  const log = await openTestLog(join(tempDir('opa-tlog-client-'), 'log.db'), over);
  await grow(log, opts.from ?? 0, n, opts.tag ?? '');
  return log;
}

/** Appends decisions d(from)..d(to-1) and signs a checkpoint. */
export async function grow(log: TransparencyLog, from: number, to: number, tag = ''): Promise<void> {
  if (to > from)
    await log.appendItems(Array.from({ length: to - from }, (_, k) => decisionItem(from + k, tag)));
  await log.signNow();
}

/** A request handler serving the log's real app. */
export function logHandler(log: TransparencyLog): (req: Request) => Promise<Response> {
  const app = createApp(log, DEFAULT_APP_OPTIONS);
  return async (req) => app.fetch(req);
}

/** A fetch that sends requests for BASE to the log in-process. */
export function logFetch(log: TransparencyLog): FetchLike {
  const handle = logHandler(log);
  return (input, init) => handle(new Request(input, init));
}

/** Rewrites responses: `fn` gets the path (with query) and the honest response. */
export type Tamper = (path: string, res: Response) => Promise<Response | undefined> | Response | undefined;

/** A lying server: `fetch` whose answers pass through `tamper` (undefined = unchanged). */
export function lying(fetch: FetchLike, tamper: Tamper): FetchLike {
  return async (input, init) => {
    const res = await fetch(input, init);
    const u = new URL(input);
    return (await tamper(u.pathname.slice(1) + u.search, res)) ?? res;
  };
}

/** A response with `body` and the same status. */
export function bytesResponse(body: Uint8Array | string, status = 200): Response {
  return new Response(typeof body === 'string' ? body : (body as Uint8Array<ArrayBuffer>), { status });
}

/** Edits the JSON body of a response. */
export async function editJson(
  res: Response,
  edit: (o: Record<string, unknown>) => void | Promise<void>,
): Promise<Response> {
  const o = (await res.json()) as Record<string, unknown>;
  await edit(o);
  return new Response(JSON.stringify(o), {
    status: res.status,
    headers: { 'content-type': 'application/json' },
  });
}

export { TEST_SIGNER };
