/**
 * opa-tlog's verifying client: verifies checkpoints (log signature, witness quorum), keeps
 * trusted state and refuses anything not proven consistent with it, proves inclusion and
 * consistency from tiles, verifies decisions and offline tlog-proof files, and audits whole
 * logs. Browser-safe: global `fetch` and the pure core only.
 *
 * Rooms: `client.ts` (the LogClient facade), `checkpoint.ts` (signature and quorum),
 * `reconcile.ts` (trusted state), `consistency.ts` (consistency proofs), `tile-proofs.ts`
 * (proofs from tiles), `lookups.ts` and `decision.ts` (decision and entry lookups),
 * `json-api.ts` (JSON API calls and shapes), `tiles.ts` and `http.ts` (fetching),
 * `tlog-proof.ts` (offline proofs), `audit*.ts` (full audit), `mirror.ts` (a verified copy of a log's tiles), `state.ts` (trusted-state
 * stores), `errors.ts` (the one error type and its codes). Only the modules below are public.
 */
export * from './audit.js';
export * from './checkpoint.js';
export * from './client.js';
export * from './decision.js';
export * from './errors.js';
export * from './http.js';
export * from './mirror.js';
export * from './state.js';
export * from './tiles.js';
export * from './tlog-proof.js';
