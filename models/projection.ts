import type { Dim, Shape } from "../ir/dim.ts";
import type { Tensor } from "../dsl/trace.ts";
import type { ColaParams } from "./layers.ts";

/**
 * The weights of a projection as a function of its input and output dims, so that one decoder uses one
 * projection for its d→d, d→ff and ff→d maps. A method extends it and writes the weights of a map
 * in → out with `this["in"]` and `this["out"]`:
 *
 *   interface LoraWeights extends WeightKind {
 *     readonly weights: { W: Tensor<readonly [this["in"], this["out"]]>; A: ...; B: ... };
 *   }
 *
 * and `Weights<LoraWeights, Dim<"d">, Dim<"ff">>` is then the weights of one map d → ff.
 */
export interface WeightKind {
  readonly in: Dim;
  readonly out: Dim;
  readonly weights: unknown;
}

/** The weights of kind K for one map I → O. */
export type Weights<K extends WeightKind, I extends Dim, O extends Dim> = (K & {
  readonly in: I;
  readonly out: O;
})["weights"];

/**
 * How a method maps x [..., n, i] to [..., n, o] with the weights of one map i → o (dense, CoLA, ...).
 * It is generic over the leading dims and over i and o, so its body is shape-checked once, for every
 * batch shape and every map of the decoder.
 */
export interface Projection<K extends WeightKind> {
  readonly apply: <B extends Shape, N extends Dim, I extends Dim, O extends Dim>(
    x: Tensor<readonly [...B, N, I]>,
    w: Weights<K, I, O>,
  ) => Tensor<readonly [...B, N, O]>;
}

/** A dense map's weight W [in, out]. */
export interface DenseWeights extends WeightKind {
  readonly weights: Tensor<readonly [this["in"], this["out"]]>;
}

/** A CoLA map's factors A [in, r] and B [r, out] (r named by the method). */
export interface ColaWeights extends WeightKind {
  readonly weights: ColaParams<this["in"], Dim, this["out"]>;
}
