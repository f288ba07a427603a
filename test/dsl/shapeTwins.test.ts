import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { anon, dim, type Dim, type Shape } from "../../ir/dim.ts";
import { spec, type TensorSpec, type TensorsOf } from "../../dsl/spec.ts";
import { trace } from "../../dsl/traceFunction.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";

/**
 * The shape types and their run-time twin (abstract evaluation at trace time) agree: each case below is
 * written once, its expected dim names are checked against the static type by the compiler (`Names<S>`)
 * and against the traced shape by the test; each mismatch is a compile error (`@ts-expect-error`) and a
 * ShapeError at trace time.
 */

/** The dim names a shape type promises, as a tuple of string literals. */
type Names<S extends Shape> = { readonly [K in keyof S]: S[K] extends Dim<infer N> ? N : never };

/** `names` type-checks only if it is what x's static type says; the test then holds the traced dims to it. */
const named = <S extends Shape>(x: Tensor<S>, names: Names<S>) => ({ got: x.dims.map((d) => d.name), names });

/** Traces f on specs; what it returned, or the error tag and message. */
function traced<const A extends readonly TensorSpec[], R>(f: (...xs: TensorsOf<A>) => R, args: A) {
  let out: R | undefined;
  const t = trace((...xs: TensorsOf<A>) => {
    out = f(...xs);
    return [];
  }, args);
  return E.isLeft(t) ? { error: `${t.left.tag}: ${t.left.message}` } : { out: out! };
}
function agrees<const A extends readonly TensorSpec[]>(
  f: (...xs: TensorsOf<A>) => { got: string[]; names: readonly string[] },
  args: A,
) {
  const r = traced(f, args);
  if ("error" in r) throw new Error(r.error);
  expect(r.out.got).toEqual(r.out.names);
}
function rejects<const A extends readonly TensorSpec[]>(f: (...xs: TensorsOf<A>) => unknown, args: A, msg: string) {
  const r = traced(f, args);
  expect("error" in r ? r.error : "accepted").toContain(msg);
}

const [b, t, n, d, o, r, s] = [
  dim("b", 2),
  dim("t", 3),
  dim("n", 3),
  dim("d", 4),
  dim("o", 5),
  dim("r", 2),
  dim("s", 6),
];

/** A low-rank layer with a bias, generic over the leading dims. */
const layer = <B extends Shape, N extends Dim, I extends Dim, O extends Dim>(
  x: Tensor<readonly [...B, N, I]>,
  a: Tensor<readonly [I, Dim<"r">]>,
  w: Tensor<readonly [Dim<"r">, O]>,
  bias: Tensor<readonly [O]>,
): Tensor<readonly [...B, N, O]> => op.add(op.matmul(op.silu(op.matmul(x, a)), w), bias);

describe("shape types agree with abstract evaluation", () => {
  it("broadcasting: trailing shapes on either side, anonymous size-1 axes, scalars", () => {
    agrees((bias, y) => named(op.add(bias, y), ["n", "o"]), [spec([o]), spec([n, o])]);
    agrees((y, bias) => named(op.sub(y, bias), ["n", "o"]), [spec([n, o]), spec([o])]);
    agrees((col, y) => named(op.mul(col, y), ["b", "n", "o"]), [spec([n, anon(1)]), spec([b, n, o])]);
    agrees((y, one) => named(op.div(y, one), ["n", "o"]), [spec([n, o]), spec([anon(1)])]);
    agrees((y) => named(op.maximum(y, op.sum(y)), ["n", "o"]), [spec([n, o])]);
  });

  it("matmul: shared weights over any leading dims, batched operands, x·yᵀ", () => {
    agrees((x, a) => named(op.matmul(x, a), ["n", "r"]), [spec([n, d]), spec([d, r])]);
    agrees((x, a) => named(op.matmul(x, a), ["b", "t", "r"]), [spec([b, t, d]), spec([d, r])]);
    agrees((x, a) => named(op.matmul(x, a), ["b", "n", "t", "r"]), [spec([b, n, t, d]), spec([d, r])]);
    agrees((x, k) => named(op.matmul(x, k), ["b", "t", "s"]), [spec([b, t, d]), spec([b, d, s])]);
    agrees((q, k) => named(op.matmulNT(q, k), ["b", "t", "s"]), [spec([b, t, d]), spec([b, s, d])]);
    agrees((x, a) => named(op.matmul(x, a), ["n", "r"]), [spec([n, anon(4)]), spec([d, r])]);
  });

  it("a layer generic over leading dims, at ranks 2, 3 and 4", () => {
    const ps = [spec([d, r]), spec([r, o]), spec([o])] as const;
    agrees((x, a, w, c) => named(layer(x, a, w, c), ["n", "o"]), [spec([n, d]), ...ps]);
    agrees((x, a, w, c) => named(layer(x, a, w, c), ["b", "t", "o"]), [spec([b, t, d]), ...ps]);
    agrees((x, a, w, c) => named(layer(x, a, w, c), ["b", "n", "t", "o"]), [spec([b, n, t, d]), ...ps]);
  });

  it("norms, flatten2d and its inverse", () => {
    agrees((x, g) => named(op.rmsnorm(x, g), ["b", "t", "d"]), [spec([b, t, d]), spec([d])]);
    agrees((x) => named(op.flatten2d(x), ["_", "d"]), [spec([b, t, d])]);
    agrees(
      (x, a) => named(op.unflatten2d(op.matmul(op.flatten2d(x), a), x), ["b", "t", "r"]),
      [spec([b, t, d]), spec([d, r])],
    );
  });

  it("mismatches are compile errors and trace-time ShapeErrors", () => {
    // @ts-expect-error [r] against the last axis o
    rejects((y, w) => op.add(y, w), [spec([n, o]), spec([r])], "do not broadcast");
    // @ts-expect-error [r] against the last axis o, on the left
    rejects((w, y) => op.add(w, y), [spec([r]), spec([n, o])], "do not broadcast");
    // @ts-expect-error inner dims d and r differ
    rejects((x, w) => op.matmul(x, w), [spec([n, d]), spec([r, o])], "inner dims");
    // @ts-expect-error batch dims b and t differ
    rejects((x, k) => op.matmul(x, k), [spec([b, n, d]), spec([t, d, s])], "batch dims differ");
    // @ts-expect-error a batched right operand needs the same batch on the left
    rejects((x, k) => op.matmul(x, k), [spec([n, d]), spec([b, d, s])], "batch dims differ");
    // @ts-expect-error matmul needs rank >= 2
    rejects((x, a) => op.matmul(x, a), [spec([d]), spec([d, r])], "rank >= 2");
    // @ts-expect-error a norm weight over r on an axis d
    rejects((x, g) => op.rmsnorm(x, g), [spec([b, t, d]), spec([r])], "does not fit");
  });

  it("the types see names, not sizes: an anonymous axis of the wrong size fails at trace time only", () => {
    rejects((y, w) => op.add(y, w), [spec([n, o]), spec([anon(3)])], "do not broadcast");
  });

  it("withRank types a tensor of unknown shape after checking its rank", () => {
    agrees((x: Tensor) => named(op.withRank(x, 2), ["b", "t"]), [spec([b, t], "int32")]);
    rejects((x: Tensor) => op.withRank(x, 2), [spec([b], "int32")], "expected a rank-2 tensor, got [b=2]");
  });
});
