import { sizes } from "../../dsl/dim.ts";
import type { AbsVal } from "../../dsl/graph.ts";
import type { Prim, PrimParams } from "../../dsl/prims.ts";
import { stridesOf } from "../reference/strided.ts";
import { BinaryOp as BINARY, ReduceOp as REDUCE, UnaryOp as UNARY, type NativeAddon } from "./build.ts";

/** A buffer of the native backend: a plain typed array on the JS heap, read and written by the addon in place. */
export type NBuf = Float32Array | Int32Array;

export type NativeKernel<P extends Prim> = (addon: NativeAddon, inputs: readonly NBuf[], abs: readonly AbsVal[], out: AbsVal, params: PrimParams[P]) => NBuf;


const shapeOf = (a: AbsVal) => sizes(a.dims);
const count = (a: AbsVal) => shapeOf(a).reduce((p, q) => p * q, 1);
const f32 = (a: AbsVal) => new Float32Array(count(a));
const i32 = (x: readonly number[]) => Int32Array.from(x);

/** Strides that read an input of `inShape` broadcast to `outShape` (0 along broadcast axes). */
function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const s = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return Int32Array.from(outShape, (_, i) => (i < off || inShape[i - off] === 1 ? 0 : s[i - off]!));
}

const unary = (op: keyof typeof UNARY): NativeKernel<Prim> => (addon, [x], _, out) => {
  if (x instanceof Int32Array) return x.map((v) => -v); // only neg accepts ints
  const o = f32(out);
  addon.unary(UNARY[op], x!, o);
  return o;
};

const binary = (op: keyof typeof BINARY): NativeKernel<Prim> => (addon, [x, y], [ax, ay], out) => {
  const shape = shapeOf(out);
  if (x instanceof Int32Array || y instanceof Int32Array) return intBinary(op, x!, y!, shapeOf(ax!), shapeOf(ay!), shape);
  const o = f32(out);
  addon.binary(BINARY[op], x!, y!, o, i32(shape), broadcastStrides(shapeOf(ax!), shape), broadcastStrides(shapeOf(ay!), shape));
  return o;
};

/** Integer arithmetic is rare (ids); done in JavaScript. */
function intBinary(op: keyof typeof BINARY, x: NBuf, y: NBuf, xs: number[], ys: number[], shape: number[]): NBuf {
  const f = { add: (a: number, b: number) => a + b, sub: (a: number, b: number) => a - b, mul: Math.imul, div: (a: number, b: number) => Math.trunc(a / b), maximum: Math.max, equal: (a: number, b: number) => (a === b ? 1 : 0) }[op];
  const n = shape.reduce((p, q) => p * q, 1);
  const sx = broadcastStrides(xs, shape), sy = broadcastStrides(ys, shape), st = stridesOf(shape);
  const res = op === "equal" ? new Float32Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let ox = 0, oy = 0;
    for (let a = 0; a < shape.length; a++) {
      const k = Math.floor(i / st[a]!) % shape[a]!;
      ox += k * sx[a]!;
      oy += k * sy[a]!;
    }
    res[i] = f(x[ox]!, y[oy]!);
  }
  return res;
}

const reduce = (op: keyof typeof REDUCE): NativeKernel<"sum" | "max" | "mean"> => (addon, [x], [a], out, { axes }) => {
  const shape = shapeOf(a!);
  const norm = axes.map((ax) => (ax < 0 ? ax + shape.length : ax));
  const o = f32(out);
  addon.reduce(REDUCE[op], x as Float32Array, o, i32(shape), Int32Array.from(shape, (_, i) => (norm.includes(i) ? 1 : 0)));
  return o;
};

const lastAxis = (a: AbsVal) => {
  const s = shapeOf(a);
  const width = s[s.length - 1] ?? 1;
  return { rows: s.reduce((p, q) => p * q, 1) / Math.max(width, 1), width, s };
};

export const nativeKernels: { readonly [P in Prim]: NativeKernel<P> } = {
  neg: unary("neg"), exp: unary("exp"), log: unary("log"), sqrt: unary("sqrt"), tanh: unary("tanh"), sigmoid: unary("sigmoid"),
  silu: unary("silu"), gelu: unary("gelu"), relu: unary("relu"), dsilu: unary("dsilu"), dgelu: unary("dgelu"), drelu: unary("drelu"),
  add: binary("add"), sub: binary("sub"), mul: binary("mul"), div: binary("div"), maximum: binary("maximum"), equal: binary("equal"),
  literal: (_, __, ___, out, { value, dtype }) => (dtype === "int32" ? new Int32Array(count(out)).fill(value) : f32(out).fill(value)),
  sum: reduce("sum"), max: reduce("max"), mean: reduce("mean"),
  matmul: (addon, [x, y], [ax, ay], out) => {
    const a = shapeOf(ax!), b = shapeOf(ay!);
    const M = a[a.length - 2]!, K = a[a.length - 1]!, N = b[b.length - 1]!;
    const batch = a.slice(0, -2).reduce((p, q) => p * q, 1);
    const o = f32(out);
    const shared = b.length === 2;
    // a shared weight with a batched input is one tall product
    if (shared) addon.matmul(x as Float32Array, y as Float32Array, o, 1, batch * M, K, N, true);
    else addon.matmul(x as Float32Array, y as Float32Array, o, batch, M, K, N, false);
    return o;
  },
  reshape: (_, [x]) => x!.slice(),
  transpose: (addon, [x], [a], out, { perm }) => {
    const o = x instanceof Int32Array ? new Int32Array(count(out)) : f32(out);
    addon.transpose(x!, o, i32(shapeOf(a!)), i32(perm));
    return o;
  },
  broadcast: (addon, [x], [a], out) => {
    const shape = shapeOf(out);
    const o = x instanceof Int32Array ? new Int32Array(count(out)) : f32(out);
    addon.broadcastTo(x!, o, i32(shape), broadcastStrides(shapeOf(a!), shape));
    return o;
  },
  gather: (addon, [table, ids], [at], out) => {
    const o = f32(out);
    addon.gather(table as Float32Array, ids as Int32Array, o, at!.dims[0]!.size, at!.dims[1]!.size);
    return o;
  },
  scatterAdd: (addon, [values, ids], _, out) => {
    const o = f32(out);
    addon.scatterAdd(values as Float32Array, ids as Int32Array, o, out.dims[0]!.size, out.dims[1]!.size);
    return o;
  },
  softmax: (addon, [x], [a], out, { causal }) => {
    const { rows, width, s } = lastAxis(a!);
    const o = f32(out);
    addon.softmax(x as Float32Array, o, rows, width, causal ? (s[s.length - 2] ?? 1) : 0);
    return o;
  },
  logSoftmax: (addon, [x], [a], out) => {
    const { rows, width } = lastAxis(a!);
    const o = f32(out);
    addon.logSoftmax(x as Float32Array, o, rows, width);
    return o;
  },
  rmsnorm: (addon, [x, w], [a], out, { eps }) => {
    const { rows, width } = lastAxis(a!);
    const o = f32(out);
    addon.rmsnorm(x as Float32Array, w as Float32Array, o, rows, width, eps);
    return o;
  },
  rope: (addon, [x], [a], out, { base, inverse }) => {
    const { rows, width, s } = lastAxis(a!);
    const o = f32(out);
    addon.rope(x as Float32Array, o, rows, s[s.length - 2]!, width, base, inverse);
    return o;
  },
  cast: (_, [x], __, out) => (out.dtype === "int32" ? Int32Array.from(x!, Math.trunc) : Float32Array.from(x!)),
  oneHot: (addon, [ids], _, out, { depth }) => {
    const o = f32(out);
    addon.oneHot(ids as Int32Array, o, depth.size);
    return o;
  },
  crossEntropy: (addon, [logits, targets], [al], out) => {
    const { rows, width } = lastAxis(al!);
    const o = f32(out);
    addon.crossEntropy(logits as Float32Array, targets as Int32Array, o, rows, width);
    return o;
  },
};
