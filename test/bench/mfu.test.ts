import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { measureGemmPeak, PEAK_N, PEAK_SHAPES } from "../../bench/gemmPeak.ts";
import { formatMfu, mfu, trainFlopsPerToken } from "../../bench/mfu.ts";
import { stats } from "../../bench/stats.ts";
import { makeModel } from "../../methods/index.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import { nativeAddonRequirement } from "../helpers/requirements.ts";

/** MFU as the benchmarks report it: model training FLOPs per second over the GEMM peak measured in the run. */
describe("MFU", () => {
  it("is 3 × forward FLOPs per token × tokens/s ÷ the peak, for every figure of the tokens/s Stat", () => {
    const model = E.flatMap((c: ModelConfig) => makeModel("full", c))(resolveConfig("60m", { batch: 8 }));
    if (E.isLeft(model)) throw new Error(model.left.message);
    const perToken = trainFlopsPerToken(model.right);
    expect(perToken).toBe(3 * model.right.forwardFlopsPerToken);
    const tps = stats([1000, 900, 1100]);
    const m = mfu(tps, perToken, 200);
    expect(m.n).toBe(3);
    expect(m.median).toBeCloseTo((1000 * perToken) / 200e9, 12);
    expect([m.min, m.max]).toEqual([(900 * perToken) / 200e9, (1100 * perToken) / 200e9]);
  });

  it("formats as percent with its range, n/a without figures or without a peak", () => {
    expect(formatMfu({ median: 0.1234, min: 0.12, max: 0.125, n: 3 })).toBe("12.3% [12.0-12.5]");
    expect(formatMfu(stats([]))).toBe("n/a");
    expect(formatMfu(mfu(stats([1000]), 1e6, NaN))).toBe("n/a");
    expect(formatMfu(undefined)).toBe("n/a");
  });
});

const native = await nativeAddonRequirement();

describe.skipIf(native.skip)(native.title("measured GEMM peak"), () => {
  it("times the addon's matmul on 1 and all threads and divides by the best all-threads repeat over every shape", () => {
    const peak = measureGemmPeak(native.get(), 2, 5, 2);
    expect(peak).toMatchObject({ n: PEAK_N, threads: 2 });
    expect(peak.allThreads.n).toBe(2);
    expect(peak.oneThread.median).toBeGreaterThan(0);
    expect(Object.keys(peak.shapes)).toEqual(PEAK_SHAPES.map((s) => s.join("x")));
    const bests = Object.values(peak.shapes).map((s) => s.max);
    expect(peak.best).toBe(Math.max(...bests));
    expect(peak.shapes[peak.bestShape]!.max).toBe(peak.best);
    expect(peak.scaling.median).toBeGreaterThan(0);
  });
});
