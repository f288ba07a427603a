import { describe, expect, it } from "vitest";
import { compareFigures } from "../../report/compareCharts.ts";
import { foldSeeds, type SweepRun } from "../../report/sweepGrid.ts";
import { gridRows, lrChart, sweepSection, withLrColumn, type SweepRecord } from "../../report/sweepReport.ts";
import type { TrainResult } from "../../train/loop.ts";
import { expectWellFormed } from "./svgChecks.ts";

/** A result whose final loss is `loss`, with `steps` logged training losses and evaluations every 10 steps. */
function result(loss: number, steps = 20): TrainResult {
  const at = Array.from({ length: steps }, (_, i) => i + 1);
  return {
    steps,
    losses: at.map((step) => ({ step, loss: loss + 1 / step })),
    evals: at.filter((s) => s % 10 === 0).map((step) => ({ step, loss, ppl: Math.exp(loss), bitsPerByte: 2 })),
    final: { loss, ppl: Math.exp(loss), bitsPerByte: 2 },
    tokensPerSec: 1000,
    peakBytes: 1,
    stepTransfers: { written: 0, read: 0 },
    optimizerBytes: 8,
    stopped: false,
    resumedFrom: 0,
  };
}

const run = (method: string, lr: number, seed: number, loss?: number): SweepRun => ({
  method,
  lr,
  seed,
  dir: `/out/${method}/lr-${lr}/seed-${seed}`,
  ...(loss === undefined ? { diverged: "the loss is NaN" } : { result: result(loss) }),
});

const GRID = [
  run("full", 1e-3, 0, 3.0),
  run("full", 1e-3, 1, 3.2),
  run("full", 1e-2, 0, 2.8),
  run("full", 1e-2, 1, 2.9),
  run("cola", 1e-3, 0, 3.1),
  run("cola", 1e-3, 1, 3.1),
  run("cola", 1e-2, 0),
  run("cola", 1e-2, 1, 2.0),
];
const RECORD: SweepRecord = {
  lrs: [1e-3, 1e-2],
  seeds: [0, 1],
  grid: GRID,
  best: new Map([
    ["full", 1e-2],
    ["cola", 1e-3],
  ]),
  finals: GRID.filter((r) => (r.method === "full" ? r.lr === 1e-2 : r.lr === 1e-3)),
  gridTokens: 640,
  tokens: 640,
};

describe("the sweep's report section", () => {
  it("tabulates mean ± std per rate, marks each method's best and a rate with a diverged seed", () => {
    expect(gridRows(RECORD)).toEqual({
      headers: ["method", "lr 0.001", "lr 0.01", "best lr"],
      rows: [
        ["full", "3.1000 ± 0.1414", "2.8500 ± 0.0707 (best)", "0.01"],
        ["cola", "3.1000 ± 0.0000 (best)", "diverged (1 of 2 seeds)", "0.001"],
      ],
    });
  });

  it("draws lr.svg on a log x axis: a marker per rate, a band per method, the best rate in the legend", () => {
    const svg = lrChart(RECORD);
    expectWellFormed(svg);
    expect(svg).toContain("full (best 0.01)");
    expect(svg).toContain("cola (best 0.001)");
    expect(svg.match(/class="band"/g)).toHaveLength(2);
    expect(lrChart({ ...RECORD, seeds: [0] })).not.toContain('class="band"');
  });

  it("puts the grid, the seeds and every run's result in results.json, folders relative to the report", () => {
    const s = sweepSection("/out", RECORD);
    const sweep = s.json.sweep as {
      grid: {
        method: string;
        lr: number;
        best: boolean;
        runs: { dir: string; result?: unknown; diverged?: string }[];
      }[];
      finals: { dir: string; result?: unknown }[];
      best: Record<string, number>;
    };
    expect(sweep.best).toEqual({ full: 1e-2, cola: 1e-3 });
    expect(sweep.grid.map((c) => [c.method, c.lr, c.best])).toEqual([
      ["full", 1e-3, false],
      ["full", 1e-2, true],
      ["cola", 1e-3, true],
      ["cola", 1e-2, false],
    ]);
    expect(sweep.grid[0]!.runs[1]!.dir).toBe("full/lr-0.001/seed-1");
    expect(sweep.grid[3]!.runs[0]).toMatchObject({ diverged: "the loss is NaN" });
    expect(sweep.grid[3]!.runs[0]!.result).toBeUndefined();
    // the final runs are grid runs here: named, with their results in the grid
    expect(sweep.finals.map((f) => [f.dir, f.result])).toEqual([
      ["full/lr-0.01/seed-0", undefined],
      ["full/lr-0.01/seed-1", undefined],
      ["cola/lr-0.001/seed-0", undefined],
      ["cola/lr-0.001/seed-1", undefined],
    ]);
    expect(s.figures.map((f) => f.file)).toEqual(["lr.svg"]);
    expect(s.paragraphs.join(" ")).toContain("best rate (full 0.01, cola 0.001)");
  });

  it("a short grid says so, and its final runs carry their results", () => {
    const s = sweepSection("/out", { ...RECORD, gridTokens: 160 });
    expect(s.paragraphs.join(" ")).toMatch(/each grid run for 160 tokens.*trained again at its best rate/);
    expect((s.json.sweep as { finals: { result?: unknown }[] }).finals[0]!.result).toBeDefined();
    expect(s.notes.join(" ")).toContain("<method>/sweep/lr-<rate>/seed-<seed>");
  });

  it("adds an lr column after the method", () => {
    expect(withLrColumn(["method", "loss"], [["full", 3]], [0.01])).toEqual([
      ["method", "lr", "loss"],
      [["full", "0.01", 3]],
    ]);
  });
});

describe("a comparison's curves with seeds", () => {
  it("draw the mean with a ±std band, also where a long curve is thinned", () => {
    const long = [result(3, 5000), result(3.2, 5000)];
    const row = (method: string) => ({
      method,
      params: 1,
      nonEmbedding: 1,
      trainable: 1,
      trainFlopsPerToken: 1,
      tokensPerStep: 32,
      ...foldSeeds(long),
    });
    const [loss, val] = compareFigures([row("full"), row("cola")]);
    for (const f of [loss!, val!]) {
      expectWellFormed(f.svg);
      expect(f.svg.match(/class="band"/g)).toHaveLength(2);
    }
  });
});
