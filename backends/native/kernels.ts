import { sizes } from "../../ir/dim.ts";
import type { AbsVal } from "../../ir/graph.ts";
import type { Prim, PrimParams } from "../../ir/prims.ts";
import { stridesOf } from "../reference/strided.ts";
import { BinaryOp as BINARY, ReduceOp as REDUCE, UnaryOp as UNARY, type NativeAddon } from "./build.ts";

import type { BufferPool, NBuf } from "./pool.ts";
export type { NBuf };

/** The addon and the buffer pool outputs come from. */
export interface NativeCtx {
  readonly addon: NativeAddon;
  readonly pool: BufferPool;
}
export type NativeKernel<P extends Prim> = (
  ctx: NativeCtx,
  inputs: readonly NBuf[],
  abs: readonly AbsVal[],
  out: AbsVal,
  params: PrimParams[P],
) => NBuf;

const shapeOf = (a: AbsVal) => sizes(a.dims);
const count = (a: AbsVal) => shapeOf(a).reduce((p, q) => p * q, 1);
const f32 = (ctx: NativeCtx, a: AbsVal) => ctx.pool.f32(count(a));
const i32out = (ctx: NativeCtx, a: AbsVal) => ctx.pool.i32(count(a));
const i32 = (x: readonly number[]) => Int32Array.from(x);

/** Strides that read an input of `inShape` broadcast to `outShape` (0 along broadcast axes). */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const s = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return Int32Array.from(outShape, (_, i) => (i < off || inShape[i - off] === 1 ? 0 : s[i - off]!));
}

/**
 * The addon's matmul sizes for op(a)·op(b): batch, M, K, N, and whether b is one matrix shared by
 * every batch index. A shared weight with a batched input is one tall product (transA never comes
 * with a shared weight).
 */
export function matmulSizes(ax: AbsVal, ay: AbsVal, transA: boolean, transB: boolean) {
  const a = shapeOf(ax),
    b = shapeOf(ay);
  const M = a[a.length - (transA ? 1 : 2)]!,
    K = a[a.length - (transA ? 2 : 1)]!,
    N = b[b.length - (transB ? 2 : 1)]!;
  const batch = a.slice(0, -2).reduce((p, q) => p * q, 1);
  return b.length === 2 ? { batch: 1, M: batch * M, K, N, shared: true } : { batch, M, K, N, shared: false };
}

const unary =
  (op: keyof typeof UNARY): NativeKernel<Prim> =>
  (ctx, [x], _, out) => {
    if (x instanceof Int32Array) return copyInto(i32out(ctx, out), x, (v) => -v); // only neg accepts ints
    const o = f32(ctx, out);
    ctx.addon.unary(UNARY[op], x!, o);
    return o;
  };

const binary =
  (op: keyof typeof BINARY): NativeKernel<Prim> =>
  (ctx, [x, y], [ax, ay], out) => {
    const shape = shapeOf(out);
    if (x instanceof Int32Array || y instanceof Int32Array)
      return intBinary(
        op,
        x!,
        y!,
        shapeOf(ax!),
        shapeOf(ay!),
        shape,
        op === "equal" ? f32(ctx, out) : i32out(ctx, out),
      );
    const o = f32(ctx, out);
    ctx.addon.binary(
      BINARY[op],
      x!,
      y!,
      o,
      i32(shape),
      broadcastStrides(shapeOf(ax!), shape),
      broadcastStrides(shapeOf(ay!), shape),
    );
    return o;
  };

/** Integer arithmetic is rare (ids); done in JavaScript. */
function intBinary(
  op: keyof typeof BINARY,
  x: NBuf,
  y: NBuf,
  xs: number[],
  ys: number[],
  shape: number[],
  res: NBuf,
): NBuf {
  const f = {
    add: (a: number, b: number) => a + b,
    sub: (a: number, b: number) => a - b,
    mul: Math.imul,
    div: (a: number, b: number) => Math.trunc(a / b),
    maximum: Math.max,
    equal: (a: number, b: number) => (a === b ? 1 : 0),
  }[op];
  const n = shape.reduce((p, q) => p * q, 1);
  const sx = broadcastStrides(xs, shape),
    sy = broadcastStrides(ys, shape),
    st = stridesOf(shape);
  for (let i = 0; i < n; i++) {
    let ox = 0,
      oy = 0;
    for (let a = 0; a < shape.length; a++) {
      const k = Math.floor(i / st[a]!) % shape[a]!;
      ox += k * sx[a]!;
      oy += k * sy[a]!;
    }
    res[i] = f(x[ox]!, y[oy]!);
  }
  return res;
}

const reduce =
  (op: keyof typeof REDUCE): NativeKernel<"sum" | "max" | "mean"> =>
  (ctx, [x], [a], out, { axes }) => {
    const shape = shapeOf(a!);
    const norm = axes.map((ax) => (ax < 0 ? ax + shape.length : ax));
    const o = f32(ctx, out);
    ctx.addon.reduce(
      REDUCE[op],
      x as Float32Array,
      o,
      i32(shape),
      Int32Array.from(shape, (_, i) => (norm.includes(i) ? 1 : 0)),
    );
    return o;
  };

const lastAxis = (a: AbsVal) => {
  const s = shapeOf(a);
  const width = s[s.length - 1] ?? 1;
  return { rows: s.reduce((p, q) => p * q, 1) / Math.max(width, 1), width, s };
};

export const nativeKernels: { readonly [P in Prim]: NativeKernel<P> } = {
  neg: unary("neg"),
  exp: unary("exp"),
  log: unary("log"),
  sqrt: unary("sqrt"),
  tanh: unary("tanh"),
  sigmoid: unary("sigmoid"),
  silu: unary("silu"),
  gelu: unary("gelu"),
  relu: unary("relu"),
  dsilu: unary("dsilu"),
  dgelu: unary("dgelu"),
  drelu: unary("drelu"),
  add: binary("add"),
  sub: binary("sub"),
  mul: binary("mul"),
  div: binary("div"),
  maximum: binary("maximum"),
  equal: binary("equal"),
  literal: (ctx, __, ___, out, { value, dtype }) =>
    dtype === "int32" ? i32out(ctx, out).fill(value) : f32(ctx, out).fill(value),
  sum: reduce("sum"),
  max: reduce("max"),
  mean: reduce("mean"),
  matmul: (ctx, [x, y], [ax, ay], out, { transA = false, transB = false }) => {
    const o = f32(ctx, out);
    const s = matmulSizes(ax!, ay!, transA, transB);
    ctx.addon.matmul(x as Float32Array, y as Float32Array, o, s.batch, s.M, s.K, s.N, s.shared, transA, transB);
    return o;
  },
  reshape: (ctx, [x]) => ctx.pool.view(x!),
  transpose: (ctx, [x], [a], out, { perm }) => {
    const o = x instanceof Int32Array ? i32out(ctx, out) : f32(ctx, out);
    ctx.addon.transpose(x!, o, i32(shapeOf(a!)), i32(perm));
    return o;
  },
  broadcast: (ctx, [x], [a], out) => {
    const shape = shapeOf(out);
    const o = x instanceof Int32Array ? i32out(ctx, out) : f32(ctx, out);
    ctx.addon.broadcastTo(x!, o, i32(shape), broadcastStrides(shapeOf(a!), shape));
    return o;
  },
  gather: (ctx, [table, ids], [at], out) => {
    const o = f32(ctx, out);
    ctx.addon.gather(table as Float32Array, ids as Int32Array, o, at!.dims[0]!.size, at!.dims[1]!.size);
    return o;
  },
  scatterAdd: (ctx, [values, ids], _, out) => {
    const o = f32(ctx, out).fill(0);
    ctx.addon.scatterAdd(values as Float32Array, ids as Int32Array, o, out.dims[0]!.size, out.dims[1]!.size);
    return o;
  },
  softmax: (ctx, [x], [a], out, { causal }) => {
    const { rows, width, s } = lastAxis(a!);
    const o = f32(ctx, out);
    ctx.addon.softmax(x as Float32Array, o, rows, width, causal ? (s[s.length - 2] ?? 1) : 0);
    return o;
  },
  logSoftmax: (ctx, [x], [a], out) => {
    const { rows, width } = lastAxis(a!);
    const o = f32(ctx, out);
    ctx.addon.logSoftmax(x as Float32Array, o, rows, width);
    return o;
  },
  rmsnorm: (ctx, [x, w], [a], out, { eps }) => {
    const { rows, width } = lastAxis(a!);
    const o = f32(ctx, out);
    ctx.addon.rmsnorm(x as Float32Array, w as Float32Array, o, rows, width, eps);
    return o;
  },
  rope: (ctx, [x], [a], out, { base, inverse }) => {
    const { rows, width, s } = lastAxis(a!);
    const o = f32(ctx, out);
    ctx.addon.rope(x as Float32Array, o, rows, s[s.length - 2]!, width, base, inverse);
    return o;
  },
  cast: (ctx, [x], __, out) =>
    out.dtype === "int32" ? copyInto(i32out(ctx, out), x!, Math.trunc) : copyInto(f32(ctx, out), x!),
  oneHot: (ctx, [ids], _, out, { depth }) => {
    const o = f32(ctx, out);
    ctx.addon.oneHot(ids as Int32Array, o, depth.size);
    return o;
  },
  crossEntropy: (ctx, [logits, targets], [al], out) => {
    const { rows, width } = lastAxis(al!);
    const o = f32(ctx, out);
    ctx.addon.crossEntropy(logits as Float32Array, targets as Int32Array, o, rows, width);
    return o;
  },
};

function copyInto<T extends NBuf>(dst: T, src: NBuf, f?: (v: number) => number): T {
  if (f) for (let i = 0; i < src.length; i++) dst[i] = f(src[i]!);
  else dst.set(src);
  return dst;
}
