import { describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { packageVersions, saveSuite } from "../../bench/report.ts";
import { summaryMarkdown, writeSummary, type SavedSuite } from "../../bench/summary.ts";

const suite = (name: string, extra: Partial<SavedSuite> = {}): SavedSuite => ({
  suite: name,
  machine: {
    date: "2026-01-01",
    cpu: "Test CPU",
    cores: 2,
    memoryGiB: 8,
    node: "v20",
    packages: { rankfuse: "0.1.0" },
    blas: "test GEMM",
  },
  title: `${name} title`,
  headers: ["what", "tokens/s"],
  rows: [["native", "5000 [4900-5100]"]],
  notes: [`${name} note`],
  data: {},
  ...extra,
});

describe("summaryMarkdown", () => {
  it("has each suite's title, machine, table, notes and chart links, in the given order", () => {
    const md = summaryMarkdown(
      [
        suite("peers", {
          charts: [
            {
              kind: "bar",
              file: "peers-tiny-tokens.svg",
              options: { title: "tiny tokens/s", yLabel: "tokens/s", bars: [] },
            },
          ],
          machine: { ...suite("x").machine, torch: "PyTorch 1.13; BLAS: OpenBLAS" },
        }),
        suite("scaling"),
      ],
      ["broken.json"],
    );
    expect(md.indexOf("## peers: peers title")).toBeGreaterThan(-1);
    expect(md.indexOf("## scaling: scaling title")).toBeGreaterThan(md.indexOf("## peers"));
    expect(md).toContain("![tiny tokens/s](peers-tiny-tokens.svg)");
    expect(md).toContain("| native | 5000 [4900-5100] |");
    expect(md).toContain("- peers note");
    expect(md).toContain("Test CPU, 2 cores");
    expect(md).toContain("- torch: PyTorch 1.13; BLAS: OpenBLAS");
    expect(md).toContain("Packages: rankfuse 0.1.0");
    expect(md).toContain("BLAS: test GEMM");
    expect(md).toContain("could not read broken.json");
  });

  it("says when there is nothing yet", () => {
    expect(summaryMarkdown([])).toContain("No suite has saved results yet.");
  });
});

describe("saveSuite and writeSummary", () => {
  it("write the suite's JSON with machine facts, its charts, and a summary that keeps other suites", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-bench-test-"));
    try {
      fs.writeFileSync(path.join(dir, "older.json"), JSON.stringify(suite("older")));
      fs.writeFileSync(path.join(dir, "junk.json"), "{not json");
      saveSuite(
        "demo",
        {
          title: "demo title",
          headers: ["a"],
          rows: [[1]],
          data: { x: 1 },
          machine: { peer: "p" },
          charts: [
            {
              kind: "loglog",
              file: "demo.svg",
              options: {
                title: "d",
                xLabel: "x",
                yLabel: "y",
                series: [
                  {
                    name: "s",
                    points: [
                      [1, 1],
                      [10, 10],
                    ],
                  },
                ],
              },
            },
          ],
        },
        dir,
        suite("m").machine,
      );
      const saved = JSON.parse(fs.readFileSync(path.join(dir, "demo.json"), "utf8"));
      expect(saved.machine.cpu).toBe("Test CPU");
      expect(saved.machine.peer).toBe("p");
      expect(saved.data).toEqual({ x: 1 });
      expect(fs.readFileSync(path.join(dir, "demo.svg"), "utf8")).toMatch(/^<svg /);
      const md = fs.readFileSync(path.join(dir, "summary.md"), "utf8");
      expect(md).toContain("## demo: demo title");
      expect(md).toContain("## older: older title");
      expect(md).toContain("could not read junk.json");
      expect(writeSummary(dir)).toBe(path.join(dir, "summary.md"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("packageVersions", () => {
  it("reads installed versions and names the missing", () => {
    const v = packageVersions(["rankfuse", "fp-ts", "no-such-package-xyz"]);
    expect(v.rankfuse).toMatch(/^\d+\.\d+\.\d+$/);
    expect(v["fp-ts"]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(v["no-such-package-xyz"]).toBe("not installed");
  });
});
