/**
 * A two-stage low-rank projection: every projection of the decoder is `C·silu(B·silu(A·x))`, two
 * nonlinear steps through rank r (A [d_in, r], B [r, r], C [r, d_out]) where CoLA takes one. A method
 * of your own, in one file, written against rankfuse's public entry points only:
 *
 *   node cli/bin.js train --method ./examples/twoStageLowRank.ts --steps 200 --out runs/two-stage
 */
import { dim, silu, type Dim, type Shape, type Tensor } from "rankfuse";
import {
  assembleModel,
  colaStd,
  declare,
  linear,
  normal,
  param,
  type Decl,
  type ParamDecl,
  type Projection,
  type WeightKind,
} from "rankfuse/models";
import type { Method } from "rankfuse/methods";

/** One projection's factors: A [d_in, r], B [r, r], C [r, d_out]. */
export interface TwoStageParams<I extends Dim = Dim, R extends Dim = Dim, O extends Dim = Dim> {
  readonly A: Tensor<readonly [I, R]>;
  readonly B: Tensor<readonly [R, R]>;
  readonly C: Tensor<readonly [R, O]>;
}

/** The layer: x ↦ silu(silu(x·A)·B)·C, the row-vector form of C·silu(B·silu(A·x)). */
export const twoStageLinear = <B extends Shape, N extends Dim, I extends Dim, R extends Dim, O extends Dim>(
  x: Tensor<readonly [...B, N, I]>,
  p: TwoStageParams<I, R, O>,
): Tensor<readonly [...B, N, O]> => linear(silu(linear(silu(linear(x, p.A)), p.B)), p.C);

/** The weight kind: one map in → out holds TwoStageParams (rank r named by the method). */
export interface TwoStageWeights extends WeightKind {
  readonly weights: TwoStageParams<this["in"], Dim, this["out"]>;
}

/**
 * The factors' init: A and C as CoLA's (so C·A has a Xavier-like scale), B with variance 1/r (so the
 * middle step keeps the scale of what goes through it).
 */
export const twoStage =
  (r: Dim): Decl<{ A: ParamDecl; B: ParamDecl; C: ParamDecl }> =>
  (i, o) => {
    const std = colaStd(r.size, i.size, o.size);
    return {
      A: param([i, r], normal(std)),
      B: param([r, r], normal(1 / Math.sqrt(r.size))),
      C: param([r, o], normal(std)),
    };
  };

/** Every projection of the decoder through the layer (x is [..., n, d_in]). */
export const twoStageProj: Projection<TwoStageWeights> = { apply: (x, p) => twoStageLinear(x, p) };

/** The method: the two-stage projection everywhere, SwiGLU's gate kept (only_lr_act drops it, as in CoLA). */
const twoStageLowRank = {
  name: "twoStageLowRank",
  summary: "every projection is C·silu(B·silu(A·x)) through rank r",
  build: (cfg) =>
    assembleModel("twoStageLowRank", cfg, declare(cfg, twoStage(dim("r", cfg.rank))), {
      proj: twoStageProj,
      gateSilu: !cfg.onlyLrAct,
    }),
} satisfies Method;

export default twoStageLowRank;
