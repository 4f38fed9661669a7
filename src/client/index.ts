/**
 * opa-tlog's verifying client: verifies checkpoints (log signature, witness quorum), keeps
 * trusted state and refuses anything not proven consistent with it, proves inclusion and
 * consistency from tiles, verifies decisions and offline tlog-proof files, and audits whole
 * logs. Browser-safe: global `fetch` and the pure core only.
 */
export * from './audit.js';
export * from './checkpoint.js';
export * from './client.js';
export * from './decision.js';
export * from './errors.js';
export * from './http.js';
export * from './state.js';
export * from './tiles.js';
export * from './tlog-proof.js';
