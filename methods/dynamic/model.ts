import * as E from "fp-ts/lib/Either.js";
import { dim } from "../../ir/dim.ts";
import type { RankfuseError } from "../../ir/errors.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import type { ModelConfig } from "../../models/config.ts";
import { assembleModel, declare, type LanguageModel } from "../../models/model.ts";
import { LORA_ALPHA, lora, loraInit, loraProj } from "../relora/model.ts";
import { checkDynamicOptions, dynamicScheme, type DynamicOptions } from "./scheme.ts";

/**
 * Dynamic parameter adjustment (Zhou & Wang): the ReLoRA network (W + (α/r)·A·B per projection, α = 32,
 * r = cfg.rank) with no static freezing; the scheme (methods/dynamic/scheme.ts) decides each step which of
 * W and the adapters train, rotating full-rank training through groups of blocks and merging the
 * adapters at every switch.
 */
export function makeDynamic(cfg: ModelConfig, opts: DynamicOptions = {}): E.Either<RankfuseError, TrainableModel> {
  const bad = checkDynamicOptions(opts);
  if (bad) return E.left({ tag: "ConfigError", message: `dynamic: ${bad}` });
  const scale = LORA_ALPHA / cfg.rank;
  return E.right({
    ...assembleModel(
      "dynamic",
      cfg,
      declare(cfg, lora(dim("r", cfg.rank))),
      { proj: loraProj(scale), gateSilu: true },
      { init: loraInit },
    ),
    scheme: (o) => dynamicScheme(o, scale, cfg.layers, opts),
  });
}
