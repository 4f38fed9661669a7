/**
 * Reading request bodies with a hard cap (the capped reader is core/read-body.ts, shared with
 * the witness), answered as HTTP errors: 413 past the cap, 400 on invalid UTF-8. JSON bodies
 * of every route go through one parser (core/json.ts) with limits applied while it reads, and
 * large ones are parsed in slices with the event loop free in between.
 */
import { isUtf8 } from 'node:buffer';
import { createGunzip } from 'node:zlib';
import type { CborValue } from '../core/cbor.js';
import {
  DEFAULT_JSON_LIMITS,
  JSON_SLICE_CHARS,
  JsonError,
  type JsonErrorCode,
  type JsonLimits,
  nativeParseCounted,
  parseJson,
  parseJsonSteps,
} from '../core/json.js';
import type { JsonByteGuard, PieceFacts } from '../core/json-guard.js';
import { BodyTooLargeError, readCappedBytes } from '../core/read-body.js';
import { HttpError } from './errors.js';

/**
 * Reads the whole body as bytes; 413 past `maxBytes` (see core/read-body.ts). `onChunk` sees
 * each chunk as it arrives; what it throws stops the read and is thrown.
 */
export async function readBodyBytes(
  req: Request,
  maxBytes: number,
  onChunk?: (chunk: Uint8Array) => void | Promise<void>,
): Promise<Uint8Array> {
  try {
    return await readCappedBytes(req, maxBytes, 'request body', onChunk);
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw new HttpError(413, err.code, err.message);
    throw err;
  }
}

/**
 * Strict UTF-8 decoding (400 invalid_utf8 otherwise), as TextDecoder('utf-8', {fatal: true})
 * decodes (a leading BOM is dropped), but into one flat string: native validation, then one
 * native decode. (A large text built from decoded slices is a rope that V8 flattens on first
 * access, in one step of up to a second for 64 MiB: that stalled the event loop.)
 */
function utf8(bytes: Uint8Array, what: string): string {
  return utf8Text(checkedUtf8(bytes, what));
}

/** `bytes`, refused (400 invalid_utf8) unless they are valid UTF-8. */
function checkedUtf8(bytes: Uint8Array, what: string): Uint8Array {
  if (!isUtf8(bytes)) throw new HttpError(400, 'invalid_utf8', `${what} is not valid UTF-8`);
  return bytes;
}

/** The text of valid UTF-8 bytes [start, end), without a leading BOM if it starts the body. */
function utf8Text(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8', start, end);
  return start === 0 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Reads the whole body as strict UTF-8 text; 400 on invalid UTF-8, 413 past `maxBytes`. */
export async function readBody(req: Request, maxBytes: number): Promise<string> {
  return utf8(await readBodyBytes(req, maxBytes), 'request body');
}

/**
 * Reads a body as its Content-Encoding says (gzip, x-gzip or identity; 415
 * `unsupported_encoding` for any other), inflating at most `maxInflatedBytes` (413
 * `decompressed_too_large`; a body labelled gzip that is not gzip is 400 `invalid_gzip`, never
 * read as plain text), then decodes strict UTF-8. 413 `body_too_large` past `maxBytes` as sent.
 * With a `guard`, every byte (inflated as it streams out of zlib) is pre-checked against the
 * JSON limits first, and the guard's JsonError is thrown as soon as one is passed. `reserve`
 * is told of every chunk of text as it is kept (inflated, or as received when the body is not
 * compressed); while the promise it may return is pending, reading and inflating pause (a
 * memory budget that has no room yet).
 */
export async function readEncodedText(
  req: Request,
  maxBytes: number,
  maxInflatedBytes: number,
  guard?: JsonByteGuard,
  reserve?: Reserve,
): Promise<string> {
  return utf8Text(await readEncodedBytes(req, maxBytes, maxInflatedBytes, guard, reserve));
}

/**
 * {@link readEncodedText}, but the valid UTF-8 bytes rather than their text (decode them
 * with {@link bodyText}, or parse them with {@link parseJsonPieces}).
 */
export async function readEncodedBytes(
  req: Request,
  maxBytes: number,
  maxInflatedBytes: number,
  guard?: JsonByteGuard,
  reserve?: Reserve,
): Promise<Uint8Array> {
  const enc = (req.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (enc !== 'identity' && enc !== 'gzip' && enc !== 'x-gzip' && enc !== '') {
    throw new HttpError(
      415,
      'unsupported_encoding',
      `Content-Encoding ${enc} is not supported (use gzip or identity)`,
    );
  }
  const gzip = enc === 'gzip' || enc === 'x-gzip';
  // A plain body is pre-checked as it arrives: a refusal needs no copy of the whole body.
  const body = await readBodyBytes(req, maxBytes, gzip ? undefined : plainChunks(guard, reserve));
  if (gzip) return checkedUtf8(await inflate(body, maxInflatedBytes, guard, reserve), 'body');
  if (body.length > maxInflatedBytes) {
    throw new HttpError(413, 'body_too_large', `body exceeds ${maxInflatedBytes} bytes`);
  }
  return checkedUtf8(body, 'body');
}

/**
 * A piece's value from JSON.parse alone, when that is exactly what the exact parser would give:
 * no number literal JSON.parse could round, no more keys in the piece than any object may hold,
 * not more bytes than a string may hold (so no string can pass its limit), and as many keys
 * in the value as were written (none dropped as a duplicate). Depth and number lengths were
 * the guard's to check, on the same bytes. Undefined otherwise (the exact parser decides):
 * this skips its scan pass, ~2 of the ~4 us per decision the parse took.
 */
function nativePiece(text: string, facts: PieceFacts, bytes: number, lim: JsonLimits): CborValue | undefined {
  if (facts.longNumber || facts.keys > lim.maxKeys || bytes > lim.maxStringLength) return undefined;
  return nativeParseCounted(text, facts.keys);
}

/** The text of a body read by {@link readEncodedBytes} (a leading BOM dropped). */
export function bodyText(bytes: Uint8Array): string {
  return utf8Text(bytes);
}

/**
 * The elements of a top-level JSON array, parsed piece by piece between the guard's cuts
 * (JsonByteGuard.pieceFacts: cut at commas between elements, ~32 KiB apart) instead of as one string: V8
 * allocates a string of ~128 KiB to 1 MiB (an OPA upload of a few hundred decisions) in ~1 ms,
 * 50x the cost of the same text in 32 KiB strings, and that was ~8 % of the main thread under
 * full ingest (bench/README.md, session 6). Each piece is parsed as an array (core/json.ts,
 * same limits, so the same values, exactness and duplicate-key refusals per element), pausing
 * for the event loop every ~128 Ki characters. Undefined when there are no cuts or a piece is
 * not an array of at least one element under the limits: then the caller parses the whole
 * text, which gives exactly what it gave before (and the same error). If every piece is a
 * non-empty array, the pieces joined by their commas are the whole body as a valid array, so
 * nothing is accepted that the whole-text parser would refuse. `limits.maxItems` is the
 * guard's to enforce (it counted the same commas).
 *
 * With a `sink`, each piece's elements are given to it as soon as the piece is parsed (in
 * order; what it throws ends the parse; a promise it returns is awaited before the next piece)
 * instead of being gathered, and the array returned is empty: the caller turns them into
 * leaves piece by piece, so a large upload's parsed objects never all live at once. Undefined
 * still means "parse the whole text": the sink may have had some pieces by then, and its
 * caller must drop what it made of them.
 */
export async function parseJsonPieces(
  bytes: Uint8Array,
  guard: JsonByteGuard,
  limits: Partial<JsonLimits>,
  sink?: (elements: CborValue[]) => Promise<void> | undefined,
): Promise<CborValue[] | undefined> {
  const pieces = guard.pieceFacts();
  if (pieces.length < 2) return undefined;
  const lim = { ...DEFAULT_JSON_LIMITS, ...limits, maxItems: Number.POSITIVE_INFINITY };
  const out: CborValue[] = [];
  let since = 0;
  let start = 0;
  for (const facts of pieces) {
    const end = facts.end ?? bytes.length;
    let text = utf8Text(bytes, start, end);
    if (start > 0) text = `[${text}`;
    if (facts.end !== undefined) text = `${text}]`;
    let piece = nativePiece(text, facts, end - start, lim);
    start = end + 1;
    if (piece === undefined) {
      try {
        piece = parseJson(text, lim);
      } catch (err) {
        if (err instanceof JsonError) return undefined;
        throw err;
      }
    }
    if (!Array.isArray(piece) || piece.length === 0) return undefined;
    if (sink) {
      const wait = sink(piece);
      if (wait) await wait;
    } else for (const v of piece) out.push(v);
    since += text.length;
    if (since >= JSON_SLICE_CHARS) {
      since = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return out;
}

/** Takes bytes from a memory budget: a promise if the caller must wait for them (decode-budget.ts). */
type Reserve = (bytes: number) => Promise<void> | undefined;

/**
 * The chunk hook of a plain (not compressed) body, whose bytes are its text: reserves each
 * chunk (waiting for room if need be) and feeds it to the guard, letting the event loop run
 * after every 1 MiB: chunks already
 * queued on the socket arrive back to back as promise continuations, which never let other
 * requests in (15 MB checked in one go took 150+ ms on a loaded 2-core machine). None without
 * a guard or a reservation.
 */
function plainChunks(
  guard: JsonByteGuard | undefined,
  reserve: Reserve | undefined,
): ((chunk: Uint8Array) => Promise<void> | undefined) | undefined {
  if (!guard && !reserve) return undefined;
  let since = 0;
  return (chunk) => {
    guard?.push(chunk);
    const room = reserve?.(chunk.length);
    since += chunk.length;
    if (since < 1 << 20 || !guard) return room;
    since = 0;
    const pause = () => new Promise<void>((resolve) => setImmediate(resolve));
    return room ? room.then(pause) : pause();
  };
}

/**
 * Bytes zlib inflates per output chunk: 64 KiB rather than its 16 KiB default, so an OPA upload
 * (~290 KB inflated) costs 5 chunk callbacks (stream events, guard calls, reservations)
 * instead of 18, while a refusal still comes within 64 KiB of the byte that passed a limit.
 */
const INFLATE_CHUNK = 64 * 1024;

/**
 * Gunzips as a stream (every member of a multi-member body), giving each inflated chunk to
 * `guard` as it comes out and reserving it (inflating pauses until a reservation is granted);
 * stops inflating at the first refusal or past `max` bytes.
 */
function inflate(
  body: Uint8Array,
  max: number,
  guard: JsonByteGuard | undefined,
  reserve: Reserve | undefined,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const z = createGunzip({ chunkSize: INFLATE_CHUNK });
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      z.destroy();
      reject(err);
    };
    z.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > max)
        return fail(new HttpError(413, 'decompressed_too_large', `body inflates beyond ${max} bytes`));
      try {
        guard?.push(chunk);
      } catch (err) {
        return fail(err);
      }
      chunks.push(chunk);
      const room = reserve?.(chunk.length);
      if (room) {
        z.pause();
        void room.then(() => {
          if (!settled) z.resume();
        });
      }
    });
    z.on('error', (e) => fail(new HttpError(400, 'invalid_gzip', `body is not valid gzip: ${e.message}`)));
    z.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    z.end(body);
  });
}

/**
 * Parses JSON with core/json.ts within `limits`, pausing with setImmediate between slices of
 * about 128 Ki characters, so a large body never holds the event loop for long (a small one is parsed
 * without any pause). Throws the parser's JsonError.
 */
export async function parseJsonYielding(text: string, limits: Partial<JsonLimits>): Promise<CborValue> {
  const steps = parseJsonSteps(text, limits);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const TOO_LARGE = new Set<JsonErrorCode>([
  'number_too_long',
  'string_too_long',
  'too_many_keys',
  'too_many_items',
]);

/**
 * The HTTP answer to a JsonError: 413 for a limit (number_too_long, string_too_long,
 * too_many_keys, too_many_items), 400 otherwise (invalid_json, too_deep, duplicate_key); a
 * route may answer a code under its own name (`codes`, e.g. too_many_items as too_many_events).
 * The detail names the batch element (`what` i) when there is one.
 */
export function jsonRefusal(
  err: JsonError,
  what: string,
  codes: Partial<Record<JsonErrorCode, string>> = {},
): HttpError {
  const where = err.item === undefined ? 'body' : `${what} ${err.item}`;
  const reason = err.code === 'invalid_json' ? 'is not JSON' : 'is refused';
  const status = TOO_LARGE.has(err.code) ? 413 : 400;
  return new HttpError(status, codes[err.code] ?? err.code, `${where} ${reason}: ${err.message}`);
}

/** Reads a small JSON body (UTF-8, at most `maxBytes`) and parses it within `limits`. */
export async function readJsonBody(
  req: Request,
  maxBytes: number,
  limits: Partial<JsonLimits> = {},
): Promise<CborValue> {
  const text = await readBody(req, maxBytes);
  try {
    return await parseJsonYielding(text, limits);
  } catch (err) {
    throw err instanceof JsonError ? jsonRefusal(err, 'item') : err;
  }
}
