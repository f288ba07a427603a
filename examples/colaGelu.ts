/**
 * CoLA with GELU: every projection of the decoder is `B·gelu(A·x)` at rank r, where CoLA has SiLU.
 * A method of your own, in one file, written against rankfuse's public entry points only:
 *
 *   node cli/bin.js train --method ./examples/colaGelu.ts --steps 200 --out runs/gelu
 *   node cli/bin.js compare --methods cola,./examples/colaGelu.ts --steps 200
 */
import { dim, gelu, type Dim, type Shape, type Tensor } from "rankfuse";
import {
  assembleModel,
  cola,
  colaLinear,
  declare,
  type ColaParams,
  type ColaWeights,
  type Projection,
} from "rankfuse/models";
import type { Method } from "rankfuse/methods";

/** The layer: x ↦ gelu(x·A)·B, the row-vector form of B·gelu(A·x). */
export const colaGeluLinear = <B extends Shape, N extends Dim, I extends Dim, R extends Dim, O extends Dim>(
  x: Tensor<readonly [...B, N, I]>,
  p: ColaParams<I, R, O>,
): Tensor<readonly [...B, N, O]> => colaLinear(x, p, gelu);

/** Every projection of the decoder through the layer (x is [..., n, d_in]; CoLA's weight kind). */
export const colaGeluProj: Projection<ColaWeights> = { apply: (x, p) => colaGeluLinear(x, p) };

/** The method: CoLA's factors and init (A [d_in, r], B [r, d_out]) with GELU in the middle. */
const colaGelu = {
  name: "colaGelu",
  summary: "CoLA with GELU: every projection is B·gelu(A·x) at rank r",
  build: (cfg) =>
    assembleModel("colaGelu", cfg, declare(cfg, cola(dim("r", cfg.rank))), {
      proj: colaGeluProj,
      gateSilu: !cfg.onlyLrAct,
    }),
} satisfies Method;

export default colaGelu;
