/**
 * Witness gossip: a witness configured with peer witness URLs periodically fetches each peer's
 * monitoring checkpoint (`GET <peer>/<hex sha256(origin)>/checkpoint`) for every log it knows,
 * verifies the log's signature on it (any configured key of the origin), and compares it with its own latest cosigned checkpoint:
 * same size with another root, or a consistency proof (fetched from the log, verified here)
 * that does not connect the two, is recorded as evidence (GET /evidence). A log that shows two
 * trees to two witnesses is thus caught even if no client ever looks.
 */
import { toBase64 } from '../core/bytes.js';
import { newCosignatureV1Verifier } from '../core/cosignature.js';
import { errorFields, type Logger, silentLogger } from '../core/logger.js';
import type { NoteVerifier } from '../core/note.js';
import { MAX_CHECKPOINT_RESPONSE_BYTES } from '../core/response-caps.js';
import { witnessCheckpointUrl } from '../core/witness-protocol.js';
import { checkPair, type SignedHead } from './consistency.js';
import { fetchCappedText } from './fetch-text.js';
import { openLogCheckpoint } from './log-signature.js';
import type { Witness } from './witness.js';

/** A peer witness: its monitoring prefix and, optionally, its cosigner vkey. */
export interface GossipPeer {
  url: string;
  /** If set, the peer's checkpoint must carry a valid cosignature from this key. */
  vkey?: string;
}

/** Options of {@link Gossip}. */
export interface GossipOptions {
  witness: Witness;
  peers: readonly GossipPeer[];
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Where noteworthy events go (failed rounds, split views); default silent. */
  logger?: Logger;
}

/** Result of one gossip round. */
export interface GossipReport {
  /** (peer, origin) pairs compared. */
  compared: number;
  /** Pieces of evidence recorded for the first time in this round. */
  newEvidence: number;
  /** Comparisons that could not be decided, and fetch/verification failures. */
  problems: string[];
}

/**
 * Parses a peer spec: `<url>`, or `<url>=<vkey>` / `<url> <vkey>` to require the peer's own
 * cosignature. The `=` split is the one whose right side is a valid cosigner vkey, so URLs with
 * query strings still work.
 */
export function parsePeerSpec(spec: string): GossipPeer {
  const s = spec.trim();
  const space = s.search(/[ \t]/);
  if (space > 0) {
    const vkey = s.slice(space).trim();
    newCosignatureV1Verifier(vkey);
    return { url: s.slice(0, space), vkey };
  }
  for (let i = s.indexOf('='); i > 0; i = s.indexOf('=', i + 1)) {
    try {
      newCosignatureV1Verifier(s.slice(i + 1));
      return { url: s.slice(0, i), vkey: s.slice(i + 1) };
    } catch {
      // not a vkey after this '=': keep looking
    }
  }
  return { url: s };
}

/** Periodic comparison of this witness's state with its peers'. */
export class Gossip {
  readonly #witness: Witness;
  readonly #peers: { url: string; verifier: NoteVerifier | undefined }[];
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<GossipReport> | undefined;

  constructor(opts: GossipOptions) {
    this.#witness = opts.witness;
    this.#peers = opts.peers.map((p) => ({
      url: p.url,
      verifier: p.vkey === undefined ? undefined : newCosignatureV1Verifier(p.vkey),
    }));
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#logger = (opts.logger ?? silentLogger).child({ component: 'gossip' });
  }

  /** Runs a round every `intervalMs` (first one immediately). */
  start(intervalMs: number): void {
    this.stop();
    const tick = () => {
      this.runOnce().catch((err: unknown) => this.#logger.warn(errorFields(err), 'gossip round failed'));
    };
    tick();
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref?.();
  }

  /** Stops the periodic rounds. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One round over every (peer, known log with a cosigned checkpoint); rounds never overlap. */
  runOnce(): Promise<GossipReport> {
    this.#running ??= this.#round().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #round(): Promise<GossipReport> {
    const report: GossipReport = { compared: 0, newEvidence: 0, problems: [] };
    for (const log of this.#witness.logs()) {
      const ours = this.#witness.store.get(log.origin);
      if (ours === undefined) continue;
      const mine: SignedHead = { size: ours.size, root: ours.root, note: ours.note, source: 'this witness' };
      await Promise.all(
        this.#peers.map(async (peer) => {
          const url = witnessCheckpointUrl(peer.url, log.origin);
          let theirs: SignedHead;
          try {
            const res = await fetchCappedText(
              this.#fetch,
              url,
              MAX_CHECKPOINT_RESPONSE_BYTES,
              this.#timeoutMs,
            );
            if (res.status === 404) return;
            if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
            const text = res.text;
            theirs = this.#open(text, log.verifiers, peer.verifier, `witness ${peer.url}`);
          } catch (err) {
            report.problems.push(`${url}: ${(err as Error).message}`);
            return;
          }
          report.compared++;
          const r = await checkPair(mine, theirs, log.url, {
            fetch: this.#fetch,
            timeoutMs: this.#timeoutMs,
          });
          if (r.status === 'unresolved') {
            report.problems.push(`${log.origin} vs ${peer.url}: ${r.detail}`);
            return;
          }
          if (r.status === 'consistent') return;
          const fresh = this.#witness.store.addEvidence({
            origin: log.origin,
            kind: r.reason,
            source: `gossip ${peer.url}`,
            ours: ours.note,
            theirs: theirs.note,
            fromSize: r.proof?.from,
            proof: r.proof?.hashes.map(toBase64) ?? [],
            proofSource: r.proof?.url,
            detail: r.detail,
          });
          if (fresh) {
            report.newEvidence++;
            this.#logger.error({ origin: log.origin, peer: peer.url, detail: r.detail }, 'SPLIT VIEW');
          }
        }),
      );
    }
    return report;
  }

  /**
   * The peer's checkpoint as a signed head: signed by a configured key of the log (any of
   * them, see log-signature.ts) and, when the peer's key is configured, cosigned by the peer.
   */
  #open(
    note: string,
    logVerifiers: readonly NoteVerifier[],
    peer: NoteVerifier | undefined,
    source: string,
  ): SignedHead {
    let opened: ReturnType<typeof openLogCheckpoint>;
    try {
      opened = openLogCheckpoint(note, logVerifiers, peer === undefined ? [] : [peer]);
    } catch (err) {
      throw new Error(`checkpoint does not verify: ${(err as Error).message}`);
    }
    if (
      peer !== undefined &&
      !opened.note.verified.some((s) => s.name === peer.name && s.keyId === peer.keyId)
    ) {
      throw new Error('checkpoint does not verify: the peer did not cosign its checkpoint');
    }
    return { size: opened.checkpoint.size, root: opened.checkpoint.rootHash, note, source };
  }
}
