import fc from "fast-check";
import { anon, dim, type Dim } from "../../ir/dim.ts";
import type { Prim } from "../../ir/prims.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";

/**
 * One generated test case per primitive: input shapes and value domains, and how to apply the
 * primitive. The table is exhaustive over Prim, so a new primitive cannot ship without a case (and
 * with it a gradient check and backend parity).
 */
export interface FloatInput {
  readonly dims: readonly Dim[];
  /** Values drawn uniformly in [lo, hi]; |x| < gap is avoided (kinks of relu and friends). */
  readonly lo?: number;
  readonly hi?: number;
  readonly gap?: number;
}
export interface IntInput {
  readonly dims: readonly Dim[];
  readonly max: number;
}
export interface PrimCase {
  readonly floats: readonly FloatInput[];
  readonly ints?: readonly IntInput[];
  readonly apply: (floats: readonly Tensor[], ints: readonly Tensor[]) => Tensor;
}

const size = fc.integer({ min: 1, max: 4 });
/** 1 to 3 dims named a, b, c with sizes 1..4. */
const shape = (minRank = 1, maxRank = 3) =>
  fc.array(size, { minLength: minRank, maxLength: maxRank }).map((s) => s.map((n, i) => dim("abc"[i]!, n)));

const unaryCase = (f: (x: Tensor) => Tensor, domain: Omit<FloatInput, "dims"> = {}) =>
  shape().map((dims): PrimCase => ({ floats: [{ dims, ...domain }], apply: ([x]) => f(x!) }));
/** Binary cases broadcast sometimes: y is x's shape, a trailing part of it, or it with size-1 axes. */
const binaryCase = (f: (x: Tensor, y: Tensor) => Tensor, domain: Omit<FloatInput, "dims"> = {}) =>
  fc.tuple(shape(), fc.integer({ min: 0, max: 3 }), fc.boolean()).map(([dims, drop, swap]): PrimCase => {
    const other =
      drop === 3 ? dims.map((d, i) => (i % 2 === 0 ? anon(1) : d)) : dims.slice(Math.min(drop, dims.length));
    const [a, b] = swap ? [other, dims] : [dims, other];
    return {
      floats: [
        { dims: a, ...domain },
        { dims: b, ...domain },
      ],
      apply: ([x, y]) => f(x!, y!),
    };
  });
const reduceCase = (f: (x: Tensor, axes: number[]) => Tensor) =>
  shape(1, 3).chain((dims) =>
    fc
      .subarray([...dims.keys()], { minLength: 1 })
      .map((axes): PrimCase => ({ floats: [{ dims }], apply: ([x]) => f(x!, axes) })),
  );

const V = dim("v", 5);

export const primCases: { readonly [P in Prim]: fc.Arbitrary<PrimCase> } = {
  neg: unaryCase(op.neg),
  exp: unaryCase(op.exp),
  log: unaryCase(op.log, { lo: 0.2, hi: 3 }),
  sqrt: unaryCase(op.sqrt, { lo: 0.2, hi: 3 }),
  tanh: unaryCase(op.tanh),
  sigmoid: unaryCase(op.sigmoid),
  silu: unaryCase(op.silu),
  gelu: unaryCase(op.gelu),
  relu: unaryCase(op.relu, { gap: 0.05 }),
  dsilu: unaryCase(op.dsilu),
  dgelu: unaryCase(op.dgelu),
  drelu: unaryCase(op.drelu, { gap: 0.05 }),
  add: binaryCase(op.add),
  sub: binaryCase(op.sub),
  mul: binaryCase(op.mul),
  div: binaryCase(op.div, { lo: 0.3, hi: 2 }),
  maximum: binaryCase(op.maximum),
  // equal has no gradient; compare x with itself (and a shifted copy) so both outcomes occur
  equal: shape().map((dims): PrimCase => ({
    floats: [{ dims }],
    apply: ([x]) => op.add(op.equal(x!, x!), op.equal(x!, op.add(x!, 1))),
  })),
  literal: shape().map((dims): PrimCase => ({ floats: [{ dims }], apply: ([x]) => op.mul(x!, op.full(dims, 1.5)) })),
  sum: reduceCase((x, axes) => op.sum(x, axes)),
  max: reduceCase((x, axes) => op.max(x, axes)),
  mean: reduceCase((x, axes) => op.mean(x, axes)),
  // 2-D, shared weight, batched; each with transposed operands (transA is never used with a shared weight)
  matmul: fc
    .tuple(fc.integer({ min: 0, max: 2 }), size, size, size, size, fc.boolean(), fc.boolean())
    .map(([kind, b, m, k, n, ta0, tb]): PrimCase => {
      const [B, M, K, N] = [dim("b", b), dim("m", m), dim("k", k), dim("n", n)];
      const ta = ta0 && kind !== 1;
      const lhs = [...(kind === 0 ? [] : [B]), ...(ta ? [K, M] : [M, K])];
      const rhs = [...(kind === 2 ? [B] : []), ...(tb ? [N, K] : [K, N])];
      return { floats: [{ dims: lhs }, { dims: rhs }], apply: ([x, y]) => op.matmulT(x!, y!, ta, tb) };
    }),
  reshape: shape(2, 3).map((dims): PrimCase => ({
    floats: [{ dims }],
    apply: ([x]) => op.reshape(x!, [anon(dims[0]!.size), anon(dims.slice(1).reduce((p, d) => p * d.size, 1))]),
  })),
  transpose: shape(2, 3).chain((dims) =>
    fc
      .shuffledSubarray([...dims.keys()], { minLength: dims.length, maxLength: dims.length })
      .map((perm): PrimCase => ({ floats: [{ dims }], apply: ([x]) => op.transpose(x!, perm) })),
  ),
  broadcast: shape(1, 2).chain((dims) =>
    fc.tuple(size, fc.boolean()).map(([extra, squash]): PrimCase => {
      const inDims = squash ? [anon(1), ...dims.slice(1)] : dims;
      return { floats: [{ dims: inDims }], apply: ([x]) => op.broadcastTo(x!, [dim("z", extra), ...dims]) };
    }),
  ),
  gather: shape(1, 2).map((dims): PrimCase => ({
    floats: [{ dims: [V, dim("d", 3)] }],
    ints: [{ dims, max: V.size }],
    apply: ([table], [ids]) => op.gather(table! as never, ids!),
  })),
  scatterAdd: shape(1, 2).map((dims): PrimCase => ({
    floats: [{ dims: [...dims, dim("d", 3)] }],
    ints: [{ dims, max: V.size }],
    apply: ([values], [ids]) => op.scatterAdd(values! as never, ids!, V),
  })),
  softmax: fc
    .tuple(shape(2, 3), fc.boolean())
    .map(([dims, causal]): PrimCase => ({ floats: [{ dims }], apply: ([x]) => op.softmax(x!, causal) })),
  logSoftmax: unaryCase(op.logSoftmax),
  // |x| >= 0.25 keeps mean(x^2) far above eps: with one feature, x/sqrt(x^2+eps) bends too sharply near 0 for central differences
  rmsnorm: shape(1, 3).map((dims): PrimCase => ({
    floats: [{ dims, gap: 0.25 }, { dims: [dims[dims.length - 1]!] }],
    apply: ([x, w]) => op.rmsnorm(x!, w! as never, 1e-5),
  })),
  rope: fc.tuple(size, size, fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([b, t, h, inverse]): PrimCase => ({
    floats: [{ dims: [dim("b", b), dim("t", t), dim("h", 2 * h)] }],
    apply: ([x]) => op.rope(x!, 100, inverse),
  })),
  // float -> int -> float is piecewise constant; float -> float carries the gradient
  cast: shape().map((dims): PrimCase => ({
    floats: [{ dims, lo: 1.1, hi: 1.9 }],
    apply: ([x]) => op.add(op.cast(x!, "float32"), op.cast(op.cast(x!, "int32"), "float32")),
  })),
  oneHot: shape(1, 2).map((dims): PrimCase => ({
    floats: [{ dims: [...dims, V] }],
    ints: [{ dims, max: V.size }],
    apply: ([x], [ids]) => op.mul(x!, op.oneHot(ids!, V) as Tensor),
  })),
  crossEntropy: shape(1, 2).map((dims): PrimCase => ({
    floats: [{ dims: [...dims, V], lo: -3, hi: 3 }],
    ints: [{ dims, max: V.size }],
    apply: ([logits], [targets]) => op.crossEntropy(logits! as never, targets!),
  })),
};
