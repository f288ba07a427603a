import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { bandAround, bestRates, foldSeeds, gridCells, plusMinus, type SweepRun } from "../../report/sweepGrid.ts";
import type { TrainResult } from "../../train/loop.ts";
import { runs } from "../helpers/runs.ts";

/** A result with the given final loss, curves over `steps`, and throughput. */
function result(loss: number, o: { tokensPerSec?: number; steps?: number[]; offset?: number } = {}): TrainResult {
  const steps = o.steps ?? [1, 2, 3, 4];
  const off = o.offset ?? 0;
  return {
    steps: steps.at(-1)!,
    losses: steps.map((step) => ({ step, loss: 5 - step / 10 + off })),
    evals: steps
      .filter((s) => s % 2 === 0)
      .map((step) => ({ step, loss: 4 + off, ppl: Math.exp(4 + off), bitsPerByte: 6 })),
    final: { loss, ppl: Math.exp(loss), bitsPerByte: loss / Math.LN2 },
    tokensPerSec: o.tokensPerSec ?? 1000,
    peakBytes: 100,
    stepTransfers: { written: 1, read: 2 },
    optimizerBytes: 64,
    stopped: false,
    resumedFrom: 0,
  };
}

const run = (method: string, lr: number, seed: number, loss: number | "diverged"): SweepRun =>
  loss === "diverged"
    ? { method, lr, seed, dir: `${method}/lr-${lr}/seed-${seed}`, diverged: "the loss is NaN at step 3" }
    : { method, lr, seed, dir: `${method}/lr-${lr}/seed-${seed}`, result: result(loss) };

const LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2];

describe("the sweep's pick", () => {
  it("is the rate with the lowest mean final loss over seeds (argmin, checked directly)", () => {
    const grid = fc.array(fc.array(fc.double({ min: 1, max: 8, noNaN: true }), { minLength: 3, maxLength: 3 }), {
      minLength: 2,
      maxLength: LRS.length,
    });
    fc.assert(
      fc.property(grid, (losses) => {
        const rs = losses.flatMap((seeds, i) => seeds.map((l, seed) => run("full", LRS[i]!, seed, l)));
        const means = losses.map((seeds) => seeds.reduce((a, b) => a + b, 0) / seeds.length);
        const lo = Math.min(...means);
        const best = bestRates(gridCells(rs)).get("full")!;
        // the argmin, the smallest rate among exact ties
        expect(best).toBe(LRS[means.findIndex((m) => m === lo)]);
      }),
      { numRuns: runs(200) },
    );
  });

  it("never picks a rate where a seed diverged, and leaves out a method that diverged everywhere", () => {
    const rs = [
      run("full", 1e-3, 0, 3.0),
      run("full", 1e-3, 1, 3.2),
      run("full", 1e-2, 0, 2.0),
      run("full", 1e-2, 1, "diverged"),
      run("cola", 1e-3, 0, "diverged"),
      run("cola", 1e-2, 0, NaN),
    ];
    const cells = gridCells(rs);
    expect(cells.map((c) => [c.method, c.lr, c.runs.length])).toEqual([
      ["full", 1e-3, 2],
      ["full", 1e-2, 2],
      ["cola", 1e-3, 1],
      ["cola", 1e-2, 1],
    ]);
    expect(cells[0]!.loss.mean).toBeCloseTo(3.1, 12);
    expect(cells[0]!.loss.std).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(cells[1]!.loss.mean).toBeNaN();
    expect([...bestRates(cells)]).toEqual([["full", 1e-3]]);
  });

  it("equal means pick the smaller rate", () => {
    const rs = [run("sst", 1e-2, 0, 3), run("sst", 1e-3, 0, 3)];
    expect(bestRates(gridCells(rs)).get("sst")).toBe(1e-3);
  });
});

describe("seeds folded into one result", () => {
  it("means and sample standard deviations of the finals, throughput and curves", () => {
    const rs = [
      result(3.0, { tokensPerSec: 900, offset: 0 }),
      result(3.3, { tokensPerSec: 1100, offset: 0.2 }),
      result(3.6, { tokensPerSec: 1000, offset: 0.4 }),
    ];
    const { result: m, spread } = foldSeeds(rs);
    expect(m.final.loss).toBeCloseTo(3.3, 12);
    expect(m.final.ppl).toBeCloseTo((Math.exp(3) + Math.exp(3.3) + Math.exp(3.6)) / 3, 9);
    expect(spread.loss).toBeCloseTo(0.3, 12); // √(((−0.3)² + 0² + 0.3²) / 2)
    expect(m.tokensPerSec).toBeCloseTo(1000, 9);
    expect(spread.tokensPerSec).toBeCloseTo(100, 9);
    expect(spread.n).toBe(3);
    expect(m.losses.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    expect(m.losses[0]!.loss).toBeCloseTo(4.9 + 0.2, 12);
    expect(spread.losses.map((l) => l.std)).toEqual(spread.losses.map(() => expect.closeTo(0.2, 12)));
    expect(m.evals.map((e) => e.step)).toEqual([2, 4]);
    expect(spread.evals.map((e) => e.step)).toEqual([2, 4]);
    expect(m.optimizerBytes).toBe(64);
  });

  it("per-step throughput: the slowest and fastest step of all seeds, every timed step counted", () => {
    const rate = (min: number, median: number, max: number) => ({ min, p10: min, median, p90: max, max, steps: 10 });
    const { result: m } = foldSeeds([
      { ...result(3), stepTokensPerSec: rate(800, 1000, 1200) },
      { ...result(3), stepTokensPerSec: rate(900, 1100, 1500) },
    ]);
    expect(m.stepTokensPerSec).toEqual({ min: 800, p10: 850, median: 1050, p90: 1350, max: 1500, steps: 20 });
    expect(foldSeeds([result(3)]).result.stepTokensPerSec).toBeUndefined();
  });

  it("curves keep only the steps every seed logged (a seed resumed from a shorter log)", () => {
    const { result: m, spread } = foldSeeds([result(3, { steps: [1, 2, 3, 4] }), result(3, { steps: [2, 3, 4] })]);
    expect(m.losses.map((l) => l.step)).toEqual([2, 3, 4]);
    expect(spread.losses.map((l) => l.step)).toEqual([2, 3, 4]);
  });

  it("one seed is itself, with no spread", () => {
    const r = result(3.1);
    const { result: m, spread } = foldSeeds([r]);
    expect(m.final).toEqual(r.final);
    expect(spread.loss).toBeNaN();
  });
});

describe("formatting", () => {
  it("mean ± std, or the mean alone without a spread", () => {
    expect(plusMinus(3.14159, 0.0123, 3)).toBe("3.142 ± 0.012");
    expect(plusMinus(3.14159, NaN, 3)).toBe("3.142");
    expect(plusMinus(NaN, NaN, 2)).toBe("NaN");
  });

  it("a band spans y ± std at each point with a finite spread", () => {
    expect(
      bandAround(
        [
          [1, 5],
          [2, 4],
          [3, 3],
        ],
        [0.5, NaN, 1],
      ),
    ).toEqual([
      [1, 4.5, 5.5],
      [3, 2, 4],
    ]);
  });
});
