/**
 * Standard base64 through node's Buffer, for hot JSON answers (a proof's ~26 hashes): ~2x
 * faster than core's portable encoder (bench/README.md, session 11). Core keeps its own, which
 * runs in browsers; the edges run on Node only.
 */
export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
