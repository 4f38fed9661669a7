/** Append items that store-level tests build by hand. */
import { encodeEntry } from '../../src/core/entry.js';
import type { AppendItem } from '../../src/store/log-storage.js';

/** The erasure entry (reason "r") that erases leaf `target`, with its own dedup id. */
export const erasureItem = (target: number): AppendItem => ({
  entry: encodeEntry({
    v: 1,
    kind: 'erasure',
    src: 'opa-tlog',
    id: `e${target}`,
    recv: 1,
    erases: target,
    reason: 'r',
  }),
  source: 'opa-tlog',
  id: `e${target}`,
  erase: { index: target, reason: 'r' },
});
