import { describe, it, expect } from "vitest";
import { clipGlobalNorm } from "../../train/clip.ts";
import { globalNorm } from "../../train/params.ts";

describe("clipGlobalNorm", () => {
  it("scales grads down to maxNorm and reports the pre-clip norm", () => {
    const g = [Float32Array.of(3), Float32Array.of(0, 4)];
    const r = clipGlobalNorm(g, 1);
    expect(r.norm).toBe(5);
    expect(r.scale).toBeCloseTo(0.2, 6);
    expect(globalNorm(g)).toBeCloseTo(1, 5);
  });

  it("leaves grads alone under the limit, when disabled, and when the norm is not finite", () => {
    for (const [g, max] of [
      [Float32Array.of(0.3, 0.4), 1],
      [Float32Array.of(30, 40), 0],
      [Float32Array.of(30, 40), Infinity],
      [Float32Array.of(NaN, 1), 1],
    ] as const) {
      const before = g.slice();
      expect(clipGlobalNorm([g], max).scale).toBe(1);
      expect(g).toEqual(before);
    }
  });
});
