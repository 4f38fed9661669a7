/** SQL over a SQLite log database that tests read directly (src/store/bundle-blobs.ts layout). */

/**
 * How many entries the database stores: rows of the partial bundle (and of a log from before
 * bundle blobs) plus 256 per full bundle blob. Equals the tree size when nothing is stored
 * twice or lost.
 */
export const STORED_ENTRIES_SQL =
  'SELECT (SELECT count(*) FROM entries) + 256 * (SELECT count(*) FROM entry_bundles)';
