import { describe, expectTypeOf, it } from "vitest";
import type { Dim } from "../../ir/dim.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { linear } from "../../models/layers.ts";
import { colaProj, denseProj } from "../../models/model.ts";
import type { ColaWeights, DenseWeights, Projection, WeightKind, Weights } from "../../models/projection.ts";
import {
  decoderLogits,
  decoderLoss,
  type BlockParams,
  type DecoderParams,
  type DFF,
  type DModel,
  type Vocab,
} from "../../models/transformer.ts";
import type { ModelConfig } from "../../models/config.ts";

/** A projection's body is checked for every map of the decoder; the decoder's shapes follow the tokens'. */
type B = Dim<"b">;
type T = Dim<"t">;
declare const cfg: ModelConfig;
declare const ids: Tensor<readonly [B, T]>;
declare const x: Tensor<readonly [B, T, DModel]>;
declare const flat: Tensor<readonly [Dim<"n">]>;

/** A researcher's own weights: a gated low-rank map, with its rank named. */
interface GatedLowRank<I extends Dim, O extends Dim> {
  readonly down: Tensor<readonly [I, Dim<"k">]>;
  readonly up: Tensor<readonly [Dim<"k">, O]>;
  readonly gate: Tensor<readonly [O]>;
}
interface GatedWeights extends WeightKind {
  readonly weights: GatedLowRank<this["in"], this["out"]>;
}
declare const p: BlockParams<GatedWeights>;
declare const params: DecoderParams<GatedWeights>;

describe("typed projections", () => {
  it("Weights<K, I, O> is the weights of one map I → O", () => {
    expectTypeOf<Weights<DenseWeights, DModel, DFF>>().toMatchTypeOf<Tensor<readonly [DModel, DFF]>>();
    expectTypeOf<Tensor<readonly [DModel, DFF]>>().toMatchTypeOf<Weights<DenseWeights, DModel, DFF>>();
    expectTypeOf<BlockParams<ColaWeights>["down"]["B"]>().toMatchTypeOf<Tensor<readonly [Dim, DModel]>>();
    expectTypeOf<BlockParams<GatedWeights>["gate"]["gate"]>().toMatchTypeOf<Tensor<readonly [DFF]>>();
  });

  it("a projection maps [..., n, i] to [..., n, o], o read from the weights", () => {
    const gated: Projection<GatedWeights> = {
      apply: (h, w) => op.mul(linear(op.silu(linear(h, w.down)), w.up), w.gate),
    };
    expectTypeOf(gated.apply(x, p.gate)).toEqualTypeOf<Tensor<readonly [B, T, DFF]>>();
    expectTypeOf(denseProj.apply(x, {} as Weights<DenseWeights, DModel, DFF>)).toEqualTypeOf<
      Tensor<readonly [B, T, DFF]>
    >();
    expectTypeOf(colaProj).toEqualTypeOf<Projection<ColaWeights>>();
  });

  it("a projection whose body does not fit its weights does not compile", () => {
    const swapped: Projection<GatedWeights> = {
      // @ts-expect-error up before down: [..., i] by [k, o]
      apply: (h, w) => linear(linear(h, w.up), w.down),
    };
    const noUp: Projection<GatedWeights> = {
      // @ts-expect-error returns [..., k], not [..., o]
      apply: (h, w) => linear(h, w.down),
    };
    const wrongGate: Projection<GatedWeights> = {
      // @ts-expect-error the gate [o] multiplies the input [..., i]
      apply: (h, w) => linear(op.mul(h, w.gate), w.down),
    };
    expectTypeOf([swapped, noUp, wrongGate]).toBeArray();
  });

  it("the decoder's logits and loss follow the tokens' dims", () => {
    const opts = { proj: {} as Projection<GatedWeights>, gateSilu: true };
    expectTypeOf(decoderLogits(cfg, params, ids, opts)).toEqualTypeOf<Tensor<readonly [B, T, Vocab]>>();
    expectTypeOf(decoderLoss(cfg, params, ids, ids, opts)).toEqualTypeOf<Tensor<readonly []>>();
    // @ts-expect-error token ids are [b, t]
    decoderLogits(cfg, params, flat, opts);
    // @ts-expect-error dense weights for a gated projection
    decoderLogits(cfg, {} as DecoderParams<DenseWeights>, ids, opts);
  });
});
