import type { Dim, Shape } from "../ir/dim.ts";
import type { Tensor } from "../dsl/trace.ts";
import * as op from "../dsl/ops.ts";
import { checkpointName } from "../dsl/trace.ts";
import { COLA_ACT } from "../passes/remat.ts";

/** Building blocks shared by the models: each is a pure function of its params and input. */

export type Activation = <S extends Shape>(x: Tensor<S>) => Tensor<S>;

/** A dense map `x·W` over x [..., n, d_in] with W: [d_in, d_out] (no bias, as in LLaMA). */
export const linear = <B extends Shape, N extends Dim, I extends Dim, O extends Dim>(
  x: Tensor<readonly [...B, N, I]>,
  w: Tensor<readonly [I, O]>,
): Tensor<readonly [...B, N, O]> => op.matmul(x, w);

/** A CoLA layer's factors: A [d_in, r] and B [r, d_out]. */
export interface ColaParams<I extends Dim = Dim, R extends Dim = Dim, O extends Dim = Dim> {
  readonly A: Tensor<readonly [I, R]>;
  readonly B: Tensor<readonly [R, O]>;
}

/**
 * CoLA's low-rank auto-encoder `B·σ(A·x)` (row-vector form: σ(x·A)·B): the rank-r value in the middle
 * is where CoLA's nonlinearity lives and what CoLA-M keeps for backward (z = x·A, named before σ so that
 * backward gets σ(z) and σ'(z) from it without recomputing x·A; passes/remat.ts `colaM`).
 */
export const colaLinear = <B extends Shape, N extends Dim, I extends Dim, R extends Dim, O extends Dim>(
  x: Tensor<readonly [...B, N, I]>,
  p: ColaParams<I, R, O>,
  act: Activation = op.silu,
): Tensor<readonly [...B, N, O]> => linear(act(checkpointName(linear(x, p.A), COLA_ACT)), p.B);
