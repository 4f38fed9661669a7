/** Runs every benchmark: `npm run bench` (full) or `npm run bench:quick`. */
import { run as append } from './append.js';

await append();
