import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mean, sampleStd, summarize } from "../../util/stats.ts";
import { runs } from "../helpers/runs.ts";

const values = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 20 });

describe("mean and sample standard deviation", () => {
  it("agree with the textbook formulas (n − 1 in the variance)", () => {
    fc.assert(
      fc.property(values, (xs) => {
        const m = xs.reduce((a, b) => a + b, 0) / xs.length;
        const v = xs.map((x) => (x - m) ** 2).reduce((a, b) => a + b, 0) / (xs.length - 1);
        expect(mean(xs)).toBeCloseTo(m, 6);
        expect(sampleStd(xs)).toBeCloseTo(Math.sqrt(v), 4);
      }),
      { numRuns: runs(200) },
    );
  });

  it("known values: std of 2, 4, 4, 4, 5, 5, 7, 9 is √(32/7)", () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(summarize(xs)).toEqual({ mean: 5, std: Math.sqrt(32 / 7), n: 8 });
  });

  it("one value has no spread, none has no mean; a non-finite value spoils both", () => {
    expect(summarize([3])).toEqual({ mean: 3, std: NaN, n: 1 });
    expect(summarize([])).toEqual({ mean: NaN, std: NaN, n: 0 });
    expect(sampleStd([1, Infinity])).toBeNaN();
    expect(mean([1, NaN])).toBeNaN();
  });

  it("nearly equal values keep their small spread (no cancellation)", () => {
    expect(sampleStd([1e9 + 1, 1e9 + 2, 1e9 + 3])).toBeCloseTo(1, 9);
  });
});
