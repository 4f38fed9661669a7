/**
 * JSON proof API: inclusion and consistency proofs against signed tree sizes. Proofs are
 * built from the stored tiles; clients should check them (they prove nothing by themselves).
 *
 *   GET /v1/proof/inclusion?index=I[&tree_size=N]      (or leaf_hash=<base64 or hex> instead of index)
 *   GET /v1/proof/consistency?from=M[&to=N]
 *
 * tree_size / to default to the latest checkpoint's size and may be any size up to it.
 */
import { Hono } from 'hono';
import { fromBase64, fromHex, parseCanonicalDecimal } from '../core/bytes.js';
import type { TransparencyLog } from '../log/log.js';
import { base64 } from './base64.js';
import { HttpError } from './errors.js';

function sizeParam(value: string | undefined, name: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new HttpError(400, 'missing_parameter', `${name} is required`);
    return fallback;
  }
  const n = parseCanonicalDecimal(value);
  if (n === undefined)
    throw new HttpError(400, 'invalid_parameter', `${name} must be a canonical decimal integer`);
  return n;
}

/** The query parameters of an inclusion proof request (each undefined when absent). */
export interface InclusionQuery {
  readonly index: string | undefined;
  readonly tree_size: string | undefined;
  readonly leaf_hash: string | undefined;
}

/**
 * The JSON answer to GET /v1/proof/inclusion; refusals are thrown as HttpError. Shared by the
 * hono route and the node:http fast path (fast-reads.ts).
 */
export async function inclusionAnswer(log: TransparencyLog, q: InclusionQuery): Promise<object> {
  const latest = log.latest();
  const size = sizeParam(q.tree_size, 'tree_size', latest.size);
  if (size > latest.size) {
    throw new HttpError(
      400,
      'tree_size_too_large',
      `tree_size ${size} exceeds the latest checkpoint ${latest.size}`,
    );
  }
  if ((q.index === undefined) === (q.leaf_hash === undefined)) {
    throw new HttpError(
      400,
      q.index === undefined ? 'missing_parameter' : 'invalid_parameter',
      'give exactly one of index and leaf_hash',
    );
  }
  const index =
    q.leaf_hash !== undefined ? await indexOfLeaf(log, q.leaf_hash, size) : sizeParam(q.index, 'index');
  if (index >= size)
    throw new HttpError(400, 'index_out_of_range', `index ${index} is not below tree_size ${size}`);
  const { leafHash, proof } = await log.inclusion(index, size);
  return {
    index,
    tree_size: size,
    leaf_hash: base64(leafHash),
    root_hash: base64(await log.rootAt(size)),
    proof: proof.map(base64),
    checkpoint: size === latest.size ? latest.note : ((await log.checkpointAt(size))?.note ?? null),
  };
}

/** The index of the first leaf below `size` whose hash is `leafRaw` (base64 or hex). */
async function indexOfLeaf(log: TransparencyLog, leafRaw: string, size: number): Promise<number> {
  const leaf = /^[0-9a-fA-F]{64}$/.test(leafRaw) ? fromHex(leafRaw) : fromBase64(leafRaw);
  if (leaf?.length !== 32) {
    throw new HttpError(
      400,
      'invalid_parameter',
      'leaf_hash must be 32 bytes, base64 (standard, padded) or hex',
    );
  }
  const found = await log.findLeaf(leaf, size);
  if (found === undefined)
    throw new HttpError(404, 'leaf_not_found', `no leaf with that hash below tree_size ${size}`);
  return found;
}

export function proofRoutes(log: TransparencyLog): Hono {
  const app = new Hono();

  app.get('/v1/proof/inclusion', async (c) =>
    c.json(
      await inclusionAnswer(log, {
        index: c.req.query('index'),
        tree_size: c.req.query('tree_size'),
        leaf_hash: c.req.query('leaf_hash'),
      }),
    ),
  );

  app.get('/v1/proof/consistency', async (c) => {
    const latest = log.latest();
    const from = sizeParam(c.req.query('from'), 'from');
    const to = sizeParam(c.req.query('to'), 'to', latest.size);
    if (to > latest.size)
      throw new HttpError(
        400,
        'tree_size_too_large',
        `to ${to} exceeds the latest checkpoint ${latest.size}`,
      );
    if (from > to) throw new HttpError(400, 'invalid_parameter', `from ${from} exceeds to ${to}`);
    return c.json({
      from,
      to,
      from_root: base64(await log.rootAt(from)),
      to_root: base64(await log.rootAt(to)),
      proof: (await log.consistencyProof(from, to)).map(base64),
    });
  });

  return app;
}
