import { describe, it, expect } from "vitest";
import { barChart, escapeXml, lineChart } from "../../report/svg.ts";
import { linearAxis, logAxis } from "../../report/niceTicks.ts";
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
