/** SHA-256 through node:crypto (OpenSSL): the server's hot path. */
import { hash } from 'node:crypto';
import { ByteSlab } from '../core/bytes.js';
import type { Sha256 } from '../core/hash.js';

/**
 * Digests, 32 bytes each, handed out as Buffer views of 4 KiB slabs. Asking node:crypto for a
 * 'buffer' digest allocates an off-heap buffer per call, ~1.7 of the ~2 us a 65-byte hash
 * took; a 'binary' (latin1) digest is a 32-character string in the young generation, copied
 * here byte by byte: 0.3 us in all (measured: bench/README.md, session 6). Buffers, as before,
 * so what a digest is compared with or stored next to keeps its type; 4 KiB keeps what one
 * digest kept for long can pin small.
 */
const slab = new ByteSlab(4096, (n) => Buffer.allocUnsafeSlow(n));

export const nodeSha256: Sha256 = (d) => {
  const s = hash('sha256', d, 'binary');
  const out = slab.alloc(32);
  for (let i = 0; i < 32; i++) out[i] = s.charCodeAt(i);
  return out;
};
