/**
 * Reading request bodies with a hard cap (the capped reader is core/read-body.ts, shared with
 * the witness), answered as HTTP errors: 413 past the cap, 400 on invalid UTF-8.
 */
import { BodyTooLargeError, readCappedBytes } from '../core/read-body.js';
import { HttpError } from './errors.js';

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

/** Reads the whole body as strict UTF-8 text; 400 on invalid UTF-8, 413 past `maxBytes`. */
export async function readBody(req: Request, maxBytes: number): Promise<string> {
  const bytes = await readBodyBytes(req, maxBytes);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new HttpError(400, 'invalid_utf8', 'request body is not valid UTF-8');
  }
}
