/** The serve command's process-level heap setting (src/cli/memory.ts). */
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { applyHeapSettings, HEAP_GROWING_PERCENT, SERVE_NODE_FLAGS } from '../../src/cli/memory.js';

test('sets the heap growing factor unless node was given one', () => {
  expect(HEAP_GROWING_PERCENT).toBeGreaterThan(0);
  expect(applyHeapSettings(['--heap-growing-percent=80'])).toBe(false);
  expect(applyHeapSettings(['--max-old-space-size=512', '--heap_growing_percent', '0'])).toBe(false);
  expect(applyHeapSettings(['--heap-growing-percentage-x'])).toBe(true);
  expect(applyHeapSettings([])).toBe(true);
});

test('npm start runs node with exactly the serve flags the bench measures', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const m = /(?:^|&& )node (.*?)dist\/cli\/main\.js serve$/.exec(pkg.scripts.start ?? '');
  expect(m?.[1]?.trim().split(/\s+/).filter(Boolean)).toEqual([...SERVE_NODE_FLAGS]);
});
