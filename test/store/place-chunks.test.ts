/**
 * The place cache of the blob file (src/store/place-chunks.ts): a chunk of 64 places is read
 * once and then answers from memory; an index its chunk lacks is filled in by what the
 * caller's point lookup found (a tile that fills later); nothing is read into the cache inside
 * a transaction (a place there may be rolled back); the number of chunks kept is bounded.
 */
import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { PLACE_CHUNK, PlaceChunks } from '../../src/store/place-chunks.js';

/** A places table and a loader over it that counts its reads. */
function setup(chunks?: number) {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE places (idx INTEGER PRIMARY KEY, off INTEGER NOT NULL, len INTEGER NOT NULL)');
  const insert = db.prepare('INSERT INTO places (idx, off, len) VALUES (?, ?, ?)');
  const range = db.prepare('SELECT idx, off, len FROM places WHERE idx >= ? AND idx < ?').raw();
  const reads: number[] = [];
  const places = new PlaceChunks(
    db,
    (_, first) => {
      reads.push(first);
      return range.all(first, first + PLACE_CHUNK) as [number, number, number][];
    },
    chunks,
  );
  return { db, insert, reads, places };
}

describe('PlaceChunks', () => {
  test('one read per chunk; every place of it then comes from memory', () => {
    const { insert, reads, places } = setup();
    for (let i = 0; i < 3 * PLACE_CHUNK; i++) insert.run(i, i * 1000, 100 + i);
    for (let i = 0; i < 3 * PLACE_CHUNK; i++)
      expect(places.place(0, i)).toEqual({ off: i * 1000, len: 100 + i });
    for (let i = 3 * PLACE_CHUNK - 1; i >= 0; i--) expect(places.place(0, i)?.off).toBe(i * 1000);
    expect(reads).toEqual([0, PLACE_CHUNK, 2 * PLACE_CHUNK]);
  });

  test('an index without a place stays unknown until a lookup hands its place back', () => {
    const { db, insert, reads, places } = setup();
    insert.run(0, 0, 10);
    expect(places.place(0, 1)).toBeUndefined();
    insert.run(1, 10, 20); // the tile filled after its chunk was read
    expect(places.place(0, 1)).toBeUndefined(); // the chunk is not read again for it
    db.transaction(() => places.learn(0, 1, { off: 10, len: 20 }))(); // maybe not committed: ignored
    expect(places.place(0, 1)).toBeUndefined();
    places.learn(0, 1, { off: null, len: null }); // the lookup found a row, not a place
    expect(places.place(0, 1)).toBeUndefined();
    places.learn(0, 1, { off: 10, len: 20 }); // what the caller's point lookup found
    expect(places.place(0, 1)).toEqual({ off: 10, len: 20 });
    expect(places.place(0, 0)).toEqual({ off: 0, len: 10 });
    places.learn(0, 5 * PLACE_CHUNK, { off: 1, len: 1 }); // a chunk not held: nothing to fill
    expect(places.size).toBe(1);
    expect(reads).toEqual([0]);
  });

  test('inside a transaction nothing is read into the cache', () => {
    const { db, insert, reads, places } = setup();
    insert.run(0, 0, 10);
    db.transaction(() => {
      insert.run(1, 10, 20);
      expect(places.place(0, 1)).toBeUndefined();
      expect(places.place(0, 0)).toBeUndefined();
    })();
    expect(reads).toEqual([]);
    db.prepare('DELETE FROM places WHERE idx = 1').run(); // as if that transaction rolled back
    expect(places.place(0, 1)).toBeUndefined();
    // What was cached outside a transaction answers inside one.
    expect(places.place(0, 0)).toEqual({ off: 0, len: 10 });
    db.transaction(() => expect(places.place(0, 0)).toEqual({ off: 0, len: 10 }))();
    expect(reads).toEqual([0]);
  });

  test('groups (tile levels) are kept apart; the chunks kept are bounded', () => {
    const { insert, places } = setup(4);
    for (let i = 0; i < 10 * PLACE_CHUNK; i++) insert.run(i, i, 1);
    for (let c = 0; c < 10; c++) places.place(c % 2, c * PLACE_CHUNK);
    expect(places.size).toBe(4);
    expect(places.place(1, 5)).toEqual({ off: 5, len: 1 });
  });
});
