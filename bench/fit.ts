/**
 * Growth fit (issue 11, point 7): from the figures measured at a few log sizes (0, 1M and 10M
 * leaves in a full run), fit two two-parameter curves by least squares and keep the one with
 * the smaller relative residual:
 *   - log-linear: y = a + b·log10(n)   (least squares on y; a B-tree's depth grows like log n)
 *   - power law:  y = a·n^b            (least squares on ln y against ln n)
 * n is the mean tree size during the measurement (the "0" point has the leaves its own ingest
 * added, so it is never 0). A log-linear curve that falls to 0 or below before the largest
 * projected size is not used. With three points each fit has one degree of freedom: the
 * residual says how well the chosen shape explains the middle point, not more. Projections at
 * 100M and 1B leaves extrapolate 10-100x beyond the largest point; read them as the trend of
 * the measured points, not as measurements.
 */

export interface Point {
  /** Leaves in the log while the figure was measured. */
  readonly n: number;
  readonly y: number;
}

export type Model = 'log-linear' | 'power';

export interface Fit {
  readonly model: Model;
  readonly a: number;
  readonly b: number;
  /** Root mean square of (fit - measured) / measured over the points. */
  readonly rmsRelResidual: number;
  /** The curve's value at `n` leaves (a log-linear fit is clamped at 0). */
  at(n: number): number;
  /** One line: model, coefficients, residual. */
  describe(): string;
}

/** Least squares line y = a + b·x. */
function line(xs: readonly number[], ys: readonly number[]): { a: number; b: number } {
  const k = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / k;
  const my = ys.reduce((s, y) => s + y, 0) / k;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < k; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const b = sxx === 0 ? 0 : sxy / sxx;
  return { a: my - b * mx, b };
}

function make(model: Model, a: number, b: number, points: readonly Point[]): Fit {
  const at = (n: number) => (model === 'power' ? a * n ** b : Math.max(0, a + b * Math.log10(n)));
  const rel = points.map((p) => (at(p.n) - p.y) / p.y);
  const rmsRelResidual = Math.sqrt(rel.reduce((s, r) => s + r * r, 0) / rel.length);
  const describe = () =>
    model === 'power'
      ? `power law y = ${a.toPrecision(4)}·n^${b.toFixed(4)}, rms relative residual ${(rmsRelResidual * 100).toFixed(1)} %`
      : `log-linear y = ${a.toPrecision(4)} + ${b.toPrecision(4)}·log10(n), rms relative residual ${(rmsRelResidual * 100).toFixed(1)} %`;
  return { model, a, b, rmsRelResidual, at, describe };
}

/**
 * Fits `points` (at least two, every n and y positive) with both curves and returns the one
 * whose relative residual is smaller (log-linear on a tie), among the curves that stay
 * positive at every size in `projectTo` (a falling log-linear line reaches 0 and below, which
 * no rate, size or latency can; the power law never does); throws on unusable input.
 */
export function fitGrowth(points: readonly Point[], projectTo: readonly number[] = []): Fit {
  const ok = points.filter((p) => p.n > 0 && p.y > 0 && Number.isFinite(p.y));
  if (ok.length < 2) throw new Error(`fitGrowth: need two positive points, got ${JSON.stringify(points)}`);
  const lin = line(
    ok.map((p) => Math.log10(p.n)),
    ok.map((p) => p.y),
  );
  const pow = line(
    ok.map((p) => Math.log(p.n)),
    ok.map((p) => Math.log(p.y)),
  );
  const f1 = make('log-linear', lin.a, lin.b, ok);
  const f2 = make('power', Math.exp(pow.a), pow.b, ok);
  const positive = (f: Fit) => projectTo.every((n) => f.at(n) > 0);
  if (!positive(f1)) return f2;
  return f2.rmsRelResidual < f1.rmsRelResidual ? f2 : f1;
}
