import { describe, expect, it } from "vitest";
import { renderChart, type LogLogOptions } from "../../bench/charts.ts";
import { scalingCharts, type ScalingPoint } from "../../bench/scalingCharts.ts";
import { expectWellFormed } from "../report/svgChecks.ts";

const stat = (m: number) => ({ median: m, min: m * 0.9, max: m * 1.1, n: 3 });

/** Fake scaling points: time follows the analytic FLOPs at 10 GFLOP/s for full rank and 5 for CoLA. */
const points = (withPrediction: boolean): ScalingPoint[] =>
  (["full", "cola"] as const).flatMap((method) =>
    [256, 512, 1024].map((x) => {
      const flops = (method === "full" ? 2e6 : 1e6) * x;
      return {
        point: { sweep: "tokens" as const, x, method },
        analyticFlops: flops,
        stepMs: stat((flops / (method === "full" ? 10e9 : 5e9)) * 1000),
        peakBytes: 1e6 * x,
        ...(withPrediction && { predictedPeakBytes: 0.9e6 * x }),
      };
    }),
  );

describe("scalingCharts", () => {
  it("draws time and memory per sweep with whiskers, units, and a dashed analytic line per method in the legend", () => {
    const charts = scalingCharts(points(true), 2);
    expect(charts.map((c) => c.file)).toEqual(["scaling-tokens-time.svg", "scaling-tokens-memory.svg"]);
    const [time, memory] = charts.map((c) => c.options as LogLogOptions);
    expect(time!.yUnit).toBe("ms");
    expect(memory!.yUnit).toBe("B");
    expect(memory!.yLabel).toMatch(/\(bytes\)/);
    expect(time!.yLabel).toMatch(/\(s;/);
    expect(time!.xLabel).toMatch(/tokens/);
    expect(time!.series.map((s) => s.name)).toEqual([
      "full",
      "cola",
      "full: analytic FLOPs ÷ 10 GFLOP/s",
      "cola: analytic FLOPs ÷ 10 GFLOP/s",
    ]);
    const ref = time!.series.find((s) => s.name === "full: analytic FLOPs ÷ 10 GFLOP/s")!;
    expect(ref).toMatchObject({ reference: true, method: "full" });
    // full rank ran at the sweep's best rate, so its reference is its own time
    expect(ref.points.map((p) => p[1])).toEqual(time!.series[0]!.points.map((p) => p[1]));
    expect(time!.series[0]!.points[0]).toHaveLength(4);
    expect(memory!.series.filter((s) => s.reference).map((s) => s.name)).toEqual([
      "full: plan's predicted peak",
      "cola: plan's predicted peak",
    ]);
    for (const c of charts) {
      const svg = renderChart(c);
      expectWellFormed(svg);
      expect(svg).toContain("stroke-dasharray");
    }
    expect(renderChart(charts[0]!)).toContain('class="whisker"');
  });

  it("leaves the predicted-peak lines out for results saved before they were recorded", () => {
    const memory = scalingCharts(points(false), 2)[1]!.options as LogLogOptions;
    expect(memory.series.map((s) => s.name)).toEqual(["full", "cola"]);
  });
});
