import { describe, it, expect } from "vitest";
import { barChart, escapeXml, lineChart } from "../../report/svg.ts";
import { linearAxis, logAxis, tightLinearAxis, tightLogAxis } from "../../report/niceTicks.ts";
import { methodColor } from "../../report/methodColors.ts";
import { expectWellFormed } from "./svgChecks.ts";

describe("lineChart", () => {
  it("draws series with names, distinct colors, a legend and round ticks", () => {
    const svg = lineChart({
      title: "Loss <train & val>",
      xLabel: "step",
      yLabel: "loss",
      series: [
        {
          name: "rank 64",
          points: [
            [0, 5],
            [100, 4],
            [200, 3.5],
          ],
        },
        {
          name: "full 'rank'",
          points: [
            [0, 5.2],
            [100, 3.9],
            [200, 3.1],
          ],
        },
      ],
    });
    expectWellFormed(svg);
    expect(svg).toContain("Loss &lt;train &amp; val&gt;");
    expect(svg).toContain("rank 64");
    expect(svg).toContain("full &#39;rank&#39;");
    expect(new Set([...svg.matchAll(/<polyline[^>]*stroke="(#[0-9a-f]+)"/g)].map((m) => m[1])).size).toBe(2);
    expect(svg).toMatch(/>200</); // a tick at a round value
  });

  it("handles a single point, NaN gaps, empty series and no series without throwing", () => {
    const cases = [
      [{ name: "one", points: [[5, 1]] as [number, number][] }],
      [
        {
          name: "gappy",
          points: [
            [0, 1],
            [1, NaN],
            [2, 3],
            [3, 4],
          ] as [number, number][],
        },
        { name: "empty", points: [] },
      ],
      [{ name: "allnan", points: [[NaN, NaN]] as [number, number][] }],
      [],
    ];
    for (const series of cases) {
      const svg = lineChart({ title: "t", xLabel: "x", yLabel: "y", series });
      expectWellFormed(svg);
      for (const s of series) expect(svg).toContain(s.name);
    }
    expect(lineChart({ title: "t", xLabel: "x", yLabel: "y", series: cases[0] })).toContain("<circle");
    expect(lineChart({ title: "t", xLabel: "x", yLabel: "y", series: cases[3] })).toContain("no data");
  });

  it("supports a log y axis, skipping non-positive values", () => {
    const svg = lineChart({
      title: "t",
      xLabel: "x",
      yLabel: "y",
      logY: true,
      series: [
        {
          name: "s",
          points: [
            [0, 0],
            [1, 0.01],
            [2, 50],
          ],
        },
      ],
    });
    expectWellFormed(svg);
    expect(svg).toMatch(/>0\.01</);
    expect(svg).toMatch(/>100</);
  });
});

describe("barChart", () => {
  it("draws bars with error bars, labels escaped, and survives NaN and empty input", () => {
    const svg = barChart({
      title: "Final loss",
      yLabel: "loss",
      bars: [
        { label: "r=16 & tied", value: 3.2, error: [3.1, 3.3] },
        { label: "r=64", value: -0.5 },
        { label: "bad", value: NaN, error: [NaN, 1] },
      ],
    });
    expectWellFormed(svg);
    expect(svg).toContain("r=16 &amp; tied");
    expect(svg.match(/<rect [^>]*fill="#/g)).toHaveLength(2);
    expectWellFormed(barChart({ title: "empty", yLabel: "y", bars: [] }));
  });
});

describe("axes", () => {
  it("pick 1/2/5 steps and cover the data", () => {
    expect(linearAxis(0.13, 0.92)).toEqual({ domain: [0, 1], ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] });
    expect(linearAxis(3, 3).ticks.length).toBeGreaterThan(1);
    expect(logAxis(0.02, 300)).toEqual({ domain: [0.01, 1000], ticks: [0.01, 0.1, 1, 10, 100, 1000] });
    expect(logAxis(2, 8).ticks).toEqual([1, 2, 5, 10]);
  });

  it("escapeXml drops characters XML cannot hold", () => {
    expect(escapeXml("a\u0001b<c")).toBe("ab&lt;c");
  });
});

/** The plot frame (the stroked rect drawn after the gridlines): left, top, right, bottom in pixels. */
const plotFrame = (svg: string) => {
  const m = [...svg.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="none"/g)].at(
    -1,
  )!;
  const [x, y, w, h] = m.slice(1).map(Number);
  return { left: x, top: y, right: x + w, bottom: y + h };
};
/** Texts drawn under the frame: the x axis's tick labels. */
const xTickLabels = (svg: string) => {
  const { bottom } = plotFrame(svg);
  return [...svg.matchAll(/<text x="[\d.]+" y="([\d.]+)" text-anchor="middle">([^<]*)<\/text>/g)]
    .filter((m) => Number(m[1]) === bottom + 16)
    .map((m) => m[2]);
};
const polylineXs = (svg: string) =>
  [...svg.matchAll(/<polyline[^>]*points="([^"]*)"/g)].flatMap((m) =>
    m[1].split(" ").map((p) => Number(p.split(",")[0])),
  );

describe("lineChart's axes, markers and bands", () => {
  const tokens = (k: number) => Array.from({ length: 11 }, (_, i) => [i * k, 5 - i * 0.1] as [number, number]);

  it("ends the x axis at the data: 100k tokens draw an axis to 100k, not 120k, the last point on the frame's edge", () => {
    const svg = lineChart({
      title: "t",
      xLabel: "tokens",
      yLabel: "loss",
      series: [{ name: "full", points: tokens(10240) }],
    });
    expectWellFormed(svg);
    const f = plotFrame(svg);
    expect(Math.max(...polylineXs(svg))).toBeCloseTo(f.right, 1);
    expect(Math.min(...polylineXs(svg))).toBeCloseTo(f.left, 1);
    expect(xTickLabels(svg)).toEqual(["0", "20k", "40k", "60k", "80k", "100k"]);
    for (const m of svg.matchAll(/<line x1="([\d.]+)" x2="[\d.]+" y1="[\d.]+" y2="[\d.]+" stroke="#f0f0f0"/g))
      expect(Number(m[1])).toBeLessThanOrEqual(f.right + 0.01);
  });

  it("draws a marker at each point of a series that asks for them, in the series colour, and one in the legend", () => {
    const svg = lineChart({
      title: "t",
      xLabel: "x",
      yLabel: "y",
      series: [
        { name: "cola", points: tokens(1), markers: true },
        { name: "full", points: tokens(1) },
      ],
    });
    expectWellFormed(svg);
    const markers = [...svg.matchAll(/<circle class="marker"[^>]*fill="([^"]+)"/g)].map((m) => m[1]);
    expect(markers).toHaveLength(11);
    expect(svg.match(/<circle class="legend-marker"/g)).toHaveLength(1);
    expect(new Set(markers)).toEqual(new Set([methodColor("cola")]));
    expect(svg).toContain(`stroke="${methodColor("full")}"`);
  });

  it("fills a band in the series colour, translucent, and widens y to hold it", () => {
    const points = tokens(1);
    const svg = lineChart({
      title: "t",
      xLabel: "x",
      yLabel: "y",
      series: [{ name: "s", color: "#123456", points, band: points.map(([x, y]) => [x, y - 3, y + 3]) }],
    });
    expectWellFormed(svg);
    const band = svg.match(/<path d="M([^"]+)Z" class="band" fill="#123456" fill-opacity="0.2"/);
    expect(band).not.toBeNull();
    expect(band![1].split("L")).toHaveLength(22);
    expect(svg).toMatch(/>8</); // y reaches the band's top (5 + 3)
  });

  it("gives two series whose names hash alike two different colours", () => {
    const svg = lineChart({
      title: "t",
      xLabel: "x",
      yLabel: "y",
      series: ["a", "b", "c", "d", "e", "f", "g", "h"].map((name) => ({ name, points: tokens(1) })),
    });
    const strokes = [...svg.matchAll(/<polyline[^>]*stroke="(#[0-9a-f]+)"/g)].map((m) => m[1]);
    expect(new Set(strokes).size).toBe(8);
  });

  it("puts decade ticks on a log x axis that ends at the data", () => {
    const points: [number, number][] = [10, 30, 100, 300, 1000, 3000, 10000].map((x) => [x, Math.log(x)]);
    const svg = lineChart({ title: "t", xLabel: "x", yLabel: "y", logX: true, series: [{ name: "s", points }] });
    expectWellFormed(svg);
    expect(xTickLabels(svg)).toEqual(["10", "100", "1k", "10k"]);
    const xs = polylineXs(svg),
      f = plotFrame(svg);
    expect(xs[0]).toBeCloseTo(f.left, 1);
    expect(xs.at(-1)).toBeCloseTo(f.right, 1);
    expect(xs[2] - xs[0]).toBeCloseTo(xs[4] - xs[2], 1); // a decade is the same width everywhere
  });

  it("tight axes keep only the ticks inside the data", () => {
    expect(tightLinearAxis(0, 102400)).toEqual({ domain: [0, 102400], ticks: [0, 20000, 40000, 60000, 80000, 100000] });
    expect(tightLogAxis(3, 40).ticks).toEqual([5, 10, 20]);
    expect(tightLogAxis(3, 4).ticks).toEqual([3, 4]);
  });
});

describe("barChart's labels, error bars and headroom", () => {
  const bars = [
    { label: "full", value: 1200, error: [1100, 1390] as [number, number], color: methodColor("full") },
    { label: "cola", value: 1850, error: [1700, 2000] as [number, number] },
  ];

  it("prints each value on its bar, draws min–max bars, and keeps the tallest mark clear of the frame", () => {
    const svg = barChart({ title: "throughput", yLabel: "tokens/s", xLabel: "method", bars });
    expectWellFormed(svg);
    expect([...svg.matchAll(/<text [^>]*class="value"[^>]*>([^<]*)</g)].map((m) => m[1])).toEqual(["1.2k", "1.85k"]);
    expect(svg.match(/<path [^>]*class="error"/g)).toHaveLength(2);
    expect(svg).toContain(`fill="${methodColor("full")}"`);
    expect(svg).toMatch(/>method</);
    const top = plotFrame(svg).top;
    const rectTops = [...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="[\d.]+" fill="#/g)].map(
      (m) => Number(m[1]),
    );
    const errorTops = [...svg.matchAll(/<path d="M[\d.]+ [\d.]+V([\d.]+)[^"]*" class="error"/g)].map((m) =>
      Number(m[1]),
    );
    const labelYs = [...svg.matchAll(/<text x="[\d.]+" y="([\d.]+)" class="value"/g)].map((m) => Number(m[1]));
    expect(rectTops).toHaveLength(2);
    for (const y of [...rectTops, ...errorTops]) expect(y).toBeGreaterThan(top + 15);
    for (const y of labelYs) expect(y - 11).toBeGreaterThan(top); // the label's cap height inside the frame
  });

  it("can leave the value labels out", () => {
    expect(barChart({ title: "t", yLabel: "y", bars, valueLabels: false })).not.toContain('class="value"');
  });
});

describe("lineChart at the size of a long run", () => {
  it("draws 300k points without overflowing the stack", () => {
    const points = Array.from({ length: 300_001 }, (_, i) => [i, 1 / (i + 1)] as [number, number]);
    const svg = lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: "full", points }] });
    expect(xTickLabels(svg).at(-1)).toBe("300k");
  });
});
