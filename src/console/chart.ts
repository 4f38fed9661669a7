/** Inline SVG line charts for the overview (no library): a polyline over min/max axes. */
import { h, svg } from './dom.js';

const W = 320;
const H = 120;
const PAD = 4;

/**
 * A figure with a line chart of `points` ([x, y], x ascending) titled `title`; the last value
 * and unit are in the caption and the SVG's label, for screen readers.
 */
export function lineChart(
  title: string,
  points: readonly (readonly [number, number])[],
  unit: string,
): HTMLElement {
  const last = points.at(-1)?.[1];
  const caption = `${title}: ${last === undefined ? 'no data yet' : `${fmt(last)} ${unit} now`}`;
  const fig = h('figure', { class: 'chart' }, h('figcaption', null, caption));
  if (points.length < 2) {
    fig.append(h('p', { class: 'muted' }, 'Collecting samples (one every few seconds)…'));
    return fig;
  }
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys)];
  const sx = (x: number) => PAD + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * PAD);
  const sy = (y: number) => H - PAD - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * PAD);
  const line = points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
  fig.append(
    svg(
      'svg',
      { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': caption, preserveAspectRatio: 'none' },
      svg('line', { x1: PAD, x2: W - PAD, y1: H - PAD, y2: H - PAD, class: 'axis' }),
      svg('polyline', { points: line, class: 'series', fill: 'none' }),
    ),
    h(
      'div',
      { class: 'range' },
      h('span', null, `max ${fmt(y1)}`),
      h('span', null, `${Math.round((x1 - x0) / 60000)} min`),
    ),
  );
  return fig;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en') : n.toFixed(1);
}
