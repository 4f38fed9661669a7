/** Text formatting for the console: indented JSON, ages, times, key fingerprints. */

import type { CborValue } from '../core/cbor.js';
import { stringifyJson } from '../core/json.js';
import { parseVerifierKey } from '../core/note.js';

/**
 * The event as indented JSON, lossless (integers beyond 2^53 keep their digits): the compact
 * text of the core's stringifyJson, re-indented token by token outside strings.
 */
export function prettyJson(v: CborValue | undefined): string {
  const s = stringifyJson(v);
  let out = '';
  let depth = 0;
  let inString = false;
  const nl = () => `\n${'  '.repeat(depth)}`;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += s[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '{' || c === '[') {
      const empty = s[i + 1] === (c === '{' ? '}' : ']');
      if (empty) {
        out += c + s[++i]!;
        continue;
      }
      depth++;
      out += c + nl();
    } else if (c === '}' || c === ']') {
      depth--;
      out += nl() + c;
    } else if (c === ',') out += `,${nl()}`;
    else if (c === ':') out += ': ';
    else out += c;
  }
  return out;
}

/** "12 s ago", "3 min ago", "2 h ago". */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** An ISO time without milliseconds, or the input when it is not a time. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The vkey's name and key ID (8 hex digits), the short form readers compare. */
export function fingerprint(vkey: string): string {
  try {
    const k = parseVerifierKey(vkey);
    return `${k.name} ${k.keyId.toString(16).padStart(8, '0')}`;
  } catch {
    return 'not a valid verifier key';
  }
}
