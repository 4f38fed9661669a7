/**
 * Worker of the log-cache generator: builds the leaves of events [start, start+count) with the
 * log's own leaf builder (src/log/leaf.ts, as TransparencyLog.appendEvents does for an OPA
 * upload), so the main thread only commits them through TransparencyLog.appendItems.
 */
import { parentPort } from 'node:worker_threads';
import type { CborObject } from '../src/core/cbor.js';
import { eventLeaf, opaDecisionInput } from '../src/log/leaf.js';
import type { AppendItem } from '../src/store/log-store.js';
import { nodeSha256 } from '../src/store/node-hash.js';
import { makeEvent } from './opa.js';

export interface GenRequest {
  readonly start: number;
  readonly count: number;
  readonly recv: number;
}

parentPort!.on('message', (req: GenRequest) => {
  const items: AppendItem[] = new Array(req.count);
  for (let k = 0; k < req.count; k++) {
    items[k] = eventLeaf(
      opaDecisionInput(makeEvent(req.start + k) as CborObject, nodeSha256),
      req.recv,
      nodeSha256,
    );
  }
  parentPort!.postMessage(items);
});
