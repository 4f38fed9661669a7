/** SHA-256 through node:crypto (OpenSSL): the server's hot path. */
import { hash } from 'node:crypto';
import type { Sha256 } from '../core/hash.js';

export const nodeSha256: Sha256 = (d) => hash('sha256', d, 'buffer');
