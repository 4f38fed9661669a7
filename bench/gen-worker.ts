/**
 * Worker of the log-cache generator: builds the leaves of events [start, start+count) exactly
 * as TransparencyLog.appendEvents does for an OPA upload (derive source/id/ts/flags, salted
 * commitment to the deterministic CBOR payload, entry, leaf hash, search metadata), so the
 * main thread only commits them through TransparencyLog.appendItems.
 */
import { parentPort } from 'node:worker_threads';
import type { CborObject } from '../src/core/cbor.js';
import { encodeEntry, makeCommitment } from '../src/core/entry.js';
import { leafHash } from '../src/core/merkle.js';
import { deriveOpaDecision, opaDecisionMeta } from '../src/core/opa.js';
import { nodeSha256 } from '../src/log/log.js';
import type { AppendItem } from '../src/store/log-store.js';
import { makeEvent } from './opa.js';

export interface GenRequest {
  readonly start: number;
  readonly count: number;
  readonly recv: number;
}

parentPort!.on('message', (req: GenRequest) => {
  const items: AppendItem[] = new Array(req.count);
  for (let k = 0; k < req.count; k++) {
    const e = makeEvent(req.start + k) as CborObject;
    const d = deriveOpaDecision(e, nodeSha256);
    const m = opaDecisionMeta(e);
    const { salt, payload, commitment } = makeCommitment(d.event, { sha: nodeSha256 });
    const entry = encodeEntry({
      v: 1,
      kind: d.kind,
      src: d.source,
      id: d.id,
      ...(d.ts !== undefined ? { ts: d.ts } : {}),
      recv: req.recv,
      c: commitment,
      ...(d.flags.length > 0 ? { flags: d.flags } : {}),
    });
    items[k] = {
      entry,
      leafHash: leafHash(entry, nodeSha256),
      salt,
      payload,
      source: d.source,
      id: d.id,
      meta: {
        kind: d.kind,
        source: d.source,
        recvMs: req.recv,
        tsMs: m.tsMs,
        path: m.path,
        result: m.result,
        revisions: m.bundleRevisions,
      },
    };
  }
  parentPort!.postMessage(items);
});
