import { anon, type Dim } from "../../ir/dim.ts";
import type { Prim, PrimParams } from "../../ir/prims.ts";
import type { Tensor } from "../trace.ts";
import * as op from "../ops.ts";
import { GELU_A, GELU_C } from "../../ir/activations.ts";

/**
 * Reverse-mode rules, one per primitive, written with the DSL's own ops: the backward pass is an
 * ordinary graph (so it can be fused, planned and differentiated again). A rule returns one
 * cotangent per input, or null where the input gets none (int inputs, zero derivatives).
 */
export interface VjpCtx<P extends Prim> {
  readonly inputs: readonly Tensor[];
  readonly out: Tensor;
  readonly params: PrimParams[P];
  readonly g: Tensor;
}
export type VjpRule<P extends Prim> = (ctx: VjpCtx<P>) => readonly (Tensor | null)[];

const unit =
  (f: (x: Tensor, out: Tensor) => Tensor): VjpRule<Prim> =>
  ({ inputs: [x], out, g }) => [op.mul(g, f(x!, out))];

/** Sums a cotangent of shape `to` down to the shape `from` that was broadcast to it. */
export function unbroadcast(g: Tensor, from: readonly Dim[]): Tensor {
  if (g.rank === from.length && g.dims.every((d, i) => d.size === from[i]!.size)) return g;
  const off = g.rank - from.length;
  const axes = g.dims.map((_, i) => i).filter((i) => i < off || (from[i - off]!.size === 1 && g.dims[i]!.size !== 1));
  const summed = axes.length ? op.sum(g, axes) : g;
  return op.reshape(summed, from);
}

/** Puts back reduced axes as size 1, ready for a broadcasting binary op. */
function keepAxes(g: Tensor, axes: readonly number[], dims: readonly Dim[]): Tensor {
  const norm = axes.map((a) => (a < 0 ? a + dims.length : a));
  return op.reshape(
    g,
    dims.map((d, i) => (norm.includes(i) ? anon(1) : d)),
  );
}
/** Puts back reduced axes and broadcasts to `dims` (a cotangent must have its input's full shape). */
const expandAxes = (g: Tensor, axes: readonly number[], dims: readonly Dim[]): Tensor =>
  op.broadcastTo(keepAxes(g, axes, dims), dims);
const keepLast = (g: Tensor, dims: readonly Dim[]): Tensor => keepAxes(g, [dims.length - 1], dims);
const count = (dims: readonly Dim[], axes: readonly number[]) =>
  axes.reduce((n, a) => n * dims[a < 0 ? a + dims.length : a]!.size, 1);

export const vjpRules: { readonly [P in Prim]: VjpRule<P> } = {
  neg: ({ g }) => [op.neg(g)],
  exp: unit((_, y) => y),
  log: ({ inputs: [x], g }) => [op.div(g, x!)],
  sqrt: ({ out, g }) => [op.div(g, op.mul(out, 2))],
  tanh: unit((_, y) => op.rsub(1, op.square(y))),
  sigmoid: unit((_, y) => op.mul(y, op.rsub(1, y))),
  silu: unit((x) => op.dsilu(x)),
  gelu: unit((x) => op.dgelu(x)),
  relu: unit((x) => op.drelu(x)),
  // silu''(x) = s(1-s)(2 + x(1-2s)), s = sigmoid(x)
  dsilu: unit((x) => {
    const s = op.sigmoid(x);
    return op.mul(op.mul(s, op.rsub(1, s)), op.add(op.mul(x, op.rsub(1, op.mul(s, 2))), 2));
  }),
  // gelu''(x) = (1-t^2)(u' - x t u'^2 + x u''/2), t = tanh(u), u = c(x + a x^3)
  dgelu: unit((x) => {
    const x2 = op.square(x);
    const t = op.tanh(op.mul(op.add(x, op.mul(op.mul(x2, x), GELU_A)), GELU_C));
    const du = op.mul(op.add(op.mul(x2, 3 * GELU_A), 1), GELU_C);
    const inner = op.add(op.sub(du, op.mul(op.mul(x, t), op.square(du))), op.mul(x2, 3 * GELU_A * GELU_C));
    return op.mul(op.rsub(1, op.square(t)), inner);
  }),
  drelu: () => [null],
  // binary ops broadcast, so each cotangent is summed back to its input's shape
  add: ({ inputs: [x, y], g }) => [unbroadcast(g, x!.dims), unbroadcast(g, y!.dims)],
  sub: ({ inputs: [x, y], g }) => [unbroadcast(g, x!.dims), unbroadcast(op.neg(g), y!.dims)],
  mul: ({ inputs: [x, y], g }) => [unbroadcast(op.mul(g, y!), x!.dims), unbroadcast(op.mul(g, x!), y!.dims)],
  div: ({ inputs: [x, y], out, g }) => {
    const gx = op.div(g, y!);
    return [unbroadcast(gx, x!.dims), unbroadcast(op.neg(op.mul(gx, out)), y!.dims)];
  },
  maximum: ({ inputs: [x, y], out, g }) => {
    const fromX = op.equal(out, x!);
    return [unbroadcast(op.mul(g, fromX), x!.dims), unbroadcast(op.mul(g, op.rsub(1, fromX)), y!.dims)];
  },
  equal: () => [null, null],
  literal: () => [],
  sum: ({ inputs: [x], params: { axes }, g }) => [expandAxes(g, axes, x!.dims)],
  mean: ({ inputs: [x], params: { axes }, g }) => [op.div(expandAxes(g, axes, x!.dims), count(x!.dims, axes))],
  max: ({ inputs: [x], params: { axes }, out, g }) => {
    const mask = op.equal(x!, keepAxes(out, axes, x!.dims));
    const ties = keepAxes(op.sum(mask, axes), axes, x!.dims);
    return [op.mul(keepAxes(g, axes, x!.dims), op.div(mask, ties))];
  },
  // C = op(A)·op(B), op = transpose where flagged; every product is itself a flagged matmul
  matmul: ({ inputs: [x, y], params: { transA = false, transB = false }, g }) => {
    const mm = op.matmulT;
    if (y!.rank === 2 && x!.rank > 2) {
      // a shared weight: dW sums over every leading axis of x
      const [x2, g2] = [op.flatten2d(x!), op.flatten2d(g)];
      return [mm(g, y!, false, !transB), transB ? mm(g2, x2, true, false) : mm(x2, g2, true, false)];
    }
    if (!transA && !transB) return [mm(g, y!, false, true), mm(x!, g, true, false)];
    if (!transA && transB) return [mm(g, y!, false, false), mm(g, x!, true, false)];
    if (transA && !transB) return [mm(y!, g, false, true), mm(x!, g, false, false)];
    return [mm(y!, g, true, true), mm(g, x!, true, true)];
  },
  reshape: ({ inputs: [x], g }) => [op.reshape(g, x!.dims)],
  transpose: ({ params: { perm }, g }) => {
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [op.transpose(g, inv)];
  },
  broadcast: ({ inputs: [x], g }) => [unbroadcast(g, x!.dims)],
  gather: ({ inputs: [table, ids], g }) => [op.scatterAdd(g as never, ids!, table!.dims[0]!), null],
  scatterAdd: ({ inputs: [, ids], g }) => [op.gather(g as never, ids!), null],
  // causal: masked entries have y = 0, so they get no gradient
  softmax: ({ out, g }) => [op.mul(out, op.sub(g, op.sumKeepLast(op.mul(g, out))))],
  logSoftmax: ({ out, g }) => [op.sub(g, op.mul(op.exp(out), op.sumKeepLast(g)))],
  rmsnorm: ({ inputs: [x, w], params: { eps }, g }) => {
    const last = x!.rank - 1;
    const r = op.rdiv(1, op.sqrt(op.add(keepLast(op.mean(op.square(x!), -1), x!.dims), eps)));
    const xhat = op.mul(x!, r);
    const gw = op.mul(g, w!);
    const dx = op.mul(r, op.sub(gw, op.mul(xhat, keepLast(op.mean(op.mul(gw, xhat), -1), x!.dims))));
    const dw = op.sum(op.mul(g, xhat), [...Array(last).keys()]);
    return [dx, dw];
  },
  rope: ({ params: { base, inverse }, g }) => [op.rope(g, base, !inverse)],
  cast: ({ inputs: [x], g }) => [x!.dtype === "float32" ? op.cast(g, "float32") : null],
  oneHot: () => [null],
  crossEntropy: ({ inputs: [logits, targets], g }) => {
    const probs = op.softmax(logits!);
    const hot: Tensor = op.oneHot(targets!, logits!.dims[logits!.rank - 1]!);
    return [op.mul(op.sub(probs, hot as Tensor), keepLast(g, logits!.dims)), null];
  },
};
