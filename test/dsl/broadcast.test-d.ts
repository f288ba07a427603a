import { describe, expectTypeOf, it } from "vitest";
import type { Dim, Shape } from "../../ir/dim.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { BroadcastCheck, BroadcastShape, ShapeError } from "../../ir/shapeTypes.ts";

/** Elementwise ops broadcast as the run time does (numpy, aligned right); a real mismatch is a ShapeError. */
declare const bias: Tensor<readonly [Dim<"o">]>;
declare const y: Tensor<readonly [Dim<"n">, Dim<"o">]>;
declare const yb: Tensor<readonly [Dim<"b">, Dim<"n">, Dim<"o">]>;
declare const col: Tensor<readonly [Dim<"n">, Dim<"_">]>;
declare const one: Tensor<readonly [Dim<"_">]>;
declare const wr: Tensor<readonly [Dim<"r">]>;
declare const untyped: Tensor;
type NO = readonly [Dim<"n">, Dim<"o">];

describe("broadcasting types", () => {
  it("a trailing shape broadcasts on either side", () => {
    expectTypeOf(op.add(bias, y)).toEqualTypeOf<Tensor<NO>>();
    expectTypeOf(op.add(y, bias)).toEqualTypeOf<Tensor<NO>>();
    expectTypeOf(op.sub(bias, yb)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"n">, Dim<"o">]>>();
    expectTypeOf(op.mul(y, yb)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"n">, Dim<"o">]>>();
  });

  it("anonymous axes (size 1, or computed) stretch to the named ones", () => {
    expectTypeOf(op.div(col, y)).toEqualTypeOf<Tensor<NO>>();
    expectTypeOf(op.add(col, yb)).toEqualTypeOf<Tensor<readonly [Dim<"b">, Dim<"n">, Dim<"o">]>>();
    expectTypeOf(op.mul(y, one)).toEqualTypeOf<Tensor<NO>>();
  });

  it("scalars: numbers and rank-0 tensors", () => {
    expectTypeOf(op.add(y, 1)).toEqualTypeOf<Tensor<NO>>();
    expectTypeOf(op.mul(y, op.sum(y))).toEqualTypeOf<Tensor<NO>>();
    expectTypeOf(op.rsub(1, y)).toEqualTypeOf<Tensor<NO>>();
  });

  it("a tensor the types do not know makes the result unknown too (checked at trace time)", () => {
    expectTypeOf(op.add(untyped, y)).toEqualTypeOf<Tensor<Shape>>();
    expectTypeOf(op.add(y, untyped)).toEqualTypeOf<Tensor<Shape>>();
  });

  it("disagreeing dims do not compile, and the error says which shapes", () => {
    // @ts-expect-error [r] against the last axis o
    op.add(y, wr);
    // @ts-expect-error [r] against the last axis o, on the left
    op.add(wr, y);
    // @ts-expect-error [n, o] against [b, n, o] shifted: o vs n
    op.mul(op.mT(y), yb);
    expectTypeOf<BroadcastShape<NO, readonly [Dim<"r">]>>().toEqualTypeOf<never>();
    expectTypeOf<BroadcastCheck<NO, readonly [Dim<"r">]>>().toEqualTypeOf<
      ShapeError<"Shapes [n, o] and [r] do not broadcast">
    >();
    expectTypeOf<BroadcastCheck<readonly [Dim<"o">], NO>>().toEqualTypeOf<unknown>();
  });
});
