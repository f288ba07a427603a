import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import type { LanguageModel } from "../../models/model.ts";
import { makeSst } from "../../models/sst.ts";
import { train, type TrainData, type TrainOptions, type TrainResult } from "../../train/loop.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import type { Progress } from "../../train/progress.ts";
import { Rng } from "../../train/rng.ts";
import { unwrap } from "../helpers/gradcheck.ts";
import { tempDir } from "./tempDir.ts";

/** SST through the real training loop on a tiny model and a learnable repeated sequence. */

const backend = referenceBackend();
const cfg: ModelConfig = unwrap(resolveConfig("tiny", { d: 16, heads: 2, layers: 1, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }));
const pattern = (() => {
  const rng = Rng.fromSeed(42);
  return Int32Array.from({ length: 64 }, () => rng.nextInt(cfg.vocab));
})();
const tile = (n: number) => Int32Array.from({ length: n }, (_, i) => pattern[i % pattern.length]!);
const data: TrainData = { train: tile(4096), val: tile(1024), bytesPerToken: 1 };
const quiet = (onUpdate: (step: number) => void = () => {}): Progress => ({ update: (s) => onUpdate(s), log: () => {}, done: () => {} });
const options = (o: Partial<TrainOptions> = {}): TrainOptions => ({
  steps: 8, batch: cfg.batch, seq: cfg.seq, lr: 1e-2, warmupSteps: 2, minLrRatio: 0.1, weightDecay: 0.01, clip: 1,
  seed: 3, evalEvery: 0, evalBatches: 4, checkpointEvery: 0, resume: false, progress: quiet(), fingerprint: { cfg }, ...o,
});
const run = async (m: LanguageModel, o: TrainOptions): Promise<TrainResult> => {
  const r = await train(m, backend, data, o);
  if (E.isLeft(r)) throw new Error(`${r.left.tag}: ${r.left.message}`);
  return r.right;
};
const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

// rounds of 2 steps and a re-SVD every 4, so short runs cross several of both
const model = unwrap(makeSst(cfg, { roundSteps: 2, resvdRounds: 2 }));

describe("SST in the training loop", () => {
  it("30 steps: the loss stays finite and falls well below ln(vocab)", async () => {
    const r = await run(model, options({ steps: 30, warmupSteps: 3 }));
    expect(r.losses.every((l) => Number.isFinite(l.loss))).toBe(true);
    expect(r.final.loss).toBeLessThan(Math.log(cfg.vocab) - 0.4);
    const avg = (xs: readonly { loss: number }[]) => xs.reduce((s, l) => s + l.loss, 0) / xs.length;
    expect(avg(r.losses.slice(-5))).toBeLessThan(avg(r.losses.slice(0, 5)) - 0.3);
  });

  it("stopped after step 7 and resumed equals an uninterrupted run across rounds and re-SVDs, bit for bit", async () => {
    const o = { steps: 12 };
    const [dirA, dirB] = [tempDir(), tempDir()];
    const a = await run(model, options({ ...o, outDir: dirA }));
    const stop = new AbortController();
    const b1 = await run(model, options({ ...o, outDir: dirB, signal: stop.signal, progress: quiet((s) => s === 7 && stop.abort()) }));
    expect(b1.stopped).toBe(true);
    const b2 = await run(model, options({ ...o, outDir: dirB, resume: true }));
    expect(b2.resumedFrom).toBe(7);
    expect(b2.losses).toEqual(a.losses);
    const [ca, cb] = [unwrap(loadCheckpoint(dirA)), unwrap(loadCheckpoint(dirB))];
    expect(cb.params.values.map(bits)).toEqual(ca.params.values.map(bits));
    expect(cb.adam.m.map(bits)).toEqual(ca.adam.m.map(bits));
    expect(cb.scheme).toEqual(ca.scheme);
  });
});
