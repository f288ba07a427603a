import { describe, it, expect } from "vitest";
import { cloneParams, globalNorm, paramCount } from "../../train/params.ts";

describe("params helpers", () => {
  it("count, norm and deep clone", () => {
    expect(paramCount([[2, 3], [4], []])).toBe(11);
    expect(globalNorm([Float32Array.of(3), Float32Array.of(0, 4)])).toBe(5);
    const p = { names: ["a"], shapes: [[1]], values: [Float32Array.of(1)] };
    const c = cloneParams(p);
    p.values[0][0] = 2;
    p.shapes[0][0] = 9;
    expect(c).toEqual({ names: ["a"], shapes: [[1]], values: [Float32Array.of(1)] });
  });
});
