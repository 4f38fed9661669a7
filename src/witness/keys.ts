/**
 * The witness's cosigner key files: `<data>/witness.key` (skey, type 0x04, mode 0600) and
 * `<data>/witness.vkey` (the verifier key to put in logs' and clients' policies).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../core/bytes.js';
import {
  type CosignatureV1Signer,
  generateCosignatureV1Key,
  newCosignatureV1Signer,
} from '../core/cosignature.js';
import { isValidKeyName, randomSeed } from '../core/note.js';

/** Result of {@link loadOrCreateWitnessKey}. */
export interface WitnessKey {
  signer: CosignatureV1Signer;
  /** True if the key was created by this call. */
  created: boolean;
  keyFile: string;
  vkeyFile: string;
}

/** The default witness name: `opa-tlog-witness.local/<8 random hex digits>`. */
export function defaultWitnessName(): string {
  return `opa-tlog-witness.local/${toHex(randomSeed().subarray(0, 4))}`;
}

/**
 * Loads `<dir>/witness.key`, or on first run creates it (mode 0600) with `name` (default
 * {@link defaultWitnessName}) and writes `<dir>/witness.vkey`. A `name` that differs from an
 * existing key's name is an error: the name is part of the key ID.
 */
export function loadOrCreateWitnessKey(dir: string, name?: string): WitnessKey {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, 'witness.key');
  const vkeyFile = join(dir, 'witness.vkey');
  if (existsSync(keyFile)) {
    const signer = newCosignatureV1Signer(readFileSync(keyFile, 'utf8').trim());
    if (name !== undefined && name !== signer.name) {
      throw new Error(
        `witness name ${name} differs from the existing key's name ${signer.name} (${keyFile})`,
      );
    }
    if (!existsSync(vkeyFile)) writeFileSync(vkeyFile, `${signer.vkey}\n`);
    return { signer, created: false, keyFile, vkeyFile };
  }
  const n = name ?? defaultWitnessName();
  if (!isValidKeyName(n)) throw new Error(`invalid witness name ${JSON.stringify(n)}`);
  const pair = generateCosignatureV1Key(n);
  writeFileSync(keyFile, `${pair.skey}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(keyFile, 0o600);
  writeFileSync(vkeyFile, `${pair.vkey}\n`);
  return { signer: newCosignatureV1Signer(pair.skey), created: true, keyFile, vkeyFile };
}
