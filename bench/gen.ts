/** Generates (or checks) the cached growth logs alone: node .bench-build/bench/gen.js SIZE... */
import { ensureLogs } from './logcache.js';

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => Number.isSafeInteger(n) && n > 0);
for (const l of await ensureLogs(sizes)) console.log(`${l.size}: ${l.dir}`);
