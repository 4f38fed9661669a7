/**
 * The wire format of C2SP tlog-witness `add-checkpoint` (c2sp.org/tlog-witness), shared by the
 * log-side pusher (src/witness/pusher.ts), the witness server (src/witness/witness.ts) and the
 * monitors: request bodies, the `text/x.tlog.size` conflict body, and the monitoring path of a
 * log origin. Pure: no I/O, browser-safe.
 */
import { fromBase64, parseCanonicalDecimal, toBase64, toHex, utf8 } from './bytes.js';
import { sha256 } from './hash.js';

/** Content type of a 409 Conflict body carrying the witness's latest cosigned size. */
export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size';

/** Most consistency-proof lines a client may send (tlog-witness: "MUST NOT send more than 63"). */
export const MAX_PROOF_LINES = 63;

/** Largest add-checkpoint request body the witness accepts (Sunlight's cap: 128 KiB). */
export const MAX_ADD_CHECKPOINT_BODY = 128 * 1024;

/** A parsed add-checkpoint request: the old size, the proof hashes, the raw checkpoint note. */
export interface AddCheckpointRequest {
  /** The `old <size>` value: the size the client believes the witness last cosigned. */
  oldSize: number;
  /** RFC 6962 PROOF(oldSize, checkpoint size), 32-byte hashes. */
  proof: Uint8Array[];
  /** The signed checkpoint note, verbatim (text, blank line, signature lines). */
  note: string;
}

/** Why {@link parseAddCheckpointRequest} refused a body (always answered with 400). */
export class AddCheckpointSyntaxError extends Error {
  override readonly name = 'AddCheckpointSyntaxError';
}

/**
 * The request body `old <oldSize>\n<base64 hash>\n...\n\n<note>`. Refuses (RangeError) a
 * non-canonical size, more than {@link MAX_PROOF_LINES} hashes, hashes that are not 32 bytes,
 * and a note that does not end with a newline.
 */
export function formatAddCheckpointRequest(
  oldSize: number,
  proof: readonly Uint8Array[],
  note: string,
): string {
  if (!Number.isSafeInteger(oldSize) || oldSize < 0) throw new RangeError(`invalid old size ${oldSize}`);
  if (proof.length > MAX_PROOF_LINES) throw new RangeError(`proof has ${proof.length} > 63 hashes`);
  for (const h of proof) if (h.length !== 32) throw new RangeError('proof hashes must be 32 bytes');
  if (!note.endsWith('\n')) throw new RangeError('note must end with a newline');
  return `old ${oldSize}\n${proof.map((h) => `${toBase64(h)}\n`).join('')}\n${note}`;
}

/**
 * Parses an add-checkpoint request body as litewitness and Sunlight do: the body is cut at the
 * FIRST "\n\n"; before it, the line `old <canonical decimal>` and 0..63 lines of strict base64
 * 32-byte hashes; after it, the checkpoint note (returned verbatim, not parsed here). Throws
 * {@link AddCheckpointSyntaxError} on any deviation (the witness answers 400).
 */
export function parseAddCheckpointRequest(body: string): AddCheckpointRequest {
  const cut = body.indexOf('\n\n');
  if (cut < 0) throw new AddCheckpointSyntaxError('request has no empty line before the checkpoint');
  const header = body.slice(0, cut).split('\n');
  const note = body.slice(cut + 2);
  const first = header[0]!;
  if (!first.startsWith('old ')) throw new AddCheckpointSyntaxError('first line must be "old <size>"');
  const oldSize = parseCanonicalDecimal(first.slice(4));
  if (oldSize === undefined) {
    throw new AddCheckpointSyntaxError('old size is not a canonical decimal (or exceeds 2^53-1)');
  }
  const lines = header.slice(1);
  if (lines.length > MAX_PROOF_LINES) {
    throw new AddCheckpointSyntaxError(`more than ${MAX_PROOF_LINES} consistency proof lines`);
  }
  const proof = lines.map((l, i) => {
    const h = fromBase64(l);
    if (h === undefined || h.length !== 32) {
      throw new AddCheckpointSyntaxError(`proof line ${i + 1} is not a base64 32-byte hash`);
    }
    return h;
  });
  if (note.length === 0) throw new AddCheckpointSyntaxError('request has no checkpoint');
  return { oldSize, proof, note };
}

/** The 409 body: the witness's latest cosigned size in decimal and a newline. */
export function formatTlogSize(size: number): string {
  return `${size}\n`;
}

/** Parses a `text/x.tlog.size` body (`<canonical decimal>\n`); undefined if malformed. */
export function parseTlogSize(body: string): number | undefined {
  if (!body.endsWith('\n')) return undefined;
  return parseCanonicalDecimal(body.slice(0, -1));
}

/** Lowercase hex SHA-256 of the origin line: the path element of a witness's monitoring API. */
export function originHash(origin: string): string {
  return toHex(sha256(utf8(origin)));
}

/** `<prefix>/<originHash(origin)>/checkpoint`, the witness monitoring URL of a log. */
export function witnessCheckpointUrl(prefix: string, origin: string): string {
  return `${prefix.replace(/\/+$/, '')}/${originHash(origin)}/checkpoint`;
}

/** `<prefix>/add-checkpoint`, the witness submission URL. */
export function addCheckpointUrl(prefix: string): string {
  return `${prefix.replace(/\/+$/, '')}/add-checkpoint`;
}
