/**
 * Reading request bodies with a hard cap (the capped reader is core/read-body.ts, shared with
 * the witness), answered as HTTP errors: 413 past the cap, 400 on invalid UTF-8. JSON bodies
 * of every route go through one parser (core/json.ts) with limits applied while it reads, and
 * large ones are parsed in slices with the event loop free in between.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { CborValue } from '../core/cbor.js';
import { JsonError, type JsonErrorCode, type JsonLimits, parseJsonSteps } from '../core/json.js';
import { BodyTooLargeError, readCappedBytes } from '../core/read-body.js';
import { HttpError } from './errors.js';

const gunzipAsync = promisify(gunzip);

/** Reads the whole body as bytes; 413 past `maxBytes` (see core/read-body.ts). */
export async function readBodyBytes(req: Request, maxBytes: number): Promise<Uint8Array> {
  try {
    return await readCappedBytes(req, maxBytes, 'request body');
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw new HttpError(413, err.code, err.message);
    throw err;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decoding; 400 invalid_utf8 otherwise. */
function utf8(bytes: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new HttpError(400, 'invalid_utf8', `${what} is not valid UTF-8`);
  }
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
 */
export async function readEncodedText(
  req: Request,
  maxBytes: number,
  maxInflatedBytes: number,
): Promise<string> {
  const enc = (req.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (enc !== 'identity' && enc !== 'gzip' && enc !== 'x-gzip' && enc !== '') {
    throw new HttpError(
      415,
      'unsupported_encoding',
      `Content-Encoding ${enc} is not supported (use gzip or identity)`,
    );
  }
  let body = await readBodyBytes(req, maxBytes);
  if (enc === 'gzip' || enc === 'x-gzip') {
    try {
      body = await gunzipAsync(body, { maxOutputLength: maxInflatedBytes });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        throw new HttpError(413, 'decompressed_too_large', `body inflates beyond ${maxInflatedBytes} bytes`);
      }
      throw new HttpError(400, 'invalid_gzip', `body is not valid gzip: ${e.message}`);
    }
  } else if (body.length > maxInflatedBytes) {
    throw new HttpError(413, 'body_too_large', `body exceeds ${maxInflatedBytes} bytes`);
  }
  return utf8(body, 'body');
}

/**
 * Parses JSON with core/json.ts within `limits`, pausing with setImmediate between slices of
 * about 1 MiB, so a large body never holds the event loop for long (a small one is parsed
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
