/**
 * A C2SP tlog-witness (c2sp.org/tlog-witness, HEAD behaviour; see spec/witness.md): verifies
 * `add-checkpoint` requests for configured logs (log signature, old size, consistency proof),
 * cosigns with cosignature/v1, keeps one (size, root, note) per origin in SQLite with an atomic
 * compare-and-swap, records requests that fail consistency as evidence, and serves the latest
 * cosigned checkpoint per origin for monitors plus the evidence it holds.
 */
import { Hono } from 'hono';
import { bytesEqual, fromUtf8, toBase64 } from '../core/bytes.js';
import { type Checkpoint, parseCheckpoint } from '../core/checkpoint.js';
import { type CosignatureV1Signer, cosignatureV1Line } from '../core/cosignature.js';
import { logKeysOrigin } from '../core/log-keys.js';
import { errorFields, type Logger, silentLogger } from '../core/logger.js';
import { EMPTY_ROOT, verifyConsistency } from '../core/merkle.js';
import { type NoteVerifier, newEd25519Verifier, type ParsedNote, parseNote } from '../core/note.js';
import { readCappedBytes } from '../core/read-body.js';
import {
  type AddCheckpointRequest,
  AddCheckpointSyntaxError,
  formatTlogSize,
  MAX_ADD_CHECKPOINT_BODY,
  originHash,
  parseAddCheckpointRequest,
  TLOG_SIZE_CONTENT_TYPE,
} from '../core/witness-protocol.js';
import type { EvidenceKind, WitnessEvidence, WitnessLogState, WitnessStore } from '../store/witness-store.js';
import { openLogCheckpoint } from './log-signature.js';

/** A log the witness accepts checkpoints from. */
export interface WitnessLog {
  /** The checkpoint origin (the key name of every verifier). */
  origin: string;
  /**
   * Trusted log keys for this origin (several during a signer key rotation): one valid
   * signature by any of them suffices, and every line by any of them must verify.
   */
  verifiers: NoteVerifier[];
  /** The log's base URL, used by gossip to fetch consistency proofs (optional). */
  url?: string;
}

/** Options of {@link Witness}. */
export interface WitnessOptions {
  /** The cosigner key (its name is the witness name). */
  signer: CosignatureV1Signer;
  /** The logs this witness serves. */
  logs: readonly WitnessLog[];
  /** State and evidence. */
  store: WitnessStore;
}

/** An HTTP answer of {@link Witness.addCheckpoint}. */
export interface WitnessReply {
  status: 200 | 400 | 403 | 404 | 409 | 422;
  body: string;
  contentType: string;
}

/** An add-checkpoint request that passed every check needing no stored state. */
interface CheckedRequest {
  req: AddCheckpointRequest;
  /** The checkpoint text (the signed part of the note). */
  text: string;
  cp: Checkpoint;
  /** The log's verified signature lines. */
  logLines: string[];
}

const TEXT = 'text/plain; charset=utf-8';

function reply(status: WitnessReply['status'], message: string): WitnessReply {
  return { status, body: `${message}\n`, contentType: TEXT };
}

/**
 * Builds the log list from vkey specs `<vkey>` or `<vkey> <url>` (whitespace separated, like a
 * tlog-policy `log` line). Several vkeys with one origin are merged (a signer key rotation:
 * any of them may sign); the same key twice, or two different URLs for one origin, are errors.
 */
export function witnessLogsFromSpecs(specs: readonly string[]): WitnessLog[] {
  const byOrigin = new Map<string, WitnessLog>();
  for (const spec of specs) {
    const items = spec.trim().split(/[ \t]+/);
    if (items.length < 1 || items.length > 2 || items[0] === '') {
      throw new Error(`log spec ${JSON.stringify(spec)}: expected "<vkey> [<url>]"`);
    }
    const verifier = newEd25519Verifier(items[0]!);
    const log = byOrigin.get(verifier.name) ?? { origin: verifier.name, verifiers: [] };
    log.verifiers.push(verifier);
    logKeysOrigin(log.verifiers);
    const url = items[1];
    if (url !== undefined && log.url !== undefined && log.url !== url) {
      throw new Error(`log ${log.origin}: two URLs (${log.url}, ${url}); give it once`);
    }
    if (url !== undefined) log.url = url;
    byOrigin.set(verifier.name, log);
  }
  return [...byOrigin.values()];
}

/** The witness logic, independent of HTTP. */
export class Witness {
  /** The cosigner (name, key ID, vkey). */
  readonly signer: CosignatureV1Signer;
  /** State and evidence. */
  readonly store: WitnessStore;
  readonly #logs = new Map<string, WitnessLog>();
  readonly #byHash = new Map<string, string>();

  constructor(opts: WitnessOptions) {
    this.signer = opts.signer;
    this.store = opts.store;
    for (const l of opts.logs) {
      if (logKeysOrigin(l.verifiers) !== l.origin) {
        throw new Error(`log ${l.origin}: every key name must equal the origin`);
      }
      this.#logs.set(l.origin, l);
      this.#byHash.set(originHash(l.origin), l.origin);
    }
  }

  /** The configured logs. */
  logs(): WitnessLog[] {
    return [...this.#logs.values()];
  }

  /** The configured log of `origin`, if any. */
  log(origin: string): WitnessLog | undefined {
    return this.#logs.get(origin);
  }

  /**
   * Handles one add-checkpoint request body. Check order (status): body size and syntax,
   * checkpoint syntax (400) → unknown origin (404) → log signature: one by a configured key of
   * the origin, and no failing line by any of them, repeats included (403) → old > size (400) →
   * size-0 root not empty, or proof lines with old 0 (422) → old ≠ stored size (409, body
   * `<size>\n`, `text/x.tlog.size`) → old = size with another root, or proof lines with
   * old = size, or a failing consistency proof (422, recorded as evidence) → store, cosign (200).
   */
  addCheckpoint(body: string | Uint8Array): WitnessReply {
    const checked = this.#checkRequest(body);
    if ('status' in checked) return checked;
    return this.store.exclusive(() => this.#compareAndCosign(checked));
  }

  /**
   * The checks that need no stored state, in the order of {@link addCheckpoint}: body size and
   * syntax, checkpoint syntax, origin, log signature, old size, size-0 root, proof lines with
   * old 0. Returns the parsed request, or the reply refusing it.
   */
  #checkRequest(body: string | Uint8Array): CheckedRequest | WitnessReply {
    if (body.length > MAX_ADD_CHECKPOINT_BODY) return reply(400, 'request body too large');
    const text = typeof body === 'string' ? body : fromUtf8(body);
    if (text === undefined) return reply(400, 'request body is not valid UTF-8');
    let req: AddCheckpointRequest;
    let parsed: ParsedNote;
    let cp: Checkpoint;
    try {
      req = parseAddCheckpointRequest(text);
      parsed = parseNote(req.note);
      cp = parseCheckpoint(parsed.text);
    } catch (err) {
      const what = err instanceof AddCheckpointSyntaxError ? 'malformed request' : 'malformed checkpoint';
      return reply(400, `${what}: ${(err as Error).message}`);
    }
    const log = this.#logs.get(cp.origin);
    if (log === undefined) return reply(404, `unknown log ${cp.origin}`);
    let logLines: string[];
    try {
      logLines = openLogCheckpoint(req.note, log.verifiers).note.verified.map((s) => s.line);
    } catch (err) {
      return reply(403, `invalid signature: ${(err as Error).message}`);
    }
    if (req.oldSize > cp.size) {
      return reply(400, `old size ${req.oldSize} is larger than the checkpoint size ${cp.size}`);
    }
    if (cp.size === 0 && !bytesEqual(cp.rootHash, EMPTY_ROOT)) {
      return reply(422, 'checkpoint of size 0 does not have the empty-tree root');
    }
    if (req.oldSize === 0 && req.proof.length > 0) {
      return reply(422, 'consistency proof must be empty when old size is 0');
    }
    return { req, text: parsed.text, cp, logLines };
  }

  /**
   * The compare-and-swap (run inside {@link WitnessStore.exclusive}): a same-size fork is
   * recorded as evidence; old ≠ stored size is a 409; then the checkpoint must extend the stored
   * one ({@link #consistencyFailure}); only then is it stored and cosigned.
   */
  #compareAndCosign(r: CheckedRequest): WitnessReply {
    const { req, cp } = r;
    const state = this.store.get(cp.origin);
    const known = state?.size ?? 0;
    if (state !== undefined && cp.size === state.size && !bytesEqual(cp.rootHash, state.root)) {
      this.#recordEvidence(
        r,
        state,
        'same_size_different_root',
        `log signed size ${cp.size} with root ${toBase64(cp.rootHash)}, we cosigned ${toBase64(state.root)}`,
      );
    }
    if (req.oldSize !== known) {
      return { status: 409, body: formatTlogSize(known), contentType: TLOG_SIZE_CONTENT_TYPE };
    }
    const failure = this.#consistencyFailure(r, state);
    if (failure !== undefined) return failure;
    const line = cosignatureV1Line(this.signer, r.text);
    const stored = `${r.text}\n${r.logLines.map((l) => `${l}\n`).join('')}${line}`;
    this.store.put(cp.origin, cp.size, cp.rootHash, stored);
    return { status: 200, body: line, contentType: TEXT };
  }

  /**
   * With old = the stored size: the 422 refusing a checkpoint that does not extend the stored
   * one (another root at the same size, proof lines with old = size, or a failing consistency
   * proof, the last recorded as evidence); undefined when it does extend it.
   */
  #consistencyFailure(r: CheckedRequest, state: WitnessLogState | undefined): WitnessReply | undefined {
    const { req, cp } = r;
    const knownRoot = state?.root ?? EMPTY_ROOT;
    if (req.oldSize === cp.size) {
      if (!bytesEqual(cp.rootHash, knownRoot)) {
        return reply(422, `root hash differs from the cosigned checkpoint of size ${cp.size}`);
      }
      if (req.proof.length > 0) return reply(422, 'consistency proof must be empty when old size = size');
      return undefined;
    }
    try {
      verifyConsistency(req.oldSize, cp.size, knownRoot, cp.rootHash, req.proof);
      return undefined;
    } catch (err) {
      if (state !== undefined) {
        this.#recordEvidence(
          r,
          state,
          'inconsistent_proof',
          `consistency proof ${req.oldSize} -> ${cp.size} failed: ${(err as Error).message}`,
        );
      }
      return reply(422, `invalid consistency proof: ${(err as Error).message}`);
    }
  }

  /** Records this request as evidence against the log (it is never cosigned). */
  #recordEvidence(r: CheckedRequest, state: WitnessLogState, kind: EvidenceKind, detail: string): void {
    this.store.addEvidence({
      origin: r.cp.origin,
      kind,
      source: 'add-checkpoint',
      ours: state.note,
      theirs: r.req.note,
      fromSize: r.req.oldSize,
      proof: r.req.proof.map(toBase64),
      proofSource: undefined,
      detail,
    });
  }

  /** The latest cosigned note for the origin whose lowercase hex SHA-256 is `hash`, if any. */
  checkpointByOriginHash(hash: string): string | undefined {
    const origin = this.#byHash.get(hash);
    return origin === undefined ? undefined : this.store.get(origin)?.note;
  }

  /** All recorded evidence. */
  evidence(): WitnessEvidence[] {
    return this.store.evidence();
  }
}

/** JSON form of one piece of evidence (GET /evidence). */
export function evidenceJson(e: WitnessEvidence): Record<string, unknown> {
  return {
    id: e.id,
    origin: e.origin,
    kind: e.kind,
    source: e.source,
    detected_at: new Date(e.detectedAt).toISOString(),
    ours: e.ours ?? null,
    theirs: e.theirs,
    from_size: e.fromSize ?? null,
    proof: e.proof,
    proof_source: e.proofSource ?? null,
    detail: e.detail,
  };
}

/**
 * The witness HTTP API (submission and monitoring prefix are both the root):
 *   POST /add-checkpoint                 tlog-witness
 *   GET  /<hex sha256(origin)>/checkpoint latest cosigned checkpoint (404 if none)
 *   GET  /evidence                        recorded evidence, JSON
 *   GET  /                                witness name, vkey and logs, JSON
 */
export function createWitnessApp(witness: Witness, logger: Logger = silentLogger): Hono {
  const app = new Hono();
  app.post('/add-checkpoint', async (c) => {
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > MAX_ADD_CHECKPOINT_BODY)
      return c.body('request body too large\n', 400, { 'Content-Type': TEXT });
    let body: Uint8Array;
    try {
      // Counted as it streams: a chunked body without Content-Length is capped too.
      body = await readCappedBytes(c.req.raw, MAX_ADD_CHECKPOINT_BODY);
    } catch {
      return c.body('request body too large\n', 400, { 'Content-Type': TEXT });
    }
    const r = witness.addCheckpoint(body);
    return c.body(r.body, r.status, { 'Content-Type': r.contentType });
  });
  app.get('/evidence', (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json({ evidence: witness.evidence().map(evidenceJson) });
  });
  app.get('/', (c) =>
    c.json({
      name: witness.signer.name,
      vkey: witness.signer.vkey,
      logs: witness.logs().map((l) => ({ origin: l.origin, origin_hash: originHash(l.origin) })),
    }),
  );
  app.get('/:hash/checkpoint', (c) => {
    const hash = c.req.param('hash');
    if (!/^[0-9a-f]{64}$/.test(hash))
      return c.body('not a lowercase hex SHA-256\n', 404, { 'Content-Type': TEXT });
    const note = witness.checkpointByOriginHash(hash);
    if (note === undefined)
      return c.body('no cosigned checkpoint for this origin\n', 404, { 'Content-Type': TEXT });
    c.header('Cache-Control', 'no-store');
    return c.body(note, 200, { 'Content-Type': TEXT });
  });
  app.notFound((c) => c.body(`no route for ${c.req.method} ${c.req.path}\n`, 404, { 'Content-Type': TEXT }));
  app.onError((err, c) => {
    logger.error({ method: c.req.method, ...errorFields(err), stack: err.stack }, 'internal error');
    return c.body('internal error\n', 500, { 'Content-Type': TEXT });
  });
  return app;
}
