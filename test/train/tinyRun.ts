import { expect } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../../ir/backend.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import type { LanguageModel } from "../../models/model.ts";
import { train, type TrainData, type TrainOptions, type TrainResult } from "../../train/loop.ts";
import type { Progress } from "../../train/progress.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";

/**
 * The setting the method tests train in: a tiny model on a fixed random 64-token sequence, repeated,
 * which a model with 8 tokens of context can learn; the deterministic float64 reference backend, so a
 * stopped-and-resumed run must equal an uninterrupted one bit for bit.
 */
export function tinyRun(over: Partial<ModelConfig> = {}, backend: Backend<any> = referenceBackend()) {
  const cfg: ModelConfig = unwrap(
    resolveConfig("tiny", { d: 16, heads: 2, layers: 1, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2, ...over }),
  );
  const rng = Rng.fromSeed(42);
  const pattern = Int32Array.from({ length: 64 }, () => rng.nextInt(cfg.vocab));
  const tile = (n: number) => Int32Array.from({ length: n }, (_, i) => pattern[i % pattern.length]!);
  const data: TrainData = { train: tile(4096), val: tile(1024), bytesPerToken: 1 };
  const options = (o: Partial<TrainOptions> = {}): TrainOptions => ({
    steps: 8,
    batch: cfg.batch,
    seq: cfg.seq,
    lr: 1e-2,
    warmupSteps: 2,
    minLrRatio: 0.1,
    weightDecay: 0.01,
    clip: 1,
    seed: 3,
    evalEvery: 0,
    evalBatches: 4,
    checkpointEvery: 0,
    resume: false,
    progress: quiet(),
    fingerprint: { cfg },
    ...o,
  });
  const run = async (m: LanguageModel, o: TrainOptions): Promise<TrainResult> => {
    const r = await train(m, backend, data, o);
    if (E.isLeft(r)) throw new Error(`${r.left.tag}: ${r.left.message}`);
    return r.right;
  };
  return { cfg, data, options, run, backend };
}

/** A progress sink that only reports steps (to stop a run at one). */
export const quiet = (onUpdate: (step: number) => void = () => {}): Progress => ({
  update: (s) => onUpdate(s),
  log: () => {},
  done: () => {},
});

/** The bit pattern of a float32 array, for bit-for-bit comparisons. */
export const bits = (a: Float32Array): number[] => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

/**
 * What "it learns the tiny pattern" means for a method: every step loss finite, the final loss well below
 * ln(vocab) (a uniform guess), and the last five steps clearly below the first five.
 */
export function expectLearned(r: TrainResult, vocab: number): void {
  expect(r.losses.every((l) => Number.isFinite(l.loss))).toBe(true);
  expect(r.final.loss).toBeLessThan(Math.log(vocab) - 0.4);
  const avg = (xs: readonly { loss: number }[]) => xs.reduce((s, l) => s + l.loss, 0) / xs.length;
  expect(avg(r.losses.slice(-5))).toBeLessThan(avg(r.losses.slice(0, 5)) - 0.3);
}
