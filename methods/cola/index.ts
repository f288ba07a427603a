import * as E from "fp-ts/lib/Either.js";
import { dim } from "../../ir/dim.ts";
import { assembleModel, cola as colaDecl, colaProj, declare } from "../../models/model.ts";
import type { ModelConfig } from "../../models/config.ts";
import type { RematPolicy } from "../../passes/remat.ts";
import type { Method } from "../method.ts";
import type { ExportSpec } from "../exportSpec.ts";

/** CoLA's factors in the CoLA authors' names and layout: cola_a [in, r], cola_b [r, out], computing cola_b·silu(cola_a·x). */
export const COLA_EXPORT: ExportSpec = {
  architecture: "ColaForCausalLM",
  modelType: "cola",
  factors: { A: ["cola_a", false], B: ["cola_b", false] },
  config: (cfg) => ({ rank: cfg.rank, lr_act: true, lr_act_type: "silu", only_lr_act: cfg.onlyLrAct }),
};

/** A CoLA model: every projection is `B·silu(A·x)` at rank cfg.rank (only_lr_act drops the MLP's SiLU gate). */
export const colaModel = (name: string, cfg: ModelConfig, remat?: RematPolicy) =>
  assembleModel(
    name,
    cfg,
    declare(cfg, colaDecl(dim("r", cfg.rank))),
    { proj: colaProj, gateSilu: !cfg.onlyLrAct },
    remat ? { remat } : {},
  );

/** CoLA (Liu et al.): low-rank activations `B·silu(A·x)` in place of every dense projection. */
export const cola: Method = {
  name: "cola",
  summary: "CoLA: every projection is B·silu(A·x) at rank r",
  export: COLA_EXPORT,
  build: (cfg) => E.right(colaModel("cola", cfg)),
};
