import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { logLogChart, renderChart } from "../../bench/charts.ts";
import { runs } from "../helpers/runs.ts";
import { expectBalancedTags } from "../report/svgChecks.ts";

/** The centres of a chart's data markers, in drawing order. */
const markers = (svg: string): [number, number][] =>
  [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);

describe("logLogChart", () => {
  it("draws a power law as a straight line whose pixel slope does not depend on where it is measured", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 2, noNaN: true }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        (k, c) => {
          const xs = [64, 128, 256, 512, 1024, 2048];
          const svg = logLogChart({
            title: "t",
            xLabel: "x",
            yLabel: "y",
            series: [{ name: "s", points: xs.map((x) => [x, c * x ** k]) }],
          });
          const p = markers(svg);
          expect(p).toHaveLength(xs.length);
          const slopes = p.slice(1).map(([x, y], i) => (y - p[i]![1]) / (x - p[i]![0]));
          for (const s of slopes) expect(Math.abs(s - slopes[0]!)).toBeLessThan(0.02 * Math.abs(slopes[0]!) + 0.02);
          expect(slopes[0]!).toBeLessThan(0); // y grows upward on screen
        },
      ),
      { numRuns: runs(30) },
    );
  });

  it("leaves out points a log axis cannot hold, escapes names, and says when nothing is left", () => {
    const svg = logLogChart({
      title: "a < b",
      xLabel: "x",
      yLabel: "y",
      series: [
        {
          name: "full & cola",
          points: [
            [0, 1],
            [10, -1],
            [10, NaN],
            [100, 5],
            [1000, 50],
          ],
        },
      ],
    });
    expect(markers(svg)).toHaveLength(2);
    expect(svg).toContain("full &amp; cola");
    expect(svg).toContain("a &lt; b");
    expect(svg).not.toMatch(/NaN|Infinity/);
    expectBalancedTags(svg);
    const none = logLogChart({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: "s", points: [[0, 0]] }] });
    expect(none).toContain("no data");
    expectBalancedTags(none);
  });

  it("renders bar charts through report/svg.ts, with the error bars given", () => {
    const svg = renderChart({
      kind: "bar",
      file: "b.svg",
      options: {
        title: "tokens/s",
        yLabel: "tokens/s",
        bars: [
          { label: "native", value: 5000, error: [4800, 5100] },
          { label: "tfjs", value: 400 },
        ],
      },
    });
    expect(svg.match(/<rect x=/g)).toHaveLength(3); // the frame and two bars
    expect(svg.match(/<path d="M/g)).toHaveLength(1); // one error bar
    expectBalancedTags(svg);
  });
});
