/**
 * The pure core of opa-tlog: Merkle math and proofs, C2SP tiles and entry bundles, signed notes,
 * checkpoints, cosignatures, witness policies, deterministic CBOR, the entry format, and the
 * validators they share (check.ts). No I/O, no Node-only APIs: the same code runs in the
 * server, the CLI and a browser.
 */
export * from './bundle.js';
export * from './bytes.js';
export * from './cbor.js';
export * from './check.js';
export * from './checkpoint.js';
export * from './cosignature.js';
export * from './entry.js';
export * from './hash.js';
export * from './merkle.js';
export * from './note.js';
export * from './policy.js';
export * from './tiles.js';
