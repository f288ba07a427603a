/**
 * A layer file for `rankfuse bench fusion --layer bench/layers/geluCola.ts`: a CoLA layer with GELU,
 * y = gelu(x·A)·B, from width d to d through rank r, over n tokens. Its dims are unbound, so
 * `--dims n=256,d=128,r=32` (or benchFusion's `dims`) resizes it; `dims` below are the defaults, the
 * 60M config's width and rank at 2048 tokens.
 *
 * A layer file exports `layer` (a DSL function), `shapes` (its argument specs, as compile's `args`),
 * and optionally `dims` (sizes of unbound dims) and `name`; or one default export with those fields.
 * Outside this repository, import from "rankfuse" instead of the sources.
 */
import { dim, gelu, matmul, spec, type Dim, type Tensor } from "../../index.ts";

const [n, d, r] = [dim("n"), dim("d"), dim("r")];

type Params = { A: Tensor<readonly [Dim<"d">, Dim<"r">]>; B: Tensor<readonly [Dim<"r">, Dim<"d">]> };

/** y = gelu(x·A)·B. */
export const layer = (p: Params, x: Tensor<readonly [Dim<"n">, Dim<"d">]>) => matmul(gelu(matmul(x, p.A)), p.B);

/** The factors A [d, r], B [r, d] and the input x [n, d]. */
export const shapes = [{ A: spec([d, r]), B: spec([r, d]) }, spec([n, d])] as const;

/** The 60M config's d and r, at 2048 tokens. */
export const dims = { n: 2048, d: 512, r: 128 };

/** How the report names it. */
export const name = "GELU CoLA layer";
