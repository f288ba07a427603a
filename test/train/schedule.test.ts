import { describe, it, expect } from "vitest";
import { warmupCosine } from "../../train/schedule.ts";

describe("warmupCosine", () => {
  const f = warmupCosine({ lr: 1, warmupSteps: 10, totalSteps: 110, minRatio: 0.1 });

  it("warms up linearly from lr/warmup at step 0 to lr", () => {
    expect(f(0)).toBeCloseTo(0.1, 12);
    expect(f(4)).toBeCloseTo(0.5, 12);
    expect(f(9)).toBeCloseTo(1, 12);
  });

  it("decays by cosine to minRatio·lr at totalSteps and stays there", () => {
    expect(f(10)).toBeCloseTo(1, 12);
    expect(f(60)).toBeCloseTo(0.55, 12); // halfway: 0.1 + 0.9·0.5
    expect(f(35)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(f(110)).toBeCloseTo(0.1, 12);
    expect(f(10_000)).toBeCloseTo(0.1, 12);
    for (let s = 11; s <= 110; s++) expect(f(s)).toBeLessThan(f(s - 1));
  });

  it("handles no warmup, no decay phase, and rejects nonsense", () => {
    expect(warmupCosine({ lr: 2, warmupSteps: 0, totalSteps: 10 })(0)).toBe(2);
    const g = warmupCosine({ lr: 2, warmupSteps: 5, totalSteps: 5, minRatio: 0.5 });
    expect([g(4), g(5), g(6)]).toEqual([2, 1, 1]);
    expect(() => warmupCosine({ lr: -1, warmupSteps: 0, totalSteps: 1 })).toThrow(RangeError);
  });
});
