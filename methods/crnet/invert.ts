import type { Dim, Shape } from "../../ir/dim.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { crnetScale } from "./decoder.ts";

/**
 * CR-Net's recurrence run backwards (PAPERS.md's recompute scheme): from the next layer's output
 * Y_{ℓ+1}, its saved rank-r product X_{ℓ+1}·A_{ℓ+1}, B_{ℓ+1} and β_{ℓ+1},
 *   Y_ℓ = (Y_{ℓ+1} − (X_{ℓ+1}A_{ℓ+1})·B_{ℓ+1}) / s(β_{ℓ+1}).
 * It costs what the forward step costs (one [n,r]×[r,o] product and two elementwise ops) and needs no
 * full-size value but Y_{ℓ+1}, so backward can walk down from a checkpoint layer holding one Y at a time.
 * s(β) is never 0 (|s| ≥ 1e-6), but a tiny |s| amplifies rounding: the error grows like 1/|s| per step.
 */
export function invertCrnetStep<B extends Shape, N extends Dim, R extends Dim, O extends Dim>(
  yNext: Tensor<readonly [...B, N, O]>,
  xaNext: Tensor<readonly [...B, N, R]>,
  bNext: Tensor<readonly [R, O]>,
  betaNext: Tensor<readonly [Dim<"_">]>,
): Tensor<readonly [...B, N, O]> {
  return op.div(op.sub(yNext, op.matmul(xaNext, bNext)), crnetScale(betaNext));
}
