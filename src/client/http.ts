/**
 * The client's only I/O: GET requests through a `fetch` (global by default, injectable for
 * tests and for custom transports). Every body is read with a size cap chosen per kind of
 * resource (core/response-caps.ts). Maps transport failures, unexpected statuses and
 * oversized answers to {@link VerifyError}s with the URL and status as evidence. Browser-safe.
 */
import { BodyTooLargeError, readCappedBytes } from '../core/read-body.js';
import { MAX_ERROR_RESPONSE_BYTES } from '../core/response-caps.js';
import { VerifyError } from './errors.js';

/** The subset of `fetch` the client uses. */
export type FetchLike = (
  input: string,
  init?: { headers?: Record<string, string>; method?: string },
) => Promise<Response>;

/** Options of {@link HttpSource}. */
export interface HttpSourceOptions {
  /** The `fetch` to use; defaults to `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Extra headers sent with every request (e.g. a User-Agent). */
  headers?: Record<string, string>;
}

/** A resource that does not exist (HTTP 404): callers decide whether that is a gap or a fallback. */
export class NotFound extends Error {
  override readonly name = 'NotFound';
  /** Creates the marker for `url`. */
  constructor(readonly url: string) {
    super(`${url}: 404 not found`);
  }
}

/** GETs resources below a log prefix URL. */
export class HttpSource {
  /** The log prefix, without a trailing slash. */
  readonly base: string;
  readonly #fetch: FetchLike;
  readonly #headers: Record<string, string>;

  /** A source for the log whose prefix (tlog-tiles "URL prefix") is `baseUrl`. */
  constructor(baseUrl: string, opts: HttpSourceOptions = {}) {
    if (!/^https?:\/\//i.test(baseUrl)) {
      throw new VerifyError('usage', `log URL must start with http:// or https://, got ${baseUrl}`);
    }
    this.base = baseUrl.replace(/\/+$/, '');
    const global = globalThis.fetch as FetchLike | undefined;
    // Browsers require the global fetch to be called with `this` = window: bind it.
    const f = opts.fetch ?? global?.bind(globalThis);
    if (f === undefined) throw new VerifyError('usage', 'no fetch available: pass one in the options');
    this.#fetch = f;
    this.#headers = { ...opts.headers };
  }

  /** Absolute URL of `path` (relative to the prefix, no leading slash). */
  url(path: string): string {
    return `${this.base}/${path}`;
  }

  /**
   * GETs `path`; returns the response for a 2xx status, throws {@link NotFound} for 404,
   * 'unauthorized' for 401/403 and 'network' for anything else (including transport errors).
   */
  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const url = this.url(path);
    let res: Response;
    try {
      res = await this.#fetch(url, { method: 'GET', headers: { ...this.#headers, ...headers } });
    } catch (err) {
      throw new VerifyError(
        'network',
        `GET ${url} failed: ${err instanceof Error ? err.message : String(err)}`,
        {
          url,
        },
      );
    }
    if (res.status >= 200 && res.status < 300) return res;
    const detail = await errorDetail(res);
    if (res.status === 404) throw new NotFound(url);
    if (res.status === 401 || res.status === 403) {
      throw new VerifyError('unauthorized', `GET ${url}: HTTP ${res.status}${detail}`, {
        url,
        status: res.status,
      });
    }
    throw new VerifyError('network', `GET ${url}: HTTP ${res.status}${detail}`, { url, status: res.status });
  }

  /**
   * GETs `path` as bytes, reading at most `maxBytes` of the body (see {@link get} for the
   * other errors): a larger body, declared or streamed, is refused 'response_too_large' as soon
   * as the cap is passed, so an endless answer never costs more than the cap.
   */
  async bytes(path: string, maxBytes: number, headers?: Record<string, string>): Promise<Uint8Array> {
    const res = await this.get(path, headers);
    const url = this.url(path);
    try {
      return await readCappedBytes(res, maxBytes, `the answer of ${url}`);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw new VerifyError('response_too_large', `${err.message}: refused unread`, {
          url,
          expected: `<= ${maxBytes} bytes`,
        });
      }
      throw new VerifyError('network', `reading ${url} failed: ${String(err)}`, { url });
    }
  }

  /** GETs `path` as UTF-8 text of at most `maxBytes` (see {@link bytes} for errors). */
  async text(path: string, maxBytes: number, headers?: Record<string, string>): Promise<string> {
    return textDecoder.decode(await this.bytes(path, maxBytes, headers));
  }

  /**
   * GETs `path` as JSON of at most `maxBytes` (see {@link bytes}); a body that is not JSON is
   * 'malformed_response'.
   */
  async json(path: string, maxBytes: number, headers?: Record<string, string>): Promise<unknown> {
    const text = await this.text(path, maxBytes, headers);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new VerifyError('malformed_response', `${this.url(path)} did not answer JSON`, {
        url: this.url(path),
      });
    }
  }
}

// Lenient like Response.text(): malformed UTF-8 becomes U+FFFD and fails the checks after.
const textDecoder = new TextDecoder();

/** A short suffix with the server's JSON error code, if it sent one (a long body is not read). */
async function errorDetail(res: Response): Promise<string> {
  try {
    const body = textDecoder.decode(await readCappedBytes(res, MAX_ERROR_RESPONSE_BYTES)).slice(0, 500);
    const parsed = JSON.parse(body) as unknown;
    if (parsed !== null && typeof parsed === 'object' && 'error' in parsed) {
      return ` (${String((parsed as { error: unknown }).error)})`;
    }
  } catch {
    // not JSON: no detail
  }
  return '';
}
