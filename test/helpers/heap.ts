/** Heap measurement for tests that a hot path holds no memory beyond its bounded caches. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Bytes the V8 heap holds after `run` beyond what it held before, each side measured after a
 * full collection (garbage excluded): what `run` left reachable.
 */
export async function heapGrowth(run: () => unknown): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  await run();
  gc();
  return process.memoryUsage().heapUsed - before;
}
