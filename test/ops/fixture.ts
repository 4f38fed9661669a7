/**
 * Shared by the operations tests: tokens of every role, the OPA sample upload, and a server
 * started with those tokens (test/helpers/server.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningServer, startServer } from '../helpers/server.js';

export const TOKENS = {
  ingest: 'ingest-token-0a1b2c3d4e5f6a7b',
  read: 'read-token-9f8e7d6c5b4a3f2e',
  metrics: 'metrics-token-5a5b5c5d5e5f5a5b',
  admin: 'admin-token-1f2e3d4c5b6a7f8e',
} as const;

const SAMPLES = join(import.meta.dirname, '..', 'fixtures', 'opa');

/** The sample OPA upload: its gzip body and its events. */
export function opaSample(): { gz: Uint8Array; events: Record<string, unknown>[] } {
  return {
    gz: new Uint8Array(readFileSync(join(SAMPLES, 'upload-batch.json.gz'))),
    events: JSON.parse(readFileSync(join(SAMPLES, 'upload-batch.json'), 'utf8')) as Record<string, unknown>[],
  };
}

/** Starts `opa-tlog serve` with one token per role and a short signing period. */
export function startWithTokens(data: string, args: string[] = []): Promise<RunningServer> {
  const specs = Object.entries(TOKENS).map(([role, t]) => `${role}:${t}`);
  return startServer(data, ['--tokens', specs.join(','), '--sign-interval-ms', '100', ...args]);
}

/** POSTs the sample upload as OPA does (gzip JSON) with `token`. */
export function uploadSample(url: string, token: string | undefined, headers: Record<string, string> = {}) {
  return fetch(`${url}/logs`, {
    method: 'POST',
    body: opaSample().gz,
    headers: {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
  });
}
