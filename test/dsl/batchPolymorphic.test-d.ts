import { describe, expectTypeOf, it } from "vitest";
import type { Dim, Shape } from "../../ir/dim.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";

/** Layers generic over leading batch dims type-check through matmul and the ops around it. */
type D = Dim<"d">;
type R = Dim<"r">;

/** A bias-and-gain low-rank layer over any leading dims [...B, N]. */
function layer<B extends Shape, N extends Dim, I extends Dim, O extends Dim>(
  x: Tensor<readonly [...B, N, I]>,
  a: Tensor<readonly [I, R]>,
  b: Tensor<readonly [R, O]>,
  bias: Tensor<readonly [O]>,
  gain: Tensor<readonly [Dim<"_">]>,
): Tensor<readonly [...B, N, O]> {
  const h = op.matmul(x, a);
  expectTypeOf(h).toEqualTypeOf<Tensor<readonly [...B, N, R]>>();
  return op.mul(op.add(op.matmul(op.silu(h), b), bias), gain);
}

/** Scaled dot-product attention over any batch of heads. */
function attend<B extends Shape, T extends Dim, H extends Dim>(
  q: Tensor<readonly [...B, T, H]>,
  k: Tensor<readonly [...B, T, H]>,
  v: Tensor<readonly [...B, T, H]>,
): Tensor<readonly [...B, T, H]> {
  const scores = op.matmulNT(q, k);
  expectTypeOf(scores).toEqualTypeOf<Tensor<readonly [...B, T, T]>>();
  return op.matmul(op.softmax(scores, true), v);
}

declare const x2: Tensor<readonly [Dim<"n">, D]>;
declare const x3: Tensor<readonly [Dim<"b">, Dim<"t">, D]>;
declare const x4: Tensor<readonly [Dim<"b">, Dim<"h">, Dim<"t">, D]>;
declare const A: Tensor<readonly [D, R]>;
declare const B: Tensor<readonly [R, D]>;
declare const bias: Tensor<readonly [D]>;
declare const gain: Tensor<readonly [Dim<"_">]>;
declare const w: Tensor<readonly [D]>;
declare const kb: Tensor<readonly [Dim<"b">, D, Dim<"s">]>;
declare const kc: Tensor<readonly [Dim<"c">, D, Dim<"s">]>;

describe("batch-polymorphic layers", () => {
  it("matmul(Tensor<[...B, N, D]>, Tensor<[D, R]>) is Tensor<[...B, N, R]> for every batch shape", () => {
    expectTypeOf(op.matmul(x2, A)).toEqualTypeOf<Tensor<readonly [Dim<"n">, R]>>();
    expectTypeOf(op.matmul(x3, A)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"t">, R]>>();
    expectTypeOf(op.matmul(x4, A)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"h">, Dim<"t">, R]>>();
  });

  it("one generic layer serves every batch shape", () => {
    expectTypeOf(layer(x2, A, B, bias, gain)).toEqualTypeOf<Tensor<readonly [Dim<"n">, D]>>();
    expectTypeOf(layer(x3, A, B, bias, gain)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"t">, D]>>();
    expectTypeOf(attend(x4, x4, x4)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"h">, Dim<"t">, D]>>();
    // @ts-expect-error the factors in the wrong order
    layer(x3, B, A, bias, gain);
  });

  it("a generic layer with a wrong inner dim does not compile", () => {
    function wrong<Bs extends Shape, N extends Dim, I extends Dim>(x: Tensor<readonly [...Bs, N, I]>) {
      // @ts-expect-error x's last axis is I, not r
      return op.matmul(x, B);
    }
    function rankOne<I extends Dim>(x: Tensor<readonly [I]>) {
      // @ts-expect-error matmul needs rank >= 2 (as the run time does)
      return op.matmul(x, A);
    }
    function wrongNorm<Bs extends Shape, N extends Dim>(x: Tensor<readonly [...Bs, N, D]>, g: Tensor<readonly [R]>) {
      // @ts-expect-error a gain over r does not fit the last axis d
      return op.rmsnorm(x, g);
    }
    function wrongBias<Bs extends Shape, N extends Dim>(x: Tensor<readonly [...Bs, N, D]>, b: Tensor<readonly [R]>) {
      // @ts-expect-error a bias over r does not fit the last axis d
      return op.add(x, b);
    }
    expectTypeOf(wrongNorm).toBeFunction();
    expectTypeOf(wrongBias).toBeFunction();
    expectTypeOf(wrong).toBeFunction();
    expectTypeOf(rankOne).toBeFunction();
  });

  it("norms, flatten2d and unflatten2d keep the leading dims", () => {
    function norm<Bs extends Shape, N extends Dim>(x: Tensor<readonly [...Bs, N, D]>) {
      const flat = op.flatten2d(op.rmsnorm(x, w));
      expectTypeOf(flat).toEqualTypeOf<Tensor<readonly [Dim<"_">, D]>>();
      return op.unflatten2d(op.matmul(flat, A), x);
    }
    expectTypeOf(norm(x3)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"t">, R]>>();
  });

  it("batched operands must share their batch dims", () => {
    expectTypeOf(op.matmul(x3, kb)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"t">, Dim<"s">]>>();
    // @ts-expect-error batch dims b and c differ
    op.matmul(x3, kc);
    // @ts-expect-error a batched right operand needs a batched left one (run time: batch dims differ)
    op.matmul(x2, kb);
  });
});
