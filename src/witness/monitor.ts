/**
 * Split-view monitor (`opa-tlog monitor`): follows a log's `/checkpoint` and each witness's
 * monitoring endpoint, and checks that every checkpoint any of them shows (plus the newest one
 * this monitor verified on an earlier run) is consistent with every other: same size ⇒ same
 * root; smaller ⇒ prefix of larger, proven with the log's consistency proof API and verified
 * here. Each inconsistency is written to `<state>/evidence/` as JSON holding both signed notes
 * and the failing proof (spec/witness.md, "Evidence").
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toBase64, toHex } from '../core/bytes.js';
import { newCosignatureV1Verifier } from '../core/cosignature.js';
import { logKeysOrigin } from '../core/log-keys.js';
import { type NoteVerifier, newEd25519Verifier } from '../core/note.js';
import { MAX_CHECKPOINT_RESPONSE_BYTES } from '../core/response-caps.js';
import { witnessCheckpointUrl } from '../core/witness-protocol.js';
import { checkPair, type SignedHead } from './consistency.js';
import { fetchCappedText } from './fetch-text.js';
import { openLogCheckpoint } from './log-signature.js';

/** A witness to follow: its monitoring prefix and cosigner vkey. */
export interface MonitorWitness {
  url: string;
  vkey: string;
}

/** Options of {@link Monitor}. */
export interface MonitorOptions {
  /** The log's base URL (serves /checkpoint and /v1/proof/consistency). */
  logUrl: string;
  /**
   * The log's vkey(s), all named after the origin: several during a signer key rotation; a
   * checkpoint signed by any of them is the log's.
   */
  logVkey: string | readonly string[];
  witnesses: readonly MonitorWitness[];
  /** Directory for the last verified checkpoint and evidence files (none: nothing kept). */
  stateDir?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  now?: () => Date;
}

/** One side of a split view, as stored in an evidence file. */
export interface EvidenceSide {
  source: string;
  size: number;
  root: string;
  note: string;
}

/** The JSON content of an evidence file. */
export interface SplitViewEvidence {
  type: 'opa-tlog/split-view-evidence/v1';
  detected_at: string;
  origin: string;
  reason: 'same_size_different_root' | 'inconsistent_proof';
  detail: string;
  a: EvidenceSide;
  b: EvidenceSide;
  proof: { from: number; to: number; url: string; hashes: string[] } | null;
}

/** Result of one {@link Monitor.check}. */
export interface MonitorReport {
  /** Every verified checkpoint seen in this check (and the stored one). */
  observations: SignedHead[];
  splitViews: SplitViewEvidence[];
  /** Evidence files written in this check. */
  evidenceFiles: string[];
  /** Fetch or verification failures and undecidable comparisons. */
  problems: string[];
}

/** 1 when a split view was found, 3 when something could not be checked, else 0. */
export function monitorExitCode(r: MonitorReport): number {
  if (r.splitViews.length > 0) return 1;
  return r.problems.length > 0 ? 3 : 0;
}

/** Follows one log and its witnesses. */
export class Monitor {
  readonly origin: string;
  readonly #opts: MonitorOptions;
  readonly #logKeys: NoteVerifier[];
  readonly #witnesses: { url: string; verifier: NoteVerifier }[];
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  #seq = 0;

  constructor(opts: MonitorOptions) {
    this.#opts = opts;
    this.#logKeys = (typeof opts.logVkey === 'string' ? [opts.logVkey] : opts.logVkey).map((k) =>
      newEd25519Verifier(k),
    );
    this.origin = logKeysOrigin(this.#logKeys);
    this.#witnesses = opts.witnesses.map((w) => ({ url: w.url, verifier: newCosignatureV1Verifier(w.vkey) }));
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    if (opts.stateDir !== undefined) mkdirSync(join(opts.stateDir, 'evidence'), { recursive: true });
  }

  /** Fetches everything once, compares every pair, writes evidence; never throws on network errors. */
  async check(): Promise<MonitorReport> {
    const report: MonitorReport = { observations: [], splitViews: [], evidenceFiles: [], problems: [] };
    const stored = this.#loadState(report);
    if (stored) report.observations.push(stored);
    const logUrl = this.#opts.logUrl.replace(/\/+$/, '');
    const fetched = await Promise.all([
      this.#observe(`${logUrl}/checkpoint`, `log ${logUrl}`, undefined, report),
      ...this.#witnesses.map((w) =>
        this.#observe(witnessCheckpointUrl(w.url, this.origin), `witness ${w.url}`, w.verifier, report),
      ),
    ]);
    for (const o of fetched) if (o) report.observations.push(o);

    // One representative per distinct (size, root); compare every pair of representatives.
    const distinct = new Map<string, SignedHead>();
    for (const o of report.observations) {
      const k = `${o.size}/${toHex(o.root)}`;
      if (!distinct.has(k)) distinct.set(k, o);
    }
    const heads = [...distinct.values()].sort((x, y) => x.size - y.size);
    for (let i = 0; i < heads.length; i++) {
      for (let j = i + 1; j < heads.length; j++) {
        const a = heads[i]!;
        const b = heads[j]!;
        const r = await checkPair(a, b, logUrl, { fetch: this.#fetch, timeoutMs: this.#timeoutMs });
        if (r.status === 'unresolved') report.problems.push(`${a.source} vs ${b.source}: ${r.detail}`);
        if (r.status !== 'split') continue;
        const ev: SplitViewEvidence = {
          type: 'opa-tlog/split-view-evidence/v1',
          detected_at: (this.#opts.now?.() ?? new Date()).toISOString(),
          origin: this.origin,
          reason: r.reason,
          detail: r.detail,
          a: side(a),
          b: side(b),
          proof: r.proof
            ? { from: r.proof.from, to: r.proof.to, url: r.proof.url, hashes: r.proof.hashes.map(toBase64) }
            : null,
        };
        report.splitViews.push(ev);
        const file = this.#writeEvidence(ev);
        if (file) report.evidenceFiles.push(file);
      }
    }
    if (report.splitViews.length === 0 && report.problems.length === 0 && heads.length > 0) {
      this.#saveState(heads[heads.length - 1]!);
    }
    return report;
  }

  async #observe(
    url: string,
    source: string,
    witness: NoteVerifier | undefined,
    report: MonitorReport,
  ): Promise<SignedHead | undefined> {
    let text: string;
    try {
      const res = await fetchCappedText(this.#fetch, url, MAX_CHECKPOINT_RESPONSE_BYTES, this.#timeoutMs);
      text = res.text;
      if (res.status === 404 && witness !== undefined) return undefined; // never cosigned this log
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      report.problems.push(`${source}: ${url}: ${(err as Error).message}`);
      return undefined;
    }
    try {
      const opened = openLogCheckpoint(text, this.#logKeys, witness === undefined ? [] : [witness]);
      if (
        witness &&
        !opened.note.verified.some((s) => s.name === witness.name && s.keyId === witness.keyId)
      ) {
        throw new Error('the checkpoint does not carry a valid cosignature of this witness');
      }
      return { size: opened.checkpoint.size, root: opened.checkpoint.rootHash, note: text, source };
    } catch (err) {
      report.problems.push(`${source}: ${url}: ${(err as Error).message}`);
      return undefined;
    }
  }

  #loadState(report: MonitorReport): SignedHead | undefined {
    if (this.#opts.stateDir === undefined) return undefined;
    let note: string;
    try {
      note = readFileSync(join(this.#opts.stateDir, 'checkpoint'), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const { checkpoint } = openLogCheckpoint(note, this.#logKeys);
      return {
        size: checkpoint.size,
        root: checkpoint.rootHash,
        note,
        source: 'previously verified (state)',
      };
    } catch (err) {
      report.problems.push(`stored checkpoint does not verify: ${(err as Error).message}`);
      return undefined;
    }
  }

  #saveState(head: SignedHead): void {
    if (this.#opts.stateDir === undefined) return;
    const file = join(this.#opts.stateDir, 'checkpoint');
    writeFileSync(`${file}.tmp`, head.note);
    renameSync(`${file}.tmp`, file);
  }

  #writeEvidence(ev: SplitViewEvidence): string | undefined {
    if (this.#opts.stateDir === undefined) return undefined;
    const stamp = ev.detected_at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const file = join(
      this.#opts.stateDir,
      'evidence',
      `${stamp}-${process.pid}-${this.#seq++}-${ev.reason}.json`,
    );
    writeFileSync(file, `${JSON.stringify(ev, null, 2)}\n`, { flag: 'wx' });
    return file;
  }
}

function side(h: SignedHead): EvidenceSide {
  return { source: h.source, size: h.size, root: toBase64(h.root), note: h.note };
}
