import { describe, it, expect } from "vitest";
import { formatNumber, markdownTable } from "../../report/markdownTable.ts";

describe("markdownTable", () => {
  it("right-aligns numeric columns and pads cells", () => {
    const t = markdownTable(
      ["model", "params", "loss"],
      [
        ["full", formatNumber(124e6, 2), 3.21456],
        ["rank | 64", "31M", 3.3],
      ],
    );
    expect(t).toBe(
      "| model      | params |  loss |\n" +
        "| ---------- | -----: | ----: |\n" +
        "| full       |   124M | 3.215 |\n" +
        "| rank \\| 64 |    31M |   3.3 |\n",
    );
  });

  it("pads short rows and refuses long ones", () => {
    expect(markdownTable(["a", "b"], [[1]])).toBe("|   a | b   |\n| --: | --- |\n|   1 |     |\n");
    expect(() => markdownTable(["a"], [[1, 2]])).toThrow(RangeError);
  });

  it("prints a missing value (JSON's null for a NaN) as '-' instead of failing", () => {
    const t = markdownTable(["a", "b"], [[1.5, null]]);
    expect(t.split("\n")[2]).toMatch(/\|\s+1\.5 \|\s+- \|/);
  });
});
