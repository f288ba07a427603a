import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { dim, type Dim, type Shape } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { trace } from "../../dsl/traceFunction.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { resolveConfig } from "../../models/config.ts";
import { colaProj, denseProj } from "../../models/model.ts";
import { decoderLogits, type DecoderParams } from "../../models/transformer.ts";
import type { ColaWeights, DenseWeights } from "../../models/projection.ts";
import { crnetLogits, type CrnetParams } from "../../methods/crnet/decoder.ts";
import { METHODS, makeModel } from "../../methods/index.ts";
import { unwrap } from "../../testing/unwrap.ts";

/**
 * The decoder's static types and its traced shapes agree: the logits of typed token ids [b, t] are
 * [b, t, vocab] in the types and in the trace; untyped ids enter through the model's rank check.
 */
const cfg = unwrap(resolveConfig("tiny", { d: 16, heads: 2, layers: 2, dFF: 24, rank: 4, vocab: 32, seq: 8 }));
const [b, t] = [dim("b", 2), dim("t", cfg.seq)];
const ids = spec([b, t], "int32");

/** The dim names a shape type promises. */
type Names<S extends Shape> = { readonly [K in keyof S]: S[K] extends Dim<infer N> ? N : never };
const names = <S extends Shape>(x: Tensor<S>, want: Names<S>) => {
  expect(x.dims.map((d) => d.name)).toEqual(want);
  return x;
};

describe("the typed decoder", () => {
  it("full and cola: logits of ids [b, t] are [b, t, vocab] in the types and in the trace", () => {
    const [full, cola] = [unwrap(makeModel("full", cfg)), unwrap(makeModel("cola", cfg))];
    const dense = trace(
      (p: unknown, x) =>
        names(decoderLogits(cfg, p as DecoderParams<DenseWeights>, x, { proj: denseProj, gateSilu: true }), [
          "b",
          "t",
          "vocab",
        ]),
      [full.layout.specs, ids] as const,
    );
    const lowRank = trace(
      (p: unknown, x) =>
        names(decoderLogits(cfg, p as DecoderParams<ColaWeights>, x, { proj: colaProj, gateSilu: true }), [
          "b",
          "t",
          "vocab",
        ]),
      [cola.layout.specs, ids] as const,
    );
    expect([E.isRight(dense), E.isRight(lowRank)]).toEqual([true, true]);
  });

  it("crnet: the same, through its recurrent projection", () => {
    const m = unwrap(makeModel("crnet", cfg));
    const traced = trace((p: unknown, x) => names(crnetLogits(cfg, p as CrnetParams, x), ["b", "t", "vocab"]), [
      m.layout.specs,
      ids,
    ] as const);
    expect(E.isRight(traced)).toBe(true);
  });

  it.each(METHODS)("%s: untyped ids of the wrong rank are a ShapeError at the model's boundary", (method) => {
    const m = unwrap(makeModel(method, cfg));
    const traced = trace((p: unknown, x: Tensor) => m.logits(p, x), [m.layout.specs, spec([t], "int32")] as const);
    expect(E.isLeft(traced) && `${traced.left.tag}: ${traced.left.message}`).toBe(
      `ShapeError: input: expected a rank-2 tensor, got [t=${cfg.seq}]`,
    );
  });
});
