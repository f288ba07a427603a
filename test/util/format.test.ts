import { describe, it, expect } from "vitest";
import { formatDuration, formatNumber } from "../../util/format.ts";

describe("formatNumber", () => {
  it("uses SI suffixes for large numbers at the requested significant digits", () => {
    expect(formatNumber(1_234_567, 2)).toBe("1.2M");
    expect(formatNumber(3.4e9, 2)).toBe("3.4G");
    expect(formatNumber(12_345.6)).toBe("12.3k");
    expect(formatNumber(-2500)).toBe("-2.5k");
    expect(formatNumber(999_960)).toBe("1M"); // rounding rolls over into the next unit
  });

  it("prints small integers exactly, decimals trimmed, tiny values as exponents", () => {
    expect([formatNumber(0), formatNumber(5), formatNumber(999), formatNumber(123.456), formatNumber(0.5)]).toEqual([
      "0",
      "5",
      "999",
      "123",
      "0.5",
    ]);
    expect(formatNumber(3.14159, 4)).toBe("3.142");
    expect(formatNumber(0.00123)).toBe("0.00123");
    expect(formatNumber(1.5e-5)).toBe("1.5e-5");
    expect([formatNumber(NaN), formatNumber(Infinity), formatNumber(-Infinity)]).toEqual(["NaN", "inf", "-inf"]);
  });
});

describe("formatDuration", () => {
  it("formats ETAs compactly", () => {
    expect([0, 45, 65, 192, 7500, 300_000].map(formatDuration)).toEqual([
      "0s",
      "45s",
      "1m05s",
      "3m12s",
      "2h05m",
      "3d11h",
    ]);
    expect([NaN, -1, Infinity].map(formatDuration)).toEqual(["?", "?", "?"]);
  });
});
