import { describe, expectTypeOf, it } from "vitest";
import { dim, type Dim } from "../../ir/dim.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { MatmulCheck, ShapeError } from "../../ir/shapeTypes.ts";

/** Shape errors do not compile; well-shaped programs type-check to the expected shape. */
declare const x: Tensor<readonly [Dim<"n">, Dim<"d">]>;
declare const A: Tensor<readonly [Dim<"d">, Dim<"r">]>;
declare const B: Tensor<readonly [Dim<"r">, Dim<"d">]>;
declare const xb: Tensor<readonly [Dim<"b">, Dim<"t">, Dim<"d">]>;
declare const kb: Tensor<readonly [Dim<"b">, Dim<"d">, Dim<"s">]>;
declare const ids: Tensor<readonly [Dim<"b">, Dim<"t">]>;
declare const table: Tensor<readonly [Dim<"v">, Dim<"d">]>;
declare const w: Tensor<readonly [Dim<"d">]>;
declare const wr: Tensor<readonly [Dim<"r">]>;

describe("shape types", () => {
  it("matmul infers the product shape", () => {
    expectTypeOf(op.matmul(x, A)).toEqualTypeOf<Tensor<readonly [Dim<"n">, Dim<"r">]>>();
    expectTypeOf(op.matmul(op.silu(op.matmul(x, A)), B)).toEqualTypeOf<Tensor<readonly [Dim<"n">, Dim<"d">]>>();
    expectTypeOf(op.matmul(xb, A)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"t">, Dim<"r">]>>();
    expectTypeOf(op.matmul(xb, kb)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"t">, Dim<"s">]>>();
  });

  it("a mismatched matmul does not compile, and says why", () => {
    // @ts-expect-error inner dims d and r differ
    op.matmul(x, B);
    // @ts-expect-error A·A: [d, r] by [d, r]
    op.matmul(A, A);
    expectTypeOf<MatmulCheck<readonly [Dim<"n">, Dim<"d">], readonly [Dim<"r">, Dim<"d">]>>().toEqualTypeOf<
      ShapeError<"Cannot multiply [n, d] by [r, d]">
    >();
    expectTypeOf<MatmulCheck<readonly [Dim<"n">, Dim<"d">], readonly [Dim<"d">, Dim<"r">]>>().toEqualTypeOf<unknown>();
  });

  it("elementwise ops keep the shape and broadcast trailing shapes only", () => {
    expectTypeOf(op.add(x, x)).toEqualTypeOf<Tensor<readonly [Dim<"n">, Dim<"d">]>>();
    expectTypeOf(op.mul(x, w)).toEqualTypeOf<Tensor<readonly [Dim<"n">, Dim<"d">]>>();
    expectTypeOf(op.mul(x, 2)).toEqualTypeOf<Tensor<readonly [Dim<"n">, Dim<"d">]>>();
    // @ts-expect-error [r] is not a trailing shape of [n, d]
    op.add(x, wr);
    // @ts-expect-error [n, d] + [d, r]
    op.add(x, A);
  });

  it("reductions, transposes, embeddings and norms have typed results", () => {
    expectTypeOf(op.sum(x)).toEqualTypeOf<Tensor<[]>>();
    expectTypeOf(op.sum(x, -1)).toEqualTypeOf<Tensor<readonly [Dim<"n">]>>();
    expectTypeOf(op.mT(x)).toEqualTypeOf<Tensor<readonly [Dim<"d">, Dim<"n">]>>();
    expectTypeOf(op.transpose(xb, [0, 2, 1])).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"d">, Dim<"t">]>>();
    expectTypeOf(op.gather(table, ids)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"t">, Dim<"d">]>>();
    expectTypeOf(op.rmsnorm(xb, w)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"t">, Dim<"d">]>>();
    // @ts-expect-error a norm weight over r does not fit an axis d
    op.rmsnorm(xb, wr);
    expectTypeOf(op.reshape(x, [dim("m", 4)] as const)).toEqualTypeOf<Tensor<readonly [Dim<"m">]>>();
  });
});
