/**
 * The log side of C2SP tlog-witness (ref §6.5): after each new signed checkpoint, send
 * `add-checkpoint` to every witness of a C2SP tlog-policy that has a URL, in parallel, with the
 * consistency proof from the size each witness last cosigned; on 409 + `text/x.tlog.size` retry
 * from the size the witness returns (bounded); verify the returned cosignature lines with the
 * witness key; store every cosignature; and publish the checkpoint with its cosignatures only
 * once the policy quorum is met (otherwise keep publishing the last one that met it).
 *
 * Rounds: the pusher witnesses one *target* checkpoint at a time. A new target (the newest
 * checkpoint) is chosen when the current one met the quorum, or every witness is done with it
 * (cosigned or failed), or no push of it has begun yet (it is then simply superseded). Each witness gets the current target as soon as its own rate budget
 * allows (at most one request per `minIntervalMs`, one request in flight), so witnesses with
 * the same budget cosign the same checkpoints even when the log signs faster than they accept.
 *
 * Persistence (optional): every verified cosignature and each witness's last known size, through
 * a {@link WitnessPushState} (src/store/witness-push-state.ts; on SQLite, the log's
 * `cosignatures` and `witness_state` tables). Restoring it on start is asynchronous: see
 * {@link WitnessPusher.ready}.
 *
 * Several servers on one database (spec/scale-out.md): only the elected sequencer pushes
 * (`isSequencer`). The others follow: they publish the newest checkpoint whose cosignatures in
 * the shared state meet the quorum. A server that becomes the sequencer re-reads each
 * witness's size from the shared state before its first push, so it continues from what the
 * previous sequencer's witnesses cosigned.
 */
import { utf8 } from '../core/bytes.js';
import type { CosignatureV1Verifier } from '../core/cosignature.js';
import { errorFields, type Logger, silentLogger } from '../core/logger.js';
import { openNote } from '../core/note.js';
import { type Policy, quorumSatisfied } from '../core/policy.js';
import { readCappedBytes } from '../core/read-body.js';
import { MAX_WITNESS_RESPONSE_BYTES } from '../core/response-caps.js';
import {
  addCheckpointUrl,
  formatAddCheckpointRequest,
  parseTlogSize,
  TLOG_SIZE_CONTENT_TYPE,
} from '../core/witness-protocol.js';
import type { CosignedCheckpoint, WitnessPushState } from '../store/witness-push-state.js';

/** A signed checkpoint as the log produces it (a StoredCheckpoint fits). */
export interface PusherCheckpoint {
  /** Tree size. */
  readonly size: number;
  /** 32-byte root hash. */
  readonly root: Uint8Array;
  /** The log-signed note (text, blank line, the log's signature line(s)). */
  readonly note: string;
}

/** Options of {@link WitnessPusher}. */
export interface WitnessPusherOptions {
  /** The log origin (checkpoints of another origin are refused). */
  origin: string;
  /** Witnesses (lines with a URL are contacted) and the quorum. `log` lines are ignored. */
  policy: Policy;
  /** RFC 6962 PROOF(from, to) of the log, both sizes at most the newest signed size. */
  consistencyProof(from: number, to: number): Uint8Array[] | Promise<Uint8Array[]>;
  /** Where cosignatures and witness sizes are stored, and restored from on start. */
  state?: WitnessPushState;
  /** fetch implementation (default: global fetch). */
  fetch?: typeof fetch;
  /** Timeout of one add-checkpoint request in ms (default 5000). */
  timeoutMs?: number;
  /** Rate budget: least time between two pushes to one witness in ms (default 10 000). */
  minIntervalMs?: number;
  /** Per-witness rate budget overrides, keyed by policy witness name. */
  minIntervalMsByWitness?: Readonly<Record<string, number>>;
  /** Most 409-conflict retries per push (default 3). */
  maxConflictRetries?: number;
  /** Clock in ms (default Date.now). */
  now?: () => number;
  /** Where noteworthy events go (failed pushes, quorum met or missed); default silent. */
  logger?: Logger;
  /**
   * On a storage several servers share: true while this server is the elected sequencer
   * (the only one that pushes). Default: always (one server).
   */
  isSequencer?: () => boolean;
  /** How often a follower re-reads the published checkpoint from `state`, in ms (default 1000). */
  followRefreshMs?: number;
}

/** Per-witness status, for reporting. */
export interface WitnessPushStatus {
  /** Policy name of the witness. */
  name: string;
  /** Submission prefix, or undefined when the policy gives none (never contacted). */
  url: string | undefined;
  /** The size this log believes the witness last cosigned (undefined: unknown, 0 assumed). */
  knownSize: number | undefined;
  /** Size of the newest checkpoint this witness cosigned for us in this process. */
  cosignedSize: number | undefined;
  /** ms timestamps of the last attempt and the last success. */
  lastAttemptAt: number | undefined;
  lastSuccessAt: number | undefined;
  /** The last failure (HTTP status and body, timeout, bad cosignature), cleared on success. */
  lastError: string | undefined;
  /** A request to this witness is in flight. */
  busy: boolean;
  /** Pushes that returned a verified cosignature, and pushes that failed, in this process. */
  successes: number;
  failures: number;
}

/** Status of the pusher, for reporting. */
export interface WitnessPusherStatus {
  origin: string;
  /** The policy's quorum name. */
  quorum: string;
  /** Newest checkpoint handed to {@link WitnessPusher.onCheckpoint}. */
  latestSize: number | undefined;
  /** The checkpoint currently being witnessed. */
  targetSize: number | undefined;
  /** Size of the checkpoint {@link WitnessPusher.published} returns. */
  publishedSize: number | undefined;
  /** True iff the published checkpoint is the newest one. */
  upToDate: boolean;
  /**
   * The last finished round met the quorum (a checkpoint was published with it); false after
   * a round that resolved without it, or before any checkpoint met it.
   */
  quorumMet: boolean;
  witnesses: WitnessPushStatus[];
}

/** A verified cosignature line of one witness and its cosignature/v1 timestamp. */
export interface WitnessCosignature {
  /** The signature line without its trailing newline. */
  line: string;
  /** POSIX seconds signed by the witness. */
  timestamp: bigint;
}

interface Worker {
  readonly name: string;
  readonly url: string;
  readonly verifier: CosignatureV1Verifier;
  readonly minIntervalMs: number;
  knownSize: number | undefined;
  cosignedSize: number | undefined;
  doneSize: number;
  busy: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  abort: AbortController | undefined;
  lastAttemptAt: number | undefined;
  lastSuccessAt: number | undefined;
  lastError: string | undefined;
  successes: number;
  failures: number;
}

interface Pending {
  readonly cp: PusherCheckpoint;
  /** Verified cosignature per policy witness name. */
  readonly cosigs: Map<string, WitnessCosignature>;
}

const MAX_PENDING = 16;

/** How many of the newest cosigned sizes a restart considers for re-publication. */
const RESTORE_SIZES = 32;

/**
 * Collects cosignatures for a log's checkpoints from the witnesses of a tlog-policy and
 * decides what `/checkpoint` publishes. Wire it as: `log.onCheckpoint((cp) =>
 * pusher.onCheckpoint(cp))`, serve `pusher.published() ?? <503>` at `/checkpoint`, and call
 * `close()` before closing the log.
 */
export class WitnessPusher {
  readonly #origin: string;
  readonly #policy: Policy;
  readonly #proof: (from: number, to: number) => Uint8Array[] | Promise<Uint8Array[]>;
  readonly #state: WitnessPushState | undefined;
  #ready: Promise<void>;
  readonly #isSequencer: () => boolean;
  /** Another server is the sequencer: do not push, publish what the shared state shows. */
  #following = false;
  /** A follower's re-read of the state is running (one at a time; `#refreshAgain` queues one more). */
  #refreshing = false;
  #refreshAgain = false;
  readonly #followTimer: ReturnType<typeof setInterval> | undefined;
  /** The stored state is restored (or there is none): pushes may begin. */
  #loaded: boolean;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #now: () => number;
  readonly #logger: Logger;
  #quorumMet = false;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  #latest: PusherCheckpoint | undefined;
  #target: PusherCheckpoint | undefined;
  /** A push of the current target has begun (until then a newer checkpoint replaces it). */
  #started = false;
  #published: { size: number; note: string } | undefined;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  #reportedShortfall = -1;

  constructor(opts: WitnessPusherOptions) {
    this.#origin = opts.origin;
    this.#policy = opts.policy;
    this.#proof = opts.consistencyProof;
    this.#state = opts.state;
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#maxRetries = opts.maxConflictRetries ?? 3;
    this.#now = opts.now ?? Date.now;
    this.#logger = (opts.logger ?? silentLogger).child({ component: 'witness-pusher' });
    this.#isSequencer = opts.isSequencer ?? (() => true);
    for (const w of opts.policy.witnesses.values()) {
      if (w.url === undefined) continue;
      this.#workers.push({
        name: w.name,
        url: w.url,
        verifier: w.verifier,
        minIntervalMs: opts.minIntervalMsByWitness?.[w.name] ?? opts.minIntervalMs ?? 10_000,
        knownSize: undefined,
        cosignedSize: undefined,
        doneSize: -1,
        busy: false,
        timer: undefined,
        abort: undefined,
        lastAttemptAt: undefined,
        lastSuccessAt: undefined,
        lastError: undefined,
        successes: 0,
        failures: 0,
      });
    }
    this.#loaded = this.#state === undefined;
    this.#ready = this.#state === undefined ? Promise.resolve() : this.#restore(this.#state);
    if (opts.isSequencer && this.#state) {
      this.#followTimer = setInterval(() => {
        // Re-reads the published checkpoint, or takes over pushing if elected meanwhile
        // (an election without a new checkpoint still pushes the newest one).
        if (this.#following && !this.#closed) {
          this.#setRole();
          this.#advance();
        }
      }, opts.followRefreshMs ?? 1000);
      this.#followTimer.unref?.();
    }
  }

  /**
   * Resolves once the stored state is restored: each witness's known size, and the newest
   * stored checkpoint whose stored cosignatures still meet the quorum (what {@link published}
   * returns until a newer one does). Checkpoints handed over before are pushed after it.
   * Never rejects: a state that cannot be read is reported and the pusher starts empty.
   */
  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Hands the pusher a newly signed checkpoint (call it from `log.onCheckpoint`). Older or
   * equal sizes than the newest one seen are ignored. Never throws for network reasons; pushes
   * run in the background (see {@link flush}).
   */
  onCheckpoint(cp: PusherCheckpoint): void {
    if (this.#closed) return;
    if (!cp.note.startsWith(`${this.#origin}\n`)) {
      this.#logger.warn({ size: cp.size }, 'checkpoint of another origin ignored');
      return;
    }
    if (this.#latest !== undefined && cp.size <= this.#latest.size) return;
    this.#latest = { size: cp.size, root: cp.root, note: cp.note };
    if (this.#policy.quorum === 'none') this.#publish(cp.size, cp.note);
    this.#setRole();
    this.#advance();
    this.#checkIdle();
  }

  /**
   * Follows the election (see the module comment): as a follower, re-reads what the shared
   * state publishes; on becoming the sequencer, re-reads each witness's size before pushing.
   */
  #setRole(): void {
    const following = this.#state !== undefined && !this.#isSequencer();
    if (following) {
      this.#following = true;
      this.#refresh();
    } else if (this.#following) {
      this.#following = false;
      this.#loaded = false;
      this.#ready = this.#restore(this.#state!, true);
    }
  }

  /** A follower's re-read of the published checkpoint from the shared state (never rejects). */
  #refresh(): void {
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return;
    }
    this.#refreshing = true;
    void (async () => {
      do {
        this.#refreshAgain = false;
        try {
          const stored = await this.#state!.loadCosignedCheckpoints(RESTORE_SIZES);
          // Never ahead of the checkpoint this server adopted: its reads are bounded by that one.
          this.#restorePublished(stored.filter((c) => c.size <= (this.#latest?.size ?? -1)));
        } catch (err) {
          this.#logger.warn(errorFields(err), 'cannot read the published checkpoint from the shared state');
        }
      } while (this.#refreshAgain && !this.#closed);
      this.#refreshing = false;
    })();
  }

  /**
   * The note `/checkpoint` should serve: the newest checkpoint whose gathered cosignature lines
   * satisfy the policy quorum, with those lines appended after the log's signature(s); or the
   * last one that did. Undefined until some checkpoint met the quorum (serve 503 then, or the
   * bare log checkpoint if clients do not require witnesses).
   */
  published(): string | undefined {
    return this.#published?.note;
  }

  /** Size of the checkpoint {@link published} returns, if any. */
  publishedSize(): number | undefined {
    return this.#published?.size;
  }

  /** A snapshot of what the pusher knows, for logs, metrics or a status endpoint. */
  status(): WitnessPusherStatus {
    return {
      origin: this.#origin,
      quorum: this.#policy.quorum,
      latestSize: this.#latest?.size,
      targetSize: this.#target?.size,
      publishedSize: this.#published?.size,
      upToDate: this.#latest !== undefined && this.#published?.size === this.#latest.size,
      quorumMet: this.#quorumMet,
      witnesses: [...this.#policy.witnesses.values()].map((w) => {
        const k = this.#workers.find((x) => x.name === w.name);
        return {
          name: w.name,
          url: w.url,
          knownSize: k?.knownSize,
          cosignedSize: k?.cosignedSize,
          lastAttemptAt: k?.lastAttemptAt,
          lastSuccessAt: k?.lastSuccessAt,
          lastError: k === undefined ? 'no URL in the policy: never contacted' : k.lastError,
          busy: k?.busy ?? false,
          successes: k?.successes ?? 0,
          failures: k?.failures ?? 0,
        };
      }),
    };
  }

  /**
   * Resolves once the pusher is idle: the newest checkpoint is the target, and every witness
   * finished with it (cosigned or failed) with no request or rate-budget timer pending.
   */
  async flush(): Promise<void> {
    await this.#ready;
    if (this.#isIdle()) return;
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops: cancels timers and in-flight requests; later checkpoints are ignored. */
  close(): void {
    this.#closed = true;
    if (this.#followTimer) clearInterval(this.#followTimer);
    for (const w of this.#workers) {
      if (w.timer) clearTimeout(w.timer);
      w.timer = undefined;
      w.abort?.abort();
    }
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const f of waiters) f();
  }

  #isIdle(): boolean {
    if (this.#closed || this.#latest === undefined || this.#following) return true;
    if (!this.#loaded) return false;
    const t = this.#target;
    if (t === undefined || t.size !== this.#latest.size) return false;
    return this.#workers.every((w) => !w.busy && w.timer === undefined && w.doneSize >= t.size);
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const f of waiters) f();
  }

  #targetResolved(): boolean {
    const t = this.#target;
    if (t === undefined) return true;
    if (this.#published !== undefined && this.#published.size >= t.size) return true;
    return this.#workers.every((w) => w.doneSize >= t.size);
  }

  /** Chooses a new target if the current one is resolved, and schedules every witness. */
  #advance(): void {
    if (this.#closed || !this.#loaded || this.#following || this.#latest === undefined) return;
    const t = this.#target;
    if (t === undefined || (this.#latest.size > t.size && (!this.#started || this.#targetResolved()))) {
      if (t !== undefined && this.#started && t.size !== this.#published?.size) this.#reportShortfall();
      this.#target = this.#latest;
      this.#started = false;
      if (!this.#pending.has(this.#target.size)) {
        this.#pending.set(this.#target.size, { cp: this.#target, cosigs: new Map() });
      }
      // Late cosignatures may still complete a recent round; older unfinished rounds are dropped.
      while (this.#pending.size > MAX_PENDING) this.#pending.delete(Math.min(...this.#pending.keys()));
    }
    for (const w of this.#workers) this.#schedule(w);
  }

  #schedule(w: Worker): void {
    const t = this.#target;
    if (this.#closed || this.#following || t === undefined || w.busy || w.timer !== undefined) return;
    if (w.doneSize >= t.size) return;
    const wait = w.lastAttemptAt === undefined ? 0 : w.lastAttemptAt + w.minIntervalMs - this.#now();
    if (wait > 0) {
      w.timer = setTimeout(() => {
        w.timer = undefined;
        this.#schedule(w);
        this.#checkIdle();
      }, wait);
      w.timer.unref?.();
      return;
    }
    this.#started = true;
    void this.#push(w, t);
  }

  async #push(w: Worker, cp: PusherCheckpoint): Promise<void> {
    w.busy = true;
    w.lastAttemptAt = this.#now();
    w.abort = new AbortController();
    try {
      const cosig = await this.#addCheckpoint(w, cp, w.abort.signal);
      w.lastSuccessAt = this.#now();
      w.successes++;
      w.lastError = undefined;
      w.cosignedSize = cp.size;
      this.#pending.get(cp.size)?.cosigs.set(w.name, cosig);
      this.#evaluate(cp.size);
      await Promise.all([this.#setKnownSize(w, cp.size), this.#storeCosignature(cp.size, w.name, cosig)]);
    } catch (err) {
      w.lastError = err instanceof Error ? err.message : String(err);
      if (!this.#closed) {
        w.failures++;
        this.#logger.warn(
          { witness: w.name, size: cp.size, ...errorFields(err) },
          `witness ${w.name}: checkpoint ${cp.size}: push failed`,
        );
      }
    } finally {
      w.busy = false;
      w.abort = undefined;
      w.doneSize = Math.max(w.doneSize, cp.size);
      this.#advance();
      this.#checkIdle();
    }
  }

  /** One push with bounded 409 retries; returns the verified cosignature or throws. */
  async #addCheckpoint(w: Worker, cp: PusherCheckpoint, signal: AbortSignal): Promise<WitnessCosignature> {
    let old = w.knownSize ?? 0;
    if (old > cp.size) old = 0; // the witness answers 409 with its size; handled below
    for (let attempt = 0; ; attempt++) {
      const proof = old === 0 || old === cp.size ? [] : await this.#proof(old, cp.size);
      const body = formatAddCheckpointRequest(old, proof, cp.note);
      const res = await this.#fetch(addCheckpointUrl(w.url), {
        method: 'POST',
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]),
      });
      const text = new TextDecoder().decode(
        await readCappedBytes(res, MAX_WITNESS_RESPONSE_BYTES, 'response body'),
      );
      if (res.status === 200) return verifyCosignature(cp.note, text, w.verifier);
      const type = res.headers.get('content-type') ?? '';
      if (res.status === 409 && type.split(';')[0]!.trim() === TLOG_SIZE_CONTENT_TYPE) {
        const size = parseTlogSize(text);
        if (size === undefined) throw new Error(`409 with a malformed ${TLOG_SIZE_CONTENT_TYPE} body`);
        await this.#setKnownSize(w, size);
        if (size > cp.size) {
          throw new Error(
            `witness has cosigned size ${size}, larger than our checkpoint ${cp.size}: a rollback or a split view`,
          );
        }
        if (size === old) throw new Error(`409 repeats our own old size ${old}`);
        if (attempt >= this.#maxRetries) throw new Error(`still conflicting after ${attempt + 1} attempts`);
        old = size;
        continue;
      }
      throw new Error(`HTTP ${res.status}: ${text.trim().slice(0, 200)}`);
    }
  }

  /** Publishes the largest pending size whose cosignatures satisfy the quorum. */
  #evaluate(size: number): void {
    const p = this.#pending.get(size);
    if (p === undefined || (this.#published !== undefined && size < this.#published.size)) return;
    const signers = [...p.cosigs.keys()].map((name) => {
      const v = this.#policy.witnesses.get(name)!.verifier;
      return { name: v.name, keyId: v.keyId };
    });
    if (!quorumSatisfied(this.#policy, signers)) return;
    const lines: string[] = [];
    for (const name of this.#policy.witnesses.keys()) {
      const c = p.cosigs.get(name);
      if (c !== undefined) lines.push(`${c.line}\n`);
    }
    const first = this.#published?.size !== size;
    this.#publish(size, p.cp.note + lines.join(''));
    this.#quorumMet = true;
    if (first)
      this.#logger.info(
        { size, quorum: this.#policy.quorum },
        `checkpoint ${size}: quorum ${this.#policy.quorum} met; published`,
      );
    for (const s of this.#pending.keys()) if (s < size) this.#pending.delete(s);
  }

  #publish(size: number, note: string): void {
    this.#published = { size, note };
  }

  #reportShortfall(): void {
    const t = this.#target!;
    if (this.#reportedShortfall === t.size) return;
    this.#reportedShortfall = t.size;
    const got = [...(this.#pending.get(t.size)?.cosigs.keys() ?? [])];
    this.#quorumMet = false;
    this.#logger.warn(
      {
        size: t.size,
        quorum: this.#policy.quorum,
        cosignedBy: got,
        published: this.#published?.size ?? null,
      },
      `checkpoint ${t.size}: quorum ${this.#policy.quorum} NOT met (cosigned by: ${got.join(', ') || 'none'}); ` +
        `still publishing ${this.#published ? `checkpoint ${this.#published.size}` : 'nothing'}`,
    );
  }

  /** Sets a witness's known size, and stores it (a failure to store is reported, not thrown). */
  async #setKnownSize(w: Worker, size: number): Promise<void> {
    w.knownSize = size;
    if (!this.#state) return;
    try {
      await this.#state.setWitnessSize(w.name, w.url, size, this.#now());
    } catch (err) {
      this.#logger.error({ witness: w.name, ...errorFields(err) }, 'cannot store the witness size');
    }
  }

  /** Stores a verified cosignature (a failure to store is reported, not thrown). */
  async #storeCosignature(size: number, witness: string, c: WitnessCosignature): Promise<void> {
    if (!this.#state) return;
    try {
      await this.#state.saveCosignature(size, witness, c.line, c.timestamp);
    } catch (err) {
      this.#logger.error({ witness, ...errorFields(err) }, 'cannot store the cosignature');
    }
  }

  /**
   * Loads the stored state (see {@link ready}), then starts pushing what arrived meanwhile.
   * The stored sizes win over what this process knew: on a shared database another server
   * may have pushed since (a witness's size only grows, and the store keeps the largest).
   */
  async #restore(state: WitnessPushState, takeover = false): Promise<void> {
    try {
      const known = await state.loadWitnessSizes();
      for (const w of this.#workers) w.knownSize = known.get(w.name) ?? w.knownSize;
      this.#restorePublished(await state.loadCosignedCheckpoints(RESTORE_SIZES));
    } catch (err) {
      this.#logger.error(errorFields(err), 'cannot restore the stored witness state');
    }
    if (takeover) this.#skipCosigned();
    this.#loaded = true;
    this.#advance();
    this.#checkIdle();
  }

  /**
   * On becoming the sequencer: a witness whose stored size covers the newest checkpoint, which
   * is already published with the quorum, has nothing to cosign until the next one.
   */
  #skipCosigned(): void {
    const latest = this.#latest;
    if (latest === undefined || (this.#published?.size ?? -1) < latest.size) return;
    for (const w of this.#workers) {
      if ((w.knownSize ?? -1) >= latest.size) w.doneSize = Math.max(w.doneSize, latest.size);
    }
  }

  /** Publishes the newest stored checkpoint whose stored cosignatures still satisfy the quorum. */
  #restorePublished(stored: readonly CosignedCheckpoint[]): void {
    for (const { size, note, cosignatures } of stored) {
      const cosigs = new Map<string, WitnessCosignature>();
      for (const r of cosignatures) {
        const w = this.#policy.witnesses.get(r.witness);
        if (w === undefined || cosigs.has(r.witness)) continue;
        try {
          cosigs.set(r.witness, verifyCosignature(note, `${r.line}\n`, w.verifier));
        } catch {
          // a line that no longer verifies under the current policy key: ignore it
        }
      }
      const cp = { size, root: new Uint8Array(32), note };
      this.#pending.set(size, { cp, cosigs });
      this.#evaluate(size);
      this.#pending.delete(size);
      // Older sizes than the published one can no longer be published.
      if (this.#published !== undefined && this.#published.size >= size) return;
    }
  }
}

/**
 * Verifies an add-checkpoint 200 body against the checkpoint: the body must be signature lines;
 * appended to the note, exactly the line(s) of `verifier` must verify (unknown lines are
 * ignored). Returns the witness's line and its timestamp; throws otherwise.
 */
export function verifyCosignature(
  note: string,
  body: string,
  verifier: CosignatureV1Verifier,
): WitnessCosignature {
  if (body.length === 0 || !body.endsWith('\n')) throw new Error('cosignature response is not note lines');
  let opened: ReturnType<typeof openNote>;
  try {
    opened = openNote(note + body, [verifier]);
  } catch (err) {
    throw new Error(`no valid cosignature from ${verifier.name}: ${(err as Error).message}`);
  }
  const sig = opened.verified[0]!;
  const timestamp = verifier.verifiedTimestamp(utf8(opened.text), sig.sig);
  if (timestamp === undefined) throw new Error(`cosignature from ${verifier.name} does not verify`);
  return { line: sig.line, timestamp };
}
