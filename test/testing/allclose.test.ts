import { describe, expect, it } from "vitest";
import { allclose, allcloseViolation, assertAllclose } from "../../testing/allclose.ts";

describe("allclose", () => {
  it("is |a - b| <= atol + rtol * |b| elementwise", () => {
    expect(allclose([1, 2], [1.0005, 2], { rtol: 1e-3, atol: 0 })).toBe(true);
    expect(allclose([1, 2], [1.01, 2], { rtol: 1e-3, atol: 0 })).toBe(false);
    expect(allclose([0], [1e-5], { rtol: 0, atol: 1e-4 })).toBe(true);
  });

  it("never calls NaN or a length mismatch close", () => {
    expect(allclose([NaN], [NaN])).toBe(false);
    expect(allcloseViolation([1, 2], [1])).toBe("lengths differ: 2 vs 1");
  });

  it("names the worst element when asserting", () => {
    expect(() => assertAllclose([1, 5, 3], [1, 2, 3.1], { what: "grad A" })).toThrow(
      "grad A: not close (rtol 0.001, atol 0.0001): at 1: 5 vs 2",
    );
    expect(() => assertAllclose(new Float32Array([1, 2]), [1, 2])).not.toThrow();
  });
});
