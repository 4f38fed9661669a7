/**
 * Payload bundles (src/store/payload-bundles.ts, spec/storage.md "Payload bundles"): SQLite
 * keeps a full bundle's 256 salts and payloads as one blob, the partial bundle as raw rows;
 * every payload reads back exactly, through a bundle fill, a resend, an erasure (of a leaf in
 * a blob, in the rows, in the same batch) and a reopen, and an erased salt or payload is in no
 * file afterwards.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { eventLeaf } from '../../src/log/leaf.js';
import { nodeSha256 } from '../../src/log/log.js';
import type { AppendItem } from '../../src/store/log-storage.js';
import {
  decodePayloadBundle,
  encodePayloadBundle,
  payloadBundleSalts,
} from '../../src/store/payload-bundles.js';
import { encodeStoredPayload, PAYLOAD_DEFLATE_V1 } from '../../src/store/payload-codec.js';
import { engines, storagesClosedAfterEach } from '../helpers/engines.js';
import { erasureItem } from '../helpers/items.js';

const sqlite = engines.find((e) => e.name === 'sqlite')!;
const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

/** An OPA-shaped decision whose every text holds `marker`. */
const decision = (i: number, marker: string) => ({
  decision_id: `d-${i}`,
  labels: { id: 'opa-1', version: '1.0.0' },
  path: 'authz/allow',
  input: { user: `${marker}-user`, resource: `/doc/${i}`, note: `${marker} note` },
  result: i % 3 !== 0,
  timestamp: '2026-01-15T10:30:00.123Z',
});
const leaf = (i: number, marker = `m${i}x`): AppendItem =>
  eventLeaf(
    { kind: 'opa.decision', source: 'opa-1', id: `d-${i}`, event: decision(i, marker) },
    1000 + i,
    nodeSha256,
  );
const erasure = erasureItem;

const { open, close } = storagesClosedAfterEach();
const count = async (loc: string, table: string) =>
  Number((await sqlite.sql(loc, `SELECT count(*) AS n FROM ${table}`))[0]!.n);

describe('payload bundle blob', () => {
  test('round-trips salts and payloads, with empty slots; a damaged blob throws', () => {
    const slots = Array.from({ length: 256 }, (_, i) =>
      i % 5 === 0 ? undefined : { salt: new Uint8Array(32).fill(i), payload: new Uint8Array(i % 7).fill(i) },
    );
    const back = decodePayloadBundle(encodePayloadBundle(slots));
    expect(back.map((s) => (s ? [hex(s.salt), hex(s.payload)] : null))).toEqual(
      slots.map((s) => (s ? [hex(s.salt), hex(s.payload)] : null)),
    );
    const blob = encodePayloadBundle(slots);
    // The salt-only read (no inflate) finds every slot's salt, and none where there is none.
    expect(payloadBundleSalts(blob).map((s) => hex(s) ?? null)).toEqual(
      slots.map((s) => (s ? hex(s.salt) : null)),
    );
    expect(() => decodePayloadBundle(blob.subarray(0, 100))).toThrow();
    expect(() => decodePayloadBundle(Uint8Array.of(2, 0, 0))).toThrow(/format/);
  });
});

describe('sqlite stores payloads per bundle', () => {
  test('a filled bundle is one blob, smaller than its CBOR; the partial one rows; all read back', async () => {
    const loc = await sqlite.location();
    const s = await open(loc);
    const items = Array.from({ length: 600 }, (_, i) => leaf(i));
    // Three commits, the first bundle filled across two of them.
    await s.append(items.slice(0, 100));
    await s.append(items.slice(100, 530));
    await s.append(items.slice(530));
    expect(await count(loc, 'payload_bundles')).toBe(2);
    expect(await count(loc, 'payloads')).toBe(600 - 512);
    const cbor = items.slice(0, 512).reduce((n, it) => n + it.payload!.length, 0);
    const stored = await sqlite.sql(loc, 'SELECT sum(length(data)) AS n FROM payload_bundles');
    expect(Number(stored[0]!.n)).toBeLessThan(cbor / 2);
    for (const [i, it] of items.entries()) {
      const p = await s.payload(i);
      expect([i, hex(p?.salt), hex(p?.payload)]).toEqual([i, hex(it.salt), hex(it.payload)]);
    }
    // A resend of a leaf in a blob and of one in the rows: the same leaves, no new ones.
    const again = (await s.append([leaf(3), leaf(590)])).results;
    expect(again).toEqual([
      { index: 3, duplicate: true },
      { index: 590, duplicate: true },
    ]);
    // The same ids with other content: a conflict, proved against the salt in the blob.
    const other = (await s.append([leaf(4, 'other')])).results;
    expect(other).toEqual([{ index: 600, duplicate: false, conflictsWith: 4 }]);
  });

  test('rows written compressed before migration 9 join their bundle when it fills', async () => {
    const loc = await sqlite.location();
    const s = await open(loc);
    const items = Array.from({ length: 300 }, (_, i) => leaf(i));
    await s.append(items.slice(0, 100));
    for (let i = 0; i < 100; i++) {
      const row = await sqlite.sql(loc, 'SELECT payload FROM payloads WHERE idx = ?', [i]);
      const stored = encodeStoredPayload(row[0]!.payload as Uint8Array);
      expect(stored[0]).toBe(PAYLOAD_DEFLATE_V1);
      await sqlite.sql(loc, 'UPDATE payloads SET payload = ? WHERE idx = ?', [Buffer.from(stored), i]);
    }
    await s.append(items.slice(100));
    expect(await count(loc, 'payload_bundles')).toBe(1);
    for (const i of [0, 50, 99, 100, 255, 256, 299]) {
      expect([i, hex((await s.payload(i))?.payload)]).toEqual([i, hex(items[i]!.payload)]);
    }
  });

  test('a resend is confirmed by its salt from the blob; after an erasure, as if never read', async () => {
    // Log A confirms resends of leaves 20 and 21 (their bundle's salts now read) before leaf
    // 20 is erased; log B never resent before the erasure. A resend after it answers the same.
    const items = Array.from({ length: 300 }, (_, i) => leaf(i));
    const run = async (warm: boolean) => {
      const s = await open(await sqlite.location());
      await s.append(items);
      if (warm) {
        const again = await s.append([items[20]!, items[21]!]);
        expect(again.results).toEqual([
          { index: 20, duplicate: true },
          { index: 21, duplicate: true },
        ]);
      }
      await s.append([erasure(20)]);
      const after = await s.append([items[20]!, items[21]!]);
      await close(s);
      return after.results;
    };
    const a = await run(true);
    expect(a[1]).toEqual({ index: 21, duplicate: true });
    expect(a[0]!.index === 20 && a[0]!.duplicate).toBe(false);
    expect(a).toEqual(await run(false));
  });

  test('erasure in a blob, in the rows and in the filling batch; nothing erased left on disk', async () => {
    const loc = await sqlite.location();
    let s = await open(loc);
    const items = Array.from({ length: 300 }, (_, i) => leaf(i, `secret${i}q`));
    await s.append(items.slice(0, 200));
    // Leaf 150 (a row) and leaf 10 (a row) erased by the batch that fills bundle 0.
    await s.append([...items.slice(200, 300), erasure(150), erasure(10)]);
    // Leaf 20 is in the blob now; leaf 290 in the rows.
    await s.append([erasure(20), erasure(290)]);
    for (const i of [10, 20, 150, 290]) expect([i, await s.payload(i)]).toEqual([i, undefined]);
    for (const i of [0, 11, 19, 21, 255, 256, 289, 299]) {
      expect([i, hex((await s.payload(i))?.payload)]).toEqual([i, hex(items[i]!.payload)]);
    }
    await close(s);
    s = await open(loc);
    expect(await s.payload(20)).toBeUndefined();
    expect(hex((await s.payload(21))?.payload)).toBe(hex(items[21]!.payload));
    await close(s);
    // On disk: no erased salt in any file, no erased text in any blob or row once inflated.
    const files = readdirSync(dirname(loc)).map((f) => readFileSync(join(dirname(loc), f)));
    for (const i of [10, 20, 150, 290]) {
      const salt = Buffer.from(items[i]!.salt!);
      expect([i, files.some((f) => f.includes(salt))]).toEqual([i, false]);
    }
    const blobs = await sqlite.sql(loc, 'SELECT data FROM payload_bundles');
    const texts = blobs
      .flatMap((b) => decodePayloadBundle(b.data as Uint8Array))
      .map((p) => (p ? Buffer.from(p.payload).toString('latin1') : ''))
      .join('\n');
    const rows = await sqlite.sql(loc, 'SELECT payload FROM payloads');
    const all = texts + rows.map((r) => Buffer.from(r.payload as Uint8Array).toString('latin1')).join('\n');
    for (const i of [10, 20, 150, 290]) expect([i, all.includes(`secret${i}q`)]).toEqual([i, false]);
    expect(all.includes('secret21q')).toBe(true);
  });
});
