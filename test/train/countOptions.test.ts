import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { countOptionError } from "../../train/countOptions.ts";
import { checkDynamicOptions } from "../../methods/dynamic/scheme.ts";
import { checkReloraOptions } from "../../methods/relora/scheme.ts";

describe("countOptionError", () => {
  it("accepts unset options and whole numbers at least their minimum", () => {
    fc.assert(
      fc.property(
        fc.option(fc.nat(), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 1e6 }), { nil: undefined }),
        (zero, one) => {
          expect(countOptionError({ zero, one }, { zero: 0, one: 1 })).toBeUndefined();
        },
      ),
      { numRuns: runs(50) },
    );
  });

  it("names the first bad option in the order given, with what it must be", () => {
    expect(countOptionError({ a: 0, b: -1 }, { a: 1, b: 0 })).toBe("a must be a positive integer, got 0");
    expect(countOptionError({ a: 0, b: -1 }, { b: 0, a: 1 })).toBe("b must be a non-negative integer, got -1");
    expect(countOptionError({ a: 2.5 }, { a: 0 })).toBe("a must be a non-negative integer, got 2.5");
    expect(countOptionError({ a: NaN }, { a: 1 })).toBe("a must be a positive integer, got NaN");
  });

  it("is what the LoRA-based schemes check their options with", () => {
    expect(checkDynamicOptions({ groups: 0, rewarmup: -1 })).toBe("groups must be a positive integer, got 0");
    expect(checkDynamicOptions({ interval: 3, groups: 2, rewarmup: 0 })).toBeUndefined();
    expect(checkReloraOptions({ warmStart: 1.5 })).toBe("warmStart must be a non-negative integer, got 1.5");
    expect(checkReloraOptions({ cycle: 4, pruning: { kind: "random", ratio: 2 } })).toBe(
      "pruning ratio must be in [0, 1], got 2",
    );
    expect(checkReloraOptions({ cycle: 4, rewarmup: 0, warmStart: 0 })).toBeUndefined();
  });
});
