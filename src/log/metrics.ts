/**
 * The log's metrics sink: the sequencer, the signer and the append path report counts and
 * durations here, and whoever exports metrics (src/http/metrics.ts, prom-client) implements
 * it. The log stays free of any metrics library; the default sink drops everything.
 */
export interface LogMetrics {
  /** A batch of `batchSize` leaves was committed (or refused whole) after `seconds`. */
  committed(batchSize: number, seconds: number, ok: boolean): void;
  /** Events of one appendEvents call were acknowledged: new leaves and deduplicated ones. */
  decisions(appended: number, duplicates: number): void;
  /** A checkpoint signing attempt failed (storage, or a fork). */
  signFailed(): void;
}

/** A sink that drops every report: the log's default. */
export const noLogMetrics: LogMetrics = {
  committed: () => {},
  decisions: () => {},
  signFailed: () => {},
};
