import { describe, expect, it } from "vitest";
import { htmlFacts, htmlPage, htmlTable } from "../../report/htmlPage.ts";

describe("htmlPage", () => {
  it("right-aligns numeric columns (ratios and byte sizes included) and escapes cells", () => {
    const t = htmlTable(
      ["method", "tokens/s", "vs full", "peak memory"],
      [
        ["a<b>", "1.2k", "1.00x", "336kB"],
        ["c|d", 12, "2.71x", null],
      ],
    );
    expect(t).toContain("<td>a&lt;b&gt;</td>");
    expect(t).toContain("<td>c|d</td>");
    expect(t.match(/<th class="num">/g)).toHaveLength(3);
    expect(t).toContain('<td class="num">-</td>');
  });

  it("makes a self-contained page that scales to the screen", () => {
    const page = htmlPage("t & u", htmlFacts([["date", "2026"]]));
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(page).toContain("<title>t &amp; u</title>");
    expect(page).toMatch(/svg\{[^}]*max-width:100%/);
    expect(page).not.toMatch(/<script|<link/);
  });
});
