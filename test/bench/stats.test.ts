import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { formatRatio, formatStat, pairedRatios, ratioOfMedians, stats } from "../../bench/stats.ts";
import { runs } from "../helpers/runs.ts";

// `+ 0` turns -0 into 0: a sort keeps 0 and -0 in input order, so a reversed input may swap their signs, which toEqual tells apart
const finite = fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((x) => x + 0);

describe("stats", () => {
  it("median lies within [min, max], which are the extremes, whatever the order", () => {
    fc.assert(
      fc.property(fc.array(finite, { minLength: 1, maxLength: 30 }), (xs) => {
        const s = stats(xs);
        expect(s.min).toBe(Math.min(...xs));
        expect(s.max).toBe(Math.max(...xs));
        expect(s.median).toBeGreaterThanOrEqual(s.min);
        expect(s.median).toBeLessThanOrEqual(s.max);
        expect(stats([...xs].reverse())).toEqual(s);
        expect(s.n).toBe(xs.length);
      }),
      { numRuns: runs(100) },
    );
  });

  it("takes the middle value, or the mean of the two middle ones", () => {
    expect(stats([5, 1, 3]).median).toBe(3);
    expect(stats([4, 1, 3, 2]).median).toBe(2.5);
  });

  it("drops NaN repeats and reports none at all as n/a", () => {
    expect(stats([NaN, 2, 4])).toEqual({ median: 3, min: 2, max: 4, n: 2 });
    const empty = stats([]);
    expect(empty.n).toBe(0);
    expect(formatStat(empty)).toBe("n/a");
  });
});

describe("ratios", () => {
  it("pairs repeats: b scaled by k gives k in every pair", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.1, max: 100, noNaN: true }), { minLength: 1, maxLength: 10 }),
        fc.double({ min: 0.5, max: 4, noNaN: true }),
        (b, k) => {
          const r = pairedRatios(
            b.map((x) => x * k),
            b,
          );
          expect(r.median).toBeCloseTo(k, 9);
          expect(r.max - r.min).toBeLessThan(1e-9 * k);
        },
      ),
      { numRuns: runs(50) },
    );
  });

  it("a ratio of medians is n/a when a side is missing or empty", () => {
    expect(ratioOfMedians(stats([2, 4, 6]), stats([1, 2, 3]))).toBe(2);
    expect(formatRatio(ratioOfMedians(stats([1]), undefined))).toBe("n/a");
    expect(formatRatio(ratioOfMedians(stats([]), stats([1])))).toBe("n/a");
    expect(formatRatio(1.234)).toBe("1.23x");
  });

  it("formats a median with its range", () => {
    expect(formatStat(stats([1000, 1200, 1100]))).toBe("1100 [1000-1200]");
    expect(formatStat(stats([1.25, 1.5]), 2, " ms")).toBe("1.38 ms [1.25-1.50]");
  });
});
