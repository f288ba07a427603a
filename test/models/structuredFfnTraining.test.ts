import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import { makeModel, type LanguageModel } from "../../models/model.ts";
import { train, type TrainData, type TrainOptions } from "../../train/loop.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { guideAlphaAt, guideSteps, selfGuidedScheme } from "../../train/selfGuided.ts";
import type { Progress } from "../../train/progress.ts";
import type { AdamW } from "../../train/adamw.ts";
import { Rng } from "../../train/rng.ts";
import { unwrap } from "../helpers/gradcheck.ts";
import { tempDir } from "../train/tempDir.ts";

const cfg: ModelConfig = unwrap(resolveConfig("tiny", { d: 16, heads: 2, layers: 1, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }));
const model: LanguageModel = unwrap(makeModel("lowrankFfnGuided", cfg));
const idx = (name: string) => model.layout.names.indexOf(name);

describe("self-guided scheme", () => {
  it("α follows ½(1 + cos(π·s/S)) over the first half, then stays 0", () => {
    expect(guideSteps(100, 0.5)).toBe(50);
    expect(guideSteps(1, 0.5)).toBe(1);
    expect(guideAlphaAt(0, 50)).toBe(1);
    expect(guideAlphaAt(25, 50)).toBeCloseTo(0.5, 12);
    expect(guideAlphaAt(10, 50)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 5)), 12);
    expect(guideAlphaAt(50, 50)).toBe(0);
    expect(guideAlphaAt(80, 50)).toBe(0);
    for (let s = 1; s < 50; s++) expect(guideAlphaAt(s, 50)).toBeLessThan(guideAlphaAt(s - 1, 50));
  });

  it("writes α after each step, and freezes the guides (only) once α is 0", () => {
    const scheme = selfGuidedScheme({ seed: 0, totalSteps: 10, layout: model.layout });
    const params = model.init(0);
    expect(params[idx("guideAlpha")]![0]).toBe(1);
    for (let step = 0; step < 10; step++) {
      scheme.afterStep!({ step, totalSteps: 10, params, adam: null as unknown as AdamW, layout: model.layout });
      expect(params[idx("guideAlpha")]![0]).toBe(Math.fround(guideAlphaAt(step + 1, 5)));
      const frozen = scheme.frozen!(step);
      model.layout.names.forEach((n, i) => expect(frozen[i], n).toBe(step >= 5 && /\.guide$/.test(n)));
    }
  });
});

const pattern = (() => {
  const rng = Rng.fromSeed(42);
  return Int32Array.from({ length: 64 }, () => rng.nextInt(cfg.vocab));
})();
const tile = (n: number) => Int32Array.from({ length: n }, (_, i) => pattern[i % pattern.length]!);
const data: TrainData = { train: tile(4096), val: tile(1024), bytesPerToken: 1 };
const quiet = (onUpdate: (step: number) => void = () => {}): Progress => ({ update: (s) => onUpdate(s), log: () => {}, done: () => {} });
const options = (o: Partial<TrainOptions>): TrainOptions => {
  const base = { steps: 12, batch: cfg.batch, seq: cfg.seq, lr: 1e-2, warmupSteps: 2, minLrRatio: 0.1, weightDecay: 0.01, clip: 1, seed: 3, evalEvery: 0, evalBatches: 2, checkpointEvery: 0, resume: false, progress: quiet(), ...o };
  return { ...base, fingerprint: { model: cfg, steps: base.steps } };
};
const run = async (o: TrainOptions) => {
  const r = await train(model, referenceBackend(), data, o);
  if (E.isLeft(r)) throw new Error(r.left.message);
  return r.right;
};
const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

describe("lowrankFfn training", () => {
  it("learns, ends with α = 0, leaves the guide untouched after α reaches 0, and resumes bit for bit", async () => {
    const [dirA, dirB, dirHalf] = [tempDir(), tempDir(), tempDir()];
    const a = await run(options({ outDir: dirA }));
    expect(a.losses.every((l) => Number.isFinite(l.loss))).toBe(true);
    const avg = (xs: readonly { loss: number }[]) => xs.reduce((s, l) => s + l.loss, 0) / xs.length;
    expect(avg(a.losses.slice(-3))).toBeLessThan(avg(a.losses.slice(0, 3)) - 0.2);
    const end = unwrap(loadCheckpoint(dirA));
    expect(end.params.values[idx("guideAlpha")]![0]).toBe(0);

    // the guide phase is the first 6 steps: a run stopped at step 6 has the guide the full run ends with
    const c1 = new AbortController();
    await run(options({ outDir: dirHalf, signal: c1.signal, progress: quiet((s) => s === 6 && c1.abort()) }));
    const half = unwrap(loadCheckpoint(dirHalf));
    expect(half.step).toBe(6);
    expect(half.params.values[idx("guideAlpha")]![0]).toBe(0);
    const guides = model.layout.names.flatMap((n, i) => (/\.guide$/.test(n) ? [i] : []));
    const structured = model.layout.names.flatMap((n, i) => (/\.(U|V)$/.test(n) ? [i] : []));
    guides.forEach((i) => expect(bits(end.params.values[i]!)).toEqual(bits(half.params.values[i]!)));
    structured.forEach((i) => expect(bits(end.params.values[i]!)).not.toEqual(bits(half.params.values[i]!))); // while the structured maps keep training

    // stopped inside the guide phase (α between 0 and 1) and resumed: equal to the uninterrupted run
    const c2 = new AbortController();
    await run(options({ outDir: dirB, signal: c2.signal, progress: quiet((s) => s === 3 && c2.abort()) }));
    expect(unwrap(loadCheckpoint(dirB)).params.values[idx("guideAlpha")]![0]).toBe(Math.fround(guideAlphaAt(3, 6)));
    await run(options({ outDir: dirB, resume: true }));
    const resumed = unwrap(loadCheckpoint(dirB));
    expect(resumed.params.values.map(bits)).toEqual(end.params.values.map(bits));
  });
});
