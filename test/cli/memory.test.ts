/** The serve command's process-level heap setting (src/cli/memory.ts). */
import { expect, test } from 'vitest';
import { applyHeapSettings, HEAP_GROWING_PERCENT } from '../../src/cli/memory.js';

test('sets the heap growing factor unless node was given one', () => {
  expect(HEAP_GROWING_PERCENT).toBeGreaterThan(0);
  expect(applyHeapSettings(['--heap-growing-percent=80'])).toBe(false);
  expect(applyHeapSettings(['--max-old-space-size=512', '--heap_growing_percent', '0'])).toBe(false);
  expect(applyHeapSettings(['--heap-growing-percentage-x'])).toBe(true);
  expect(applyHeapSettings([])).toBe(true);
});
