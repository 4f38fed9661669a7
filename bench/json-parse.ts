/**
 * JSON parse micro benchmark (issue 11): main-thread cost per decision of the lossless JSON path
 * of an OPA upload, old (the test oracle, test/core/json-oracle/) against new (src/core) against
 * native JSON.parse, on OPA-shaped bodies of 446 decisions built from the shared samples (some
 * with 19-digit integers). Old and new run interleaved in one process, round after round, so
 * their ratio is meaningful on a shared machine (absolute numbers are not).
 *
 *   npx tsc -p tsconfig.bench.json && node .bench-build/bench/json-parse.js [--rounds=N] [--case=PREFIX]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseJson } from '../src/core/json.js';
import { JsonByteGuard } from '../src/core/json-guard.js';
import { parseJson as oldParseJson, stringifyJson } from '../test/core/json-oracle/json.js';
import { JsonByteGuard as OldJsonByteGuard } from '../test/core/json-oracle/json-guard.js';
import { ROOT } from './lib.js';

const DECISIONS = 446;
const BODIES = 20;

/** Upload bodies as OPA sends them: `[e,...]`, fresh decision ids, exact integers kept. */
function bodies(): string[] {
  const raw = readFileSync(join(ROOT, 'test', 'fixtures', 'opa', 'upload-batch.json'), 'utf8');
  const events = oldParseJson(raw) as Record<string, unknown>[];
  const out: string[] = [];
  for (let b = 0; b < BODIES; b++) {
    const items: string[] = [];
    for (let i = 0; i < DECISIONS; i++) {
      const e = { ...events[(b * DECISIONS + i) % events.length]!, decision_id: crypto.randomUUID() };
      items.push(stringifyJson(e as Parameters<typeof stringifyJson>[0]));
    }
    out.push(`[${items.join(',')}]`);
  }
  return out;
}

/**
 * One round: each case over every body in turn, ns per case. (Interleaving body by body charged
 * one case's garbage to the next one's collections: the old parser's copies cost it a third of
 * its time in the collector. Rounds alternate the order, and with --expose-gc the heap is
 * collected before each case.)
 */
function round(texts: string[], cases: [string, (s: string, i: number) => void][]): number[] {
  const gc = (globalThis as { gc?: () => void }).gc;
  return cases.map(([, fn]) => {
    gc?.(); // each case starts on a clean heap, and pays the collections its own garbage causes
    const t = process.hrtime.bigint();
    texts.forEach(fn);
    return Number(process.hrtime.bigint() - t);
  });
}

function main(): void {
  const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 30);
  const texts = bodies();
  const bytes = texts.map((t) => Buffer.from(t, 'utf8'));
  const lim = { maxItems: 100_000 };
  const cases: Record<string, (s: string, i: number) => void> = {
    'new parse': (s) => parseJson(s, lim),
    'old parse': (s) => oldParseJson(s, lim),
    'native JSON.parse': (s) => JSON.parse(s),
    'old guard': (_, i) => new OldJsonByteGuard(lim).push(bytes[i]!),
    'new guard': (_, i) => new JsonByteGuard(lim).push(bytes[i]!),
  };
  // --case=PREFIX: only the cases so named (e.g. one parser alone in its own process).
  const only = process.argv.find((a) => a.startsWith('--case='))?.slice(7) ?? '';
  const list = Object.entries(cases).filter(([name]) => name.startsWith(only));
  const perRound: number[][] = list.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const ns = round(texts, r % 2 ? list.slice().reverse() : list);
    const ordered = r % 2 ? ns.slice().reverse() : ns;
    if (r < 3) continue; // warm-up
    ordered.forEach((n, c) => {
      perRound[c]!.push(n / 1e3 / (texts.length * DECISIONS));
    });
  }
  // The median round: a shared machine slows some rounds down, whichever case they hit.
  const best: Record<string, number> = {};
  const fastest: Record<string, number> = {};
  list.forEach(([name], c) => {
    const xs = perRound[c]!.sort((x, y) => x - y);
    best[name] = xs[xs.length >> 1]!;
    fastest[name] = xs[0]!;
  });
  const size = texts.reduce((n, t) => n + t.length, 0) / (texts.length * DECISIONS);
  console.log(
    `${BODIES} bodies x ${DECISIONS} decisions, ~${size.toFixed(0)} chars/decision; median of ${rounds - 3} rounds, order alternating`,
  );
  for (const [name, us] of Object.entries(best))
    console.log(
      `${name.padEnd(18)} ${us.toFixed(2)} us/decision (fastest round ${fastest[name]!.toFixed(2)})`,
    );
  if (only) return;
  const old = best['old parse']! + best['old guard']!;
  const now = best['new parse']! + best['new guard']!;
  console.log(
    `guard + parse: old ${old.toFixed(2)}, new ${now.toFixed(2)} us/decision (x${(old / now).toFixed(2)})`,
  );
}

main();
