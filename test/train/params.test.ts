import { describe, it, expect } from "vitest";
import { elementCount, globalNorm } from "../../train/params.ts";

describe("params helpers", () => {
  it("element count and global norm", () => {
    expect([[2, 3], [4], []].map(elementCount)).toEqual([6, 4, 1]);
    expect(globalNorm([Float32Array.of(3), Float32Array.of(0, 4)])).toBe(5);
  });
});
