import { describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { packageVersions, saveSuite } from "../../bench/report.ts";
import { sectionHeading, summaryMarkdown, writeSummary, type SavedSuite } from "../../bench/summary.ts";
import { renderChart, type SuiteChart } from "../../bench/charts.ts";
import { methodColor } from "../../report/methodColors.ts";

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
    expect(md.indexOf("## peers title")).toBeGreaterThan(-1);
    expect(md.indexOf("## scaling title")).toBeGreaterThan(md.indexOf("## peers"));
    expect(md).toContain("`npm run bench -- scaling` on 2026-01-01: Test CPU");
    expect(md).toContain("![tiny tokens/s](peers-tiny-tokens.svg)");
    expect(md).toContain("| native | 5000 [4900-5100] |");
    expect(md).toContain("- peers note");
    expect(md).toContain("Test CPU, 2 cores");
    expect(md).toContain("- torch: PyTorch 1.13; BLAS: OpenBLAS");
    expect(md).toContain("Packages: rankfuse 0.1.0");
    expect(md).toContain("BLAS: test GEMM");
    expect(md).toContain("could not read broken.json");
  });

  it("names each suite once in its heading, whether or not its title opens with the suite's name", () => {
    const md = summaryMarkdown([
      suite("scaling", { title: "scaling: step time and peak memory" }),
      suite("trainStep", { title: "train step: the tiny model's whole update step" }),
      suite("remat", { title: "remat policies on CoLA-LLaMA" }),
      suite("corpus", { title: "Throughput and peak memory of preparation" }),
    ]);
    expect(md).toContain("## scaling: step time and peak memory\n");
    expect(md).toContain("## train step: the tiny model's whole update step\n");
    expect(md).toContain("## remat policies on CoLA-LLaMA\n");
    expect(md).toContain("## corpus: Throughput and peak memory of preparation\n");
    for (const heading of md.split("\n").filter((l) => l.startsWith("## "))) {
      const words = heading
        .slice(3)
        .toLowerCase()
        .split(/[^a-z]+/)
        .filter(Boolean);
      expect(words[0], heading).not.toBe(words[1]);
    }
    expect(sectionHeading("scaling", "scaling: x")).toBe("scaling: x");
    expect(sectionHeading("fusion", "Fusion: CoLA layer")).toBe("Fusion: CoLA layer");
    expect(sectionHeading("peers", "the same model in five peers")).toBe("peers: the same model in five peers");
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
      expect(md).toContain("## demo title");
      expect(md).toContain("## older title");
      expect(md).toContain("could not read junk.json");
      expect(writeSummary(dir)).toBe(path.join(dir, "summary.md"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("writeSummary", () => {
  it("redraws every saved chart from its suite's JSON with the renderer a run uses, and names a chart it cannot draw", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-bench-test-"));
    try {
      const chart: SuiteChart = {
        kind: "loglog",
        file: "old-time.svg",
        options: {
          title: "step time vs tokens",
          xLabel: "tokens per step",
          yLabel: "step time",
          yUnit: "ms",
          series: [
            {
              name: "cola",
              points: [
                [256, 40, 38, 45],
                [512, 75, 70, 80],
              ],
            },
          ],
        },
      };
      const bars: SuiteChart = {
        kind: "bar",
        file: "old-bars.svg",
        options: { title: "tokens/s", yLabel: "tokens/s", bars: [{ label: "cola native", value: 5, error: [4, 6] }] },
      };
      const broken = { kind: "loglog", file: "broken.svg", options: { title: "t" } } as unknown as SuiteChart;
      fs.writeFileSync(path.join(dir, "old.json"), JSON.stringify(suite("old", { charts: [chart, bars, broken] })));
      writeSummary(dir);
      expect(fs.readFileSync(path.join(dir, "old-time.svg"), "utf8")).toBe(renderChart(chart));
      expect(fs.readFileSync(path.join(dir, "old-bars.svg"), "utf8")).toBe(renderChart(bars));
      const md = fs.readFileSync(path.join(dir, "summary.md"), "utf8");
      expect(md).toContain("![step time vs tokens](old-time.svg)");
      expect(md).toMatch(/could not read old\.json's chart broken\.svg/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("writeSummary on results saved by an older version", () => {
  it("rebuilds scaling's charts from its data and colours old bars by the method their label opens with", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-bench-test-"));
    try {
      const stat = (m: number) => ({ median: m, min: m * 0.9, max: m * 1.1, n: 3 });
      const points = [256, 512].map((x) => ({
        point: { sweep: "tokens", x, method: "cola", overrides: {} },
        tokens: x,
        analyticFlops: 1e6 * x,
        stepMs: stat(x / 10),
        peakBytes: 1e5 * x,
      }));
      const oldSpec: SuiteChart = {
        kind: "loglog",
        file: "scaling-tokens-time.svg",
        options: { title: "step time vs tokens", xLabel: "tokens", yLabel: "ms per step (median)", series: [] },
      };
      fs.writeFileSync(
        path.join(dir, "scaling.json"),
        JSON.stringify(suite("scaling", { charts: [oldSpec], data: { layers: 2, points } })),
      );
      const oldBars: SuiteChart = {
        kind: "bar",
        file: "peers-tiny-tokens.svg",
        options: { title: "tokens/s", yLabel: "tokens/s", bars: [{ label: "cola torch-cpu", value: 5 }] },
      };
      fs.writeFileSync(path.join(dir, "peers.json"), JSON.stringify(suite("peers", { charts: [oldBars] })));
      writeSummary(dir);
      const time = fs.readFileSync(path.join(dir, "scaling-tokens-time.svg"), "utf8");
      expect(time).toContain('class="whisker"');
      expect(time).toMatch(/cola: analytic FLOPs ÷ [\d.]+ GFLOP\/s/);
      expect(time).toMatch(/>\d+ ms</);
      expect(fs.existsSync(path.join(dir, "scaling-tokens-memory.svg"))).toBe(true);
      expect(fs.readFileSync(path.join(dir, "summary.md"), "utf8")).toContain("(scaling-tokens-memory.svg)");
      expect(fs.readFileSync(path.join(dir, "peers-tiny-tokens.svg"), "utf8")).toContain(
        `fill="${methodColor("cola")}"`,
      );
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
