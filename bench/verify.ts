/**
 * Client verification in Node: decision lookups pre-fetched from a live server
 * (GET /v1/entries/{random index} with a read token: entry, salt, payload, proof, checkpoint),
 * then verified in a loop with the client library — parseEntryResponse + verifyEntryResponse:
 * commitment SHA-256(salt || payload), deterministic CBOR decode of the payload, leaf hash,
 * inclusion proof to the checkpoint root, and the checkpoint's Ed25519 signature (no network
 * in the timed loop). Baseline, same run: node:crypto Ed25519 verifications of the same
 * checkpoint signature (and, for context, the verifier the client uses on its own).
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { makeTrust } from '../src/client/checkpoint.js';
import { parseEntryResponse, verifyEntryResponse } from '../src/client/decision.js';
import { parseVerifierKey } from '../src/core/note.js';
import { QUICK, type Result, result } from './lib.js';

function loop(fn: () => void, ms: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    t = performance.now();
  }
  return n / ((t - t0) / 1000);
}

export async function run(url: string, vkey: string, token: string, size: number): Promise<Result[]> {
  const n = QUICK ? 100 : 400;
  const bodies: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const idx = Math.floor(Math.random() * size);
    const res = await fetch(`${url}/v1/entries/${idx}`, { headers: { Authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`GET /v1/entries/${idx}: ${res.status}`);
    bodies.push(await res.json());
  }
  const trust = makeTrust(vkey);
  let k = 0;
  const ms = QUICK ? 1000 : 4000;
  const verifyOne = () => {
    const body = bodies[k++ % bodies.length]!;
    const r = parseEntryResponse(body);
    const v = verifyEntryResponse(r, trust, { index: r.index });
    if (v.commitment !== 'verified') throw new Error(`entry ${r.index}: ${v.commitment}`);
  };
  verifyOne();
  const client = loop(verifyOne, ms);

  // Baselines: Ed25519 verify of the checkpoint note's signature, node:crypto and the client's.
  const note = (bodies[0] as { checkpoint: string }).checkpoint;
  const split = note.indexOf('\n\n');
  const msg = Buffer.from(note.slice(0, split + 1));
  const sigLine = note.slice(split + 2).split('\n')[0]!;
  const sig = Buffer.from(sigLine.split(' ').at(-1)!, 'base64').subarray(4);
  // The base64 key material may itself contain '+': parse the vkey properly.
  const pub = Buffer.from(parseVerifierKey(vkey).publicKey);
  const key = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]),
    format: 'der',
    type: 'spki',
  });
  if (!nodeVerify(null, msg, key, sig))
    throw new Error('checkpoint signature does not verify with node:crypto');
  const ed = loop(() => nodeVerify(null, msg, key, sig), ms);
  const clientEd = loop(() => {
    if (!trust.logs[0]!.verify(msg, sig)) throw new Error('bad signature');
  }, ms / 2);
  console.log(
    `client verifications: ${Math.round(client)}/s; node:crypto Ed25519 verify ${Math.round(ed)}/s; client's Ed25519 verify ${Math.round(clientEd)}/s`,
  );
  return [
    result(
      'client_verifications_per_s',
      client,
      'verifications/s',
      'node_crypto_ed25519_verifies_per_s',
      ed,
      `${bodies.length} pre-fetched lookups, ${size} leaves`,
    ),
    result(
      'client_ed25519_verifies_per_s',
      clientEd,
      'verifies/s',
      'node_crypto_ed25519_verifies_per_s',
      ed,
      'the Ed25519 verify the client library uses (src/core/note.ts)',
    ),
  ];
}
