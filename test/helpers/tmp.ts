/**
 * The suite's one temp-dir helper: fresh directories under os.tmpdir(), each removed after the
 * test file that made it has finished (or earlier with removeTempDirs), so runs leave nothing
 * behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const dirs: string[] = [];

// This module is evaluated while vitest collects the test file that imports it (files are
// isolated), so the hook belongs to that file; after-hooks run last-registered first, so the
// file's own teardown (stopping servers that write into these directories) runs before it.
afterAll(removeTempDirs);

/** Creates a fresh directory `<tmpdir>/<prefix>XXXXXX` and registers it for removal. */
export function tempDir(prefix = 'opa-tlog-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Removes every directory tempDir created so far (idempotent). */
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // Still a mount point (a failed disk test) or busy: leave it rather than fail the exit.
    }
  }
}
