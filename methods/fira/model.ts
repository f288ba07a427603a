import * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../../ir/errors.ts";
import { firaScheme, type FiraOptions } from "./optimizer.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import type { ModelConfig } from "../../models/config.ts";
import { assembleModel, declare, dense, denseProj, type LanguageModel } from "../../models/model.ts";

/**
 * Fira: the full-rank LLaMA, trained by Fira's optimizer on its projection matrices (rank cfg.rank;
 * see methods/fira/optimizer.ts) and AdamW on everything else. The model itself is exactly `full`.
 */
export type FiraSettings = Partial<Pick<FiraOptions, "alpha" | "gap" | "gamma" | "eps" | "weightDecay">>;

/** Fira: the full-rank model, with Fira's optimizer as its training scheme. */
export function makeFira(cfg: ModelConfig, settings: FiraSettings = {}): E.Either<RankfuseError, TrainableModel> {
  return E.right({
    ...assembleModel("fira", cfg, declare(cfg, dense), { proj: denseProj, gateSilu: true }),
    scheme: (o) =>
      firaScheme({
        ...settings,
        layout: o.layout,
        rank: cfg.rank,
        seed: o.seed,
        totalSteps: o.totalSteps,
        gemm: o.hostKernels?.gemm,
      }),
  });
}
