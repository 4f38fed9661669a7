#!/usr/bin/env node
/**
 * Trains, writes and measures the deflate dictionary of stored payloads
 * (src/store/payload-dictionary.ts, format tag 0x1c in src/store/payload-codec.ts).
 *
 *   npx tsc -p tsconfig.bench.json && node scripts/payload-dictionary.mjs [--write] [--measure]
 *
 * Training data: the 50 synthetic OPA decisions of test/fixtures/opa/upload-batch.json (our own
 * data, see its README), each as the deterministic CBOR the log stores. Method: a dictionary
 * made of whole sample payloads, picked greedily (each time the sample that most shrinks the
 * deflated size of the remaining samples), within 8 KiB. Tried first and dropped: the runs of
 * 8-byte substrings shared by several samples (a small cousin of zstd's cover trainer): 175 B per
 * payload against 108 B for the greedy pick at the same size.
 *
 * --measure: 10,000 payloads from the benchmark's generator (bench/opa.ts makeEvent: fixture
 * templates with fresh ids, times, timings, ports), compressed per payload at levels 1..6, with
 * a dictionary trained on all 50 templates and, to show how it does on decisions it has not
 * seen, one trained on the even templates and measured on the odd ones only. Prints the table
 * spec/storage.md quotes ("Payload compression").
 *
 * The shipped dictionary v1 must never change (stored rows need it to inflate); a new one is a
 * new format tag.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, gzipSync, inflateRawSync } from 'node:zlib';

const root = join(import.meta.dirname, '..');
const build = join(root, '.bench-build');
const { parseJson } = await import(join(build, 'src/core/json.js'));
const { encodeDeterministic } = await import(join(build, 'src/core/cbor.js'));
const { makeEvent } = await import(join(build, 'bench/opa.js'));

/**
 * Budget of the dictionary. Measured (--measure): zlib takes a dictionary in at every call, so
 * its CPU cost grows with its size (27 KiB: ~3x the call of 4 KiB) for a few bytes less per
 * payload (8 KiB: 5 B less); the writer's CPU is scarcer than disk.
 */
const MAX_DICT = 4 * 1024;

/** The CBOR the log stores for an event (as ingest makes it: lossless parse, deterministic CBOR). */
const cborOf = (event) => encodeDeterministic(parseJson(JSON.stringify(event)));

/** Mean deflated size of `samples` with dictionary `dict` (the level the codec uses). */
const meanSize = (samples, dict) =>
  samples.reduce((n, s) => n + deflateRawSync(s, { level: 6, dictionary: dict }).length, 0) / samples.length;

/**
 * The dictionary trained on `samples` (CBOR payloads), at most `max` bytes: whole samples,
 * picked greedily, each time the one that most shrinks the others, until the next would
 * not fit; the first pick is laid out last (deflate codes near matches in fewer bits).
 */
export function train(samples, max = MAX_DICT) {
  let picked = [];
  let size = 0;
  for (;;) {
    let best;
    for (const [i, s] of samples.entries()) {
      if (picked.includes(i) || size + s.length > max) continue;
      const dict = Buffer.concat([s, ...picked.map((j) => samples[j])].reverse());
      const others = samples.filter((_, j) => j !== i && !picked.includes(j));
      const score = meanSize(others, dict);
      if (best === undefined || score < best.score) best = { i, score };
    }
    if (best === undefined) break;
    picked = [...picked, best.i];
    size += samples[best.i].length;
  }
  return Buffer.concat(picked.map((j) => samples[j]).reverse());
}

const templates = JSON.parse(
  (await import('node:fs')).readFileSync(join(root, 'test/fixtures/opa/upload-batch.json'), 'utf8'),
);

function writeDictionary(dict) {
  const b64 = dict.toString('base64');
  // Laid out as biome formats it: first line indented 2, continuation lines 4.
  const lines = b64.match(/.{1,96}/g).map((l, i) => `${i === 0 ? '  ' : '    '}'${l}' +`);
  const src = `/**
 * Deflate dictionary v1 of stored payloads (format tag 0x1c, see payload-codec.ts): ${dict.length}
 * bytes, whole CBOR payloads of synthetic OPA decisions (test/fixtures/opa/upload-batch.json)
 * picked greedily by scripts/payload-dictionary.mjs (method and measurements there and in
 * spec/storage.md). Generated: do not edit. Never change it either: rows stored with it
 * need these exact bytes to inflate; a new dictionary is a new format tag.
 */
export const PAYLOAD_DICTIONARY_V1: Uint8Array = Buffer.from(
${lines.join('\n').slice(0, -2)},
  'base64',
);
`;
  writeFileSync(join(root, 'src/store/payload-dictionary.ts'), src);
  console.log(`wrote src/store/payload-dictionary.ts (${dict.length} bytes)`);
}

function measure(dict, payloads, level) {
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  for (const p of payloads)
    bytes += Math.min(p.length, 1 + deflateRawSync(p, { level, dictionary: dict }).length);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / payloads.length;
  return { bytes: bytes / payloads.length, us };
}

async function measureAll() {
  const N = 10_000;
  const events = Array.from({ length: N }, (_, i) => makeEvent(i));
  const all = events.map(cborOf);
  const odd = all.filter((_, i) => (i % templates.length) % 2 === 1);
  const cbor = all.reduce((n, p) => n + p.length, 0) / N;
  const json = events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0) / N;
  const perBody = 400;
  let gz = 0;
  for (let i = 0; i + perBody <= N; i += perBody) {
    gz += gzipSync(Buffer.from(JSON.stringify(events.slice(i, i + perBody))), { level: 6 }).length;
  }
  gz /= Math.floor(N / perBody) * perBody;
  let batch = 0;
  for (let i = 0; i + 256 <= N; i += 256)
    batch += deflateRawSync(Buffer.concat(all.slice(i, i + 256)), { level: 6 }).length;
  batch /= Math.floor(N / 256) * 256;
  console.log(`payloads: ${N}; JSON ${json.toFixed(1)} B, CBOR ${cbor.toFixed(1)} B per decision`);
  console.log(`gzip upload (level 6, ${perBody} decisions per body): ${gz.toFixed(1)} B per decision`);
  console.log(
    `batch deflate of 256 CBOR payloads, no dictionary (not kept: see spec): ${batch.toFixed(1)} B`,
  );
  const full = train(templates.map(cborOf));
  const big = train(templates.map(cborOf), 32 * 1024);
  const mid = train(templates.map(cborOf), 8 * 1024);
  const even = train(templates.filter((_, i) => i % 2 === 0).map(cborOf));
  const variants = [
    ['none', Buffer.alloc(0), all],
    [`v1: all 50 (${full.length} B)`, full, all],
    [`even 25, odd only (${even.length} B)`, even, odd],
    [`all 50, 8 KiB budget (${mid.length} B)`, mid, all],
    [`all 50, 32 KiB budget (${big.length} B)`, big, all],
  ];
  console.log('| dictionary | level | stored B/payload | vs CBOR | compress µs CPU |');
  console.log('|---|---|---|---|---|');
  for (const [name, dict, set] of variants) {
    const c = set.reduce((n, p) => n + p.length, 0) / set.length;
    for (const level of [1, 6, 9]) {
      measure(dict, set.slice(0, 500), level); // warm-up
      const m = measure(dict, set, level);
      console.log(
        `| ${name} | ${level} | ${m.bytes.toFixed(1)} | ${(m.bytes / c).toFixed(3)} | ${m.us.toFixed(1)} |`,
      );
    }
  }
  const stored = all.map((p) => deflateRawSync(p, { level: 6, dictionary: full }));
  const t0 = process.cpuUsage();
  for (const z of stored) inflateRawSync(z, { dictionary: full });
  const t = process.cpuUsage(t0);
  console.log(`inflate with v1: ${((t.user + t.system) / all.length).toFixed(1)} µs CPU per payload`);
  const { encodeStoredPayload, PAYLOAD_FAST_DEFLATE } = await import(
    join(build, 'src/store/payload-codec.js')
  );
  const e0 = process.cpuUsage();
  for (const p of all) encodeStoredPayload(p);
  const e = process.cpuUsage(e0);
  const per = ((e.user + e.system) / all.length).toFixed(1);
  console.log(`the codec (reused context: ${PAYLOAD_FAST_DEFLATE}): ${per} µs CPU per payload`);
}

if (process.argv.includes('--write')) writeDictionary(train(templates.map(cborOf)));
if (process.argv.includes('--measure')) await measureAll();
