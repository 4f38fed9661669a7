/**
 * Process-level memory settings of `opa-tlog serve`, applied once before the log opens (so the
 * writer thread, whose heap the same V8 flags govern, starts under them too).
 */
import { setFlagsFromString } from 'node:v8';

/**
 * How far, in percent over what survived the last full collection, V8 lets a heap grow before
 * the next one. V8's own factor rises towards 4x when collections are cheap next to the work,
 * which under full ingest let the main thread's old space reach 60-70 MiB and the writer
 * thread's 35-40 MiB over ~15 MiB live each; 1.5x keeps them near 27 and 19 MiB (~70 MiB less
 * resident) for a few percent of ingest (spec/storage.md "Memory").
 */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Sets V8's heap growing factor to {@link HEAP_GROWING_PERCENT} unless node was given
 * `--heap-growing-percent` itself on its command line (a deployer's choice wins; 0 is V8's
 * own dynamic factor; node refuses the flag in NODE_OPTIONS). Returns whether it set it. The
 * flag is read at every collection, so setting it after start takes effect for both threads'
 * heaps.
 */
export function applyHeapSettings(execArgv: readonly string[] = process.execArgv): boolean {
  const given = execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
  if (given) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}

/**
 * Node flags `npm start` runs the server with (package.json; a test keeps the two equal) and
 * the bench measures it with. `--max-semi-space-size=8` halves the main thread's young
 * generation (V8's default for it is 2 x 16 MiB). Unlike the growing factor it cannot be set
 * from inside: V8 sizes a heap when it is created (setFlagsFromString changes nothing for the
 * running main thread), hence a flag. Measured: the reads after an ingest at 10M leaves
 * peaked at 267 MiB instead of 293 (same log copy, same load); a fresh log's ingest at 195-196
 * MiB instead of 207-212, at the same rate (c=8, alternated: 15.8k, 15.1k, 14.5k decisions/s
 * against 14.5k, 16.9k, 13.9k). A server started as `node dist/cli/main.js serve` without it
 * works the same with ~16 MiB more resident.
 *
 * Not `--single-threaded-gc` (measured in session 6): without V8's four helper threads the
 * server spent ~5-8 % less CPU per decision under full ingest on this 2-core machine (c=8,
 * alternated: 60-62 us against 63-68), but the main heap grew behind its collections during
 * reads: VmHWM at 10M leaves after ingest and reads 312-326 MiB against 285-293, over the 300
 * MiB budget. `--v8-pool-size=1` (one helper) was no better than four. Measured again in
 * session 10, after the heaps shrank: still ~9 % less CPU per decision (c=8, best of 4
 * alternated runs: 58.8 against 64.8 us) and the same ingest at 10M, but identity-bundle and
 * entry reads after an ingest at 10M peaked at 285-291 MiB against 237 (the inflated bundles
 * are freed only by collections that now come later), leaving the budget no margin: still not.
 */
export const SERVE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
