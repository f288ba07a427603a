import { describe, expect, it } from "vitest";
import { stepRate } from "../../train/stepRate.ts";

describe("stepRate", () => {
  it("gives the slowest, quantiles and fastest tokens/s of the timed steps", () => {
    // 100 tokens a step at 100, 50, 200, 100, 125 ms: 1000, 2000, 500, 1000, 800 tokens/s
    expect(stepRate([100, 50, 200, 100, 125], 100)).toEqual({
      min: 500,
      p10: 620,
      median: 1000,
      p90: 1600,
      max: 2000,
      steps: 5,
    });
  });

  it("is undefined without a timed step, and ignores times that cannot be rates", () => {
    expect(stepRate([], 64)).toBeUndefined();
    expect(stepRate([0, NaN], 64)).toBeUndefined();
    expect(stepRate([0, 64], 64)).toMatchObject({ min: 1000, max: 1000, steps: 1 });
  });
});
