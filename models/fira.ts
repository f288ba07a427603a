import * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../dsl/errors.ts";
import { firaScheme } from "../train/fira.ts";
import type { ModelConfig } from "./config.ts";
import { assembleModel, declare, dense, denseProj, type LanguageModel } from "./model.ts";

/**
 * Fira: the full-rank LLaMA, trained by Fira's optimizer on its projection matrices (rank cfg.rank;
 * see train/fira.ts) and AdamW on everything else. The model itself is exactly `full`.
 */
export function makeFira(cfg: ModelConfig): E.Either<RankfuseError, LanguageModel> {
  return E.right(assembleModel("fira", cfg, declare(cfg, dense), { proj: denseProj, gateSilu: true }, {
    scheme: (o) => firaScheme({ layout: o.layout, rank: cfg.rank, seed: o.seed, totalSteps: o.totalSteps }),
  }));
}
