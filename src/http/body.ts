/**
 * Reading request bodies with a hard cap, counting bytes as they stream in, so a client that
 * lies about (or omits) Content-Length cannot make the server buffer more than the cap.
 */
import { concatBytes } from '../core/bytes.js';
import { HttpError } from './errors.js';

/** Reads the whole body as bytes; 413 past `maxBytes`. */
export async function readBodyBytes(req: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) {
    throw new HttpError(413, 'body_too_large', `request body exceeds ${maxBytes} bytes`);
  }
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw new HttpError(413, 'body_too_large', `request body exceeds ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(...chunks);
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
