/**
 * The witness side's reads of other servers (peer witnesses, logs): a GET with a timeout whose
 * body is read with a size cap (core/response-caps.ts), so a peer that streams an endless or
 * oversized answer is refused at the cap instead of filling memory.
 */
import { readCappedBytes } from '../core/read-body.js';

/** An answer read whole: its status and its body decoded as UTF-8. */
export interface CappedAnswer {
  status: number;
  text: string;
}

const decoder = new TextDecoder();

/**
 * GETs `url` with `fetchFn`, aborting after `timeoutMs`, and reads at most `maxBytes` of the
 * body whatever the status; throws BodyTooLargeError (`the answer of <url> exceeds <n>
 * bytes`) past the cap and the fetch's own errors otherwise.
 */
export async function fetchCappedText(
  fetchFn: typeof fetch,
  url: string,
  maxBytes: number,
  timeoutMs: number,
): Promise<CappedAnswer> {
  const res = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs) });
  const bytes = await readCappedBytes(res, maxBytes, `the answer of ${url}`);
  return { status: res.status, text: decoder.decode(bytes) };
}
