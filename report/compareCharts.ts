/**
 * A comparison's three figures: training loss, validation loss (both against training tokens, the axis
 * ending at the last token trained) and throughput with each run's slowest and fastest step. Each method
 * keeps its colour (methodColor) in all three. Rows with a spread over seeds draw the mean and a ±std band.
 */
import { barChart, distinctColors, lineChart, type Point } from "./svg.ts";
import type { CompareRow } from "./compareRow.ts";
import { bandAround } from "./sweepGrid.ts";

/** Exponential moving average, so noisy per-step losses read as curves. */
export function smooth(points: Point[], alpha = 0.1): Point[] {
  let s = NaN;
  return points.map(([x, y]) => [x, (s = Number.isNaN(s) ? y : alpha * y + (1 - alpha) * s)]);
}

/** At most about `max` of `points`, evenly spaced, the last always kept: a 600-pixel plot needs no more. */
export function thin(points: Point[], max = 2000): Point[] {
  if (points.length <= max) return points;
  const every = Math.ceil(points.length / max);
  return points.filter((_, i) => i % every === 0 || i === points.length - 1);
}

/** A figure: its file name, what it shows (alt text and caption), and the SVG. */
export interface Figure {
  readonly file: string;
  readonly caption: string;
  readonly svg: string;
}

/** loss.svg, val.svg and throughput.svg of `rows`. */
export function compareFigures(rows: readonly CompareRow[]): Figure[] {
  const colors = distinctColors(rows.map((r) => r.method));
  const train = lineChart({
    title: "training loss (EMA)",
    xLabel: "training tokens",
    yLabel: "loss (nats/token)",
    series: rows.map((r, i) => {
      const points = thin(smooth(r.result.losses.map((l) => [l.step * r.tokensPerStep, l.loss] as Point)));
      // the spread has a value at each step of the mean curve, so thinning keeps the same steps of both
      const std = r.spread && thin(smooth(r.spread.losses.map((l) => [l.step * r.tokensPerStep, l.std] as Point)));
      return {
        name: r.method,
        color: colors[i],
        points,
        band:
          std &&
          bandAround(
            points,
            std.map((p) => p[1]),
          ),
      };
    }),
  });
  const val = lineChart({
    title: "validation loss",
    xLabel: "training tokens",
    yLabel: "loss (nats/token)",
    series: rows.map((r, i) => {
      const points = r.result.evals.map((e) => [e.step * r.tokensPerStep, e.loss] as Point);
      const band =
        r.spread &&
        bandAround(
          points,
          r.spread.evals.map((e) => e.std),
        );
      return { name: r.method, color: colors[i], markers: true, points, band };
    }),
  });
  const speed = barChart({
    title: "training throughput",
    yLabel: "tokens/s",
    xLabel: "method (bar: mean over timed steps; whiskers: slowest and fastest step)",
    bars: rows.map((r, i) => {
      const spread = r.result.stepTokensPerSec;
      return {
        label: r.method,
        value: r.result.tokensPerSec,
        color: colors[i],
        ...(spread ? { error: [spread.min, spread.max] as [number, number] } : {}),
      };
    }),
  });
  return [
    { file: "loss.svg", caption: "training loss (exponential moving average) against training tokens", svg: train },
    { file: "val.svg", caption: "validation loss at each evaluation against training tokens", svg: val },
    {
      file: "throughput.svg",
      caption: "training tokens/s: mean over timed steps, whiskers from the slowest to the fastest step",
      svg: speed,
    },
  ];
}
