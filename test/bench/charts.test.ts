import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { logLogChart, renderChart, type LogLogPoint } from "../../bench/charts.ts";
import { fittedLogAxis, formatTick } from "../../bench/chartAxes.ts";
import { methodColor } from "../../report/methodColors.ts";
import { runs } from "../helpers/runs.ts";
import { expectBalancedTags, expectWellFormed } from "../report/svgChecks.ts";

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

describe("fittedLogAxis", () => {
  it("fits the data with a small margin instead of whole decades, with ticks inside", () => {
    const a = fittedLogAxis(3, 40);
    expect(a.domain[0]).toBeGreaterThanOrEqual(2);
    expect(a.domain[1]).toBeLessThanOrEqual(50);
    expect(a.domain[0]).toBeLessThan(3);
    expect(a.domain[1]).toBeGreaterThan(40);
    expect(a.ticks.length).toBeGreaterThanOrEqual(3);
    for (const t of a.ticks) expect(t >= a.domain[0] && t <= a.domain[1]).toBe(true);
  });

  it("labels a range too narrow for a round tick at its ends", () => {
    const a = fittedLogAxis(1.02, 1.03);
    expect(a.ticks).toEqual([1.02, 1.03]);
  });

  it("keeps every value inside the domain and a handful of ticks, over any range", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-6, max: 1e9, noNaN: true }),
        fc.double({ min: 1, max: 1e6, noNaN: true }),
        (lo, k) => {
          const a = fittedLogAxis(lo, lo * k);
          expect(a.domain[0]).toBeLessThanOrEqual(lo);
          expect(a.domain[1]).toBeGreaterThanOrEqual(lo * k);
          expect(a.ticks.length).toBeGreaterThanOrEqual(1);
          expect(a.ticks.length).toBeLessThanOrEqual(12);
          for (const t of a.ticks) expect(t >= a.domain[0] && t <= a.domain[1]).toBe(true);
        },
      ),
      { numRuns: runs(200) },
    );
  });
});

describe("formatTick", () => {
  it("puts the unit on bytes and milliseconds ticks, and prints sweep sizes exactly", () => {
    expect(formatTick(1e7, "B")).toBe("10 MB");
    expect(formatTick(512, "B")).toBe("512 B");
    expect(formatTick(350, "ms")).toBe("350 ms");
    expect(formatTick(1500, "ms")).toBe("1.5 s");
    expect(formatTick(1024)).toBe("1024");
    expect(formatTick(16384)).toBe("16.4k");
  });
});

/** The y-axis tick labels of a chart (right-aligned, left of the plot). */
const yTicks = (svg: string): string[] =>
  [...svg.matchAll(/<text [^>]*text-anchor="end">([^<]*)<\/text>/g)].map((m) => m[1]!);

describe("logLogChart's readability", () => {
  const options = {
    title: "step time vs tokens",
    xLabel: "tokens per step",
    yLabel: "step time",
    yUnit: "ms",
    series: [
      {
        name: "cola",
        points: [
          [256, 3, 2.8, 3.5],
          [512, 10],
          [1024, 40, 35, 44],
        ] as LogLogPoint[],
      },
      {
        name: "cola: analytic FLOPs ÷ 20 GFLOP/s",
        method: "cola",
        reference: true,
        points: [
          [256, 2.5],
          [1024, 30],
        ] as LogLogPoint[],
      },
    ],
  };

  it("ends its y axis near the data (3..44 ms on a domain inside [2, 50]), not at whole decades", () => {
    const svg = logLogChart(options);
    const ticks = yTicks(svg);
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(ticks).not.toContain("1 ms");
    expect(ticks).not.toContain("100 ms");
    for (const t of ticks) expect(t).toMatch(/ ms$/);
    expect(svg).toContain(">256</text>");
    expect(svg).toContain(">1024</text>");
  });

  it("draws a min–max whisker where a point has a range, and none where it has not", () => {
    const svg = logLogChart(options);
    expect(svg.match(/class="whisker"/g)).toHaveLength(2);
    const none = logLogChart({
      ...options,
      series: [
        {
          name: "cola",
          points: [
            [1, 1],
            [2, 2],
          ],
        },
      ],
    });
    expect(none).not.toContain("whisker");
  });

  it("draws a reference series dashed, in its method's colour, and names it in the legend", () => {
    const svg = logLogChart(options);
    expect(svg).toMatch(/<polyline[^>]*stroke="[^"]+" stroke-dasharray=/);
    expect(svg).toMatch(
      /<line class="legend"[^>]*stroke-dasharray="[^"]+"\/>\n<text[^>]*>cola: analytic FLOPs ÷ 20 GFLOP\/s<\/text>/,
    );
    const dashed = svg.match(/<polyline[^>]*stroke="([^"]+)" stroke-dasharray/)![1];
    expect(dashed).toBe(methodColor("cola"));
    expectWellFormed(svg);
  });

  it("gives a method the same colour in every chart, wherever it sits in the series", () => {
    const a = logLogChart({
      ...options,
      series: [
        {
          name: "full",
          points: [
            [1, 1],
            [2, 2],
          ],
        },
        {
          name: "cola",
          points: [
            [1, 2],
            [2, 3],
          ],
        },
      ],
    });
    const b = logLogChart({
      ...options,
      series: [
        {
          name: "cola",
          points: [
            [1, 2],
            [2, 3],
          ],
        },
      ],
    });
    const colaIn = (svg: string) => svg.match(/<circle[^>]*fill="([^"]+)"[^>]*><title>cola:/)![1];
    expect(colaIn(a)).toBe(colaIn(b));
    expect(colaIn(a)).toBe(methodColor("cola"));
  });
});

describe("bar charts", () => {
  it("colour each bar by its method, as the log-log charts colour that method's line", () => {
    const svg = renderChart({
      kind: "bar",
      file: "b.svg",
      options: {
        title: "tokens/s",
        yLabel: "training throughput (tokens/s)",
        bars: [
          { label: "full rankfuse-native", method: "full", value: 5000, error: [4800, 5100] },
          { label: "cola rankfuse-native", method: "cola", value: 7000, error: [6500, 7400] },
          { label: "cola torch-cpu", method: "cola", value: 3000 },
        ],
      },
    });
    const fills = [...svg.matchAll(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="([^"]+)"/g)].map(
      (m) => m[1],
    );
    expect(fills.filter((f) => f !== "none")).toEqual([methodColor("full"), methodColor("cola"), methodColor("cola")]);
    expect(svg.match(/class="error"/g)).toHaveLength(2);
    const line = logLogChart({
      title: "t",
      xLabel: "x",
      yLabel: "y",
      series: [
        {
          name: "cola",
          points: [
            [1, 1],
            [2, 2],
          ],
        },
      ],
    });
    expect(line).toContain(`stroke="${methodColor("cola")}"`);
  });
});
