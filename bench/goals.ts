/**
 * The goals the issues set for bench rows (issue 11: storage that stays flat; issue 13:
 * scale-out), shown in the summary table's `goal` column next to each row's same-run ratio.
 * A goal says what the row must show, in the row's own terms (its value or its ratio).
 */
import type { Result } from './lib.js';

export const GOALS: Readonly<Record<string, string>> = {
  opa_ingest_decisions_per_s: 'value >= 50,000 (issue 11)',
  opa_ingest_vs_floor: 'ratio >= 0.5',
  ingest_10m_vs_0: 'ratio >= 0.8',
  inclusion_proof_p99_ms_10m_vs_0: 'ratio <= 2',
  rss_peak_mb: 'value <= 300 MiB',
  rss_peak_mb_ingest_0: 'value <= 300 MiB',
  disk_bytes_per_decision: 'ratio <= 1 (CBOR payload + 200 B)',
  disk_bytes_per_decision_vs_gzip_upload: 'ratio < 1 if we can',
  inclusion_proofs_per_s: 'ratio >= 0.6 at 10M',
  tile_gets_per_s: 'ratio >= 0.8 at 10M',
  entry_bundle_gets_per_s: 'ratio >= 0.5 at 10M',
  ack_to_checkpoint_p99_ms: 'value <= interval + 100 ms',
  startup_ms_10m: 'value < 1,000 ms',
  pg_ingest_decisions_per_s_1: 'ratio >= 0.5 (issue 13)',
  pg_ack_to_checkpoint_p99_ms: 'value <= interval + 100 ms',
  nginx_tile_gets_per_s: 'ratio > 1 (static files)',
};

/** `results` with each row's goal (if it has one) filled in. */
export function withGoals(results: readonly Result[]): Result[] {
  return results.map((r) => {
    const goal = GOALS[r.metric];
    return goal === undefined ? r : { ...r, goal };
  });
}
