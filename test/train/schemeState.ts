import type * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../../ir/errors.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import { loraSlots } from "../../methods/relora/ops.ts";
import { Rng } from "../../util/rng.ts";
import type { SchemeContext } from "../../train/scheme.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { warmMoments } from "../helpers/textbookAdamw.ts";

/**
 * The setting the adapter-scheme tests (ReLoRA, dynamic adjustment) call hooks in, without the training
 * loop: a tiny model of `layers` blocks, its LoRA slots and scale (α = 32), and a state as if mid-training.
 */
export function schemeFixture(make: (cfg: ModelConfig) => E.Either<RankfuseError, TrainableModel>, layers: number) {
  const cfg: ModelConfig = unwrap(
    resolveConfig("tiny", { d: 16, heads: 2, layers, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }),
  );
  const model = unwrap(make(cfg));
  const layout = model.layout;
  const shapes = layout.shapes.map((s) => [...s]);
  /** Params off init (so the adapters are nonzero) and optimizer moments that are all nonzero. */
  const trainedState = (seed: number) => {
    const rng = Rng.fromSeed(seed);
    const params = model.init(seed).map((a) => a.map((x) => x + 0.1 * rng.normal()));
    return { params, adam: warmMoments(shapes, rng, 2) };
  };
  const ctxAt = (step: number, s: ReturnType<typeof trainedState>, totalSteps = 100): SchemeContext => ({
    step,
    totalSteps,
    params: s.params,
    adam: s.adam,
    layout,
  });
  return { cfg, model, layout, slots: loraSlots(layout), SCALE: 32 / cfg.rank, shapes, trainedState, ctxAt };
}
