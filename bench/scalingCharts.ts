/**
 * The scaling suite's charts, from its saved points alone (so they can be redrawn from its JSON): per
 * sweep, step time and peak memory against the swept size, log-log, one line per method with min–max
 * whiskers, and beside each method its analytic reference as a dashed line of the same colour: the
 * analytic FLOPs run at the best rate the sweep measured (a line the measurement can only meet or sit
 * above where time follows FLOPs), and the plan's predicted peak memory.
 */
import { formatNumber } from "../util/format.ts";
import type { LogLogPoint, LogLogSeries, SuiteChart } from "./charts.ts";
import type { Stat } from "./stats.ts";

/** What a chart needs of one measured point of the scaling suite (its JSON's data.points). */
export interface ScalingPoint {
  point: { sweep: "tokens" | "width" | "rank"; x: number; method: string };
  /** 3 × forward FLOPs per token × tokens per step */
  analyticFlops: number;
  stepMs: Stat;
  peakBytes: number;
  /** The resident params and moments plus the plan's predicted peak; absent from results saved before it was recorded. */
  predictedPeakBytes?: number;
}

const SWEEPS = ["tokens", "width", "rank"] as const;

const X_LABEL = {
  tokens: "tokens per step (batch × 256)",
  width: "model width d (rank d/4, 512 tokens per step)",
  rank: "rank r (d = 256, 512 tokens per step)",
} as const;

/** Step-time and peak-memory charts for each sweep that has points, with their analytic reference lines. */
export function scalingCharts(points: readonly ScalingPoint[], layers: number): SuiteChart[] {
  const methods = [...new Set(points.map((p) => p.point.method))];
  return SWEEPS.flatMap((sw): SuiteChart[] => {
    const here = points.filter((p) => p.point.sweep === sw);
    if (here.length === 0) return [];
    /** One method's points in this sweep, as `y` draws them (null: the point is left out). */
    const line = (m: string, y: (p: ScalingPoint) => LogLogPoint | null): LogLogPoint[] =>
      here
        .filter((p) => p.point.method === m)
        .map(y)
        .filter((v): v is LogLogPoint => v !== null);
    // the best analytic rate anywhere in the sweep: each point's FLOPs at that rate is its reference time
    const rate = Math.max(0, ...here.map((p) => p.analyticFlops / (p.stepMs.median / 1000)).filter(Number.isFinite));
    const timeSeries: LogLogSeries[] = [
      ...methods.map((m) => ({
        name: m,
        method: m,
        points: line(m, (p) => [p.point.x, p.stepMs.median, p.stepMs.min, p.stepMs.max]),
      })),
      ...(rate > 0
        ? methods.map((m) => ({
            name: `${m}: analytic FLOPs ÷ ${formatNumber(rate / 1e9, 3)} GFLOP/s`,
            method: m,
            reference: true,
            points: line(m, (p) => [p.point.x, (p.analyticFlops / rate) * 1000]),
          }))
        : []),
    ];
    const memorySeries: LogLogSeries[] = [
      ...methods.map((m) => ({ name: m, method: m, points: line(m, (p) => [p.point.x, p.peakBytes]) })),
      ...methods.map((m) => ({
        name: `${m}: plan's predicted peak`,
        method: m,
        reference: true,
        points: line(m, (p) => (p.predictedPeakBytes !== undefined ? [p.point.x, p.predictedPeakBytes] : null)),
      })),
    ];
    return [
      {
        kind: "loglog",
        file: `scaling-${sw}-time.svg`,
        options: {
          title: `step time vs ${sw} (${layers} layers)`,
          xLabel: X_LABEL[sw],
          yLabel: "step time (s; median, min–max whiskers)",
          yUnit: "ms",
          series: timeSeries.filter((s) => s.points.length),
        },
      },
      {
        kind: "loglog",
        file: `scaling-${sw}-memory.svg`,
        options: {
          title: `peak memory vs ${sw} (${layers} layers)`,
          xLabel: X_LABEL[sw],
          yLabel: "peak live memory (bytes)",
          yUnit: "B",
          series: memorySeries.filter((s) => s.points.length),
        },
      },
    ];
  });
}
