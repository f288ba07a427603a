import { describe, expect, it } from "vitest";
import { smooth, thin } from "../../report/compareCharts.ts";

describe("compareCharts' curve helpers", () => {
  it("thins a long curve to about 2000 points, keeping the first and the last", () => {
    const points = Array.from({ length: 100_001 }, (_, i) => [i, i] as [number, number]);
    const t = thin(points);
    expect(t.length).toBeLessThanOrEqual(2001);
    expect(t[0]).toEqual([0, 0]);
    expect(t.at(-1)).toEqual([100_000, 100_000]);
    expect(thin(points.slice(0, 10))).toHaveLength(10);
  });

  it("smooths with an exponential moving average that starts at the first value", () => {
    expect(
      smooth(
        [
          [0, 10],
          [1, 0],
        ],
        0.5,
      ),
    ).toEqual([
      [0, 10],
      [1, 5],
    ]);
  });
});
