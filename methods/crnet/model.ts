import * as E from "fp-ts/lib/Either.js";
import { anon, dim, type Dim } from "../../ir/dim.ts";
import type { RankfuseError } from "../../ir/errors.ts";
import { crnetInversion } from "./remat.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import type { ModelConfig } from "../../models/config.ts";
import {
  assembleModel,
  colaStd,
  declareDecoder,
  dense,
  denseProj,
  type Decl,
  type LanguageModel,
} from "../../models/model.ts";
import { ONES, normal, param, type ParamDecl } from "../../models/params.ts";
import { crnetLogits, crnetLoss, type CrnetParams } from "./decoder.ts";
import { withRank } from "../../dsl/ops.ts";

/**
 * CR-Net (cross-layer low-rank residuals, PAPERS.md): layer 1 is a dense LLaMA block; in every later
 * layer each of q, k, v, o, gate, up, down is its previous layer's output plus a rank-r term,
 * Y_ℓ = s(β_ℓ)·Y_{ℓ−1} + X_ℓ·A_ℓ·B_ℓ (methods/crnet/decoder.ts). Choices the paper leaves open:
 * β starts at 1 (the layer starts as "previous output plus a correction"); A and B start like CoLA's
 * factors (N(0,1)·r^(-1/4)·(d_in+d_out)^(-1/4), so A·B has a Xavier-like scale); layer 1's dense
 * weights start like LLaMA's (N(0, 0.02²)). Trains under its own recompute policy (methods/crnet/remat.ts).
 */

/** A low-rank residual projection's params: A [i, r], B [r, o], β [1]. */
type LowRankDecl = { A: ParamDecl; B: ParamDecl; beta: ParamDecl };
const lowRank =
  (r: Dim): Decl<LowRankDecl> =>
  (i, o) => {
    const std = colaStd(r.size, i.size, o.size);
    return { A: param([i, r], normal(std)), B: param([r, o], normal(std)), beta: param([anon(1)], ONES) };
  };

export function declareCrnet(cfg: ModelConfig) {
  const R = dim("r", cfg.rank);
  const proj = (layer: number): Decl<ParamDecl | LowRankDecl> => (layer === 0 ? dense : lowRank(R));
  return declareDecoder(cfg, proj, proj);
}

/** CR-Net: a dense first layer, then cross-layer low-rank residual projections, under its inversion remat policy. */
export function makeCrnet(cfg: ModelConfig): E.Either<RankfuseError, TrainableModel> {
  // assembleModel derives counts and FLOPs from the layout (every 2-D weight read once per token by a
  // matmul: right for CR-Net too; the recurrence's axpy is elementwise); loss and logits are CR-Net's own
  const base = assembleModel(
    "crnet",
    cfg,
    declareCrnet(cfg),
    { proj: denseProj, gateSilu: true },
    { remat: crnetInversion(cfg.layers) },
  );
  return E.right({
    ...base,
    decoder: undefined, // the recurrence is not the shared decoder's
    loss: (params, ids, targets) => crnetLoss(cfg, params as CrnetParams, withRank(ids, 2), withRank(targets, 2)),
    logits: (params, ids) => crnetLogits(cfg, params as CrnetParams, withRank(ids, 2)),
  });
}
