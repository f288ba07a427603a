import * as tf from "@tensorflow/tfjs-core";
import { sizes } from "../../ir/dim.ts";
import type { AbsVal } from "../../ir/graph.ts";
import type { Prim, PrimParams } from "../../ir/prims.ts";
import { GELU_A, GELU_C } from "../../ir/activations.ts";

/**
 * Kernels written with TensorFlow.js ops, shared by the cpu and wasm backends. Two wasm traps shape
 * them (see DESIGN.md): XNNPACK's fast matmul runs only for 2-D products without transpose flags, so
 * batched products are split (on the host) into 2-D ones; and wasm has no UnsortedSegmentSum, so scatterAdd runs on
 * the host (wasm memory is in-process, so this is a copy, not a transfer).
 */
export type TfKernel<P extends Prim> = (
  inputs: readonly tf.Tensor[],
  abs: readonly AbsVal[],
  out: AbsVal,
  params: PrimParams[P],
) => tf.Tensor;

const f32 = (t: tf.Tensor) => (t.dtype === "float32" ? t : tf.cast(t, "float32"));
const unary =
  (f: (x: tf.Tensor) => tf.Tensor): TfKernel<Prim> =>
  ([x]) =>
    f(x!);
const binary =
  (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor): TfKernel<Prim> =>
  ([x, y]) =>
    f(x!, y!);
const shapeOf = (a: AbsVal) => sizes(a.dims);

const sigmoidX = (x: tf.Tensor) => tf.sigmoid(x);
const geluInner = (x: tf.Tensor) => tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), GELU_A)), GELU_C));

/** A 2-D product on XNNPACK's fast path: no transpose flags, no batch. */
export const matmul2d = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D => tf.matMul(a, b);

function matmul(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const xs = x.shape,
    ys = y.shape;
  const M = xs[xs.length - 2]!,
    K = xs[xs.length - 1]!,
    N = ys[ys.length - 1]!;
  const outShape = [...xs.slice(0, -1), N];
  if (ys.length === 2) return tf.reshape(matmul2d(tf.reshape(x, [-1, K]) as tf.Tensor2D, y as tf.Tensor2D), outShape);
  const batch = xs.slice(0, -2).reduce((a, b) => a * b, 1);
  if (batch === 1)
    return tf.reshape(matmul2d(tf.reshape(x, [M, K]) as tf.Tensor2D, tf.reshape(y, [K, N]) as tf.Tensor2D), outShape);
  // tf.unstack/tf.slice copy slowly on wasm (about 3 GFLOP/s overall); splitting on the host is a memcpy
  const xd = x.dataSync() as Float32Array,
    yd = y.dataSync() as Float32Array;
  const out = new Float32Array(batch * M * N);
  for (let i = 0; i < batch; i++) {
    const r = matmul2d(
      tf.tensor2d(xd.subarray(i * M * K, (i + 1) * M * K), [M, K]),
      tf.tensor2d(yd.subarray(i * K * N, (i + 1) * K * N), [K, N]),
    );
    out.set(r.dataSync() as Float32Array, i * M * N);
  }
  return tf.tensor(out, outShape);
}

const ropeTables = new Map<string, [tf.Tensor2D, tf.Tensor2D]>();
/** cos and sin of position * base^(-2i/Dh), [T, Dh/2]; kept across steps (they depend on shape only). */
function ropeTable(T: number, Dh: number, base: number): [tf.Tensor2D, tf.Tensor2D] {
  const key = `${tf.getBackend()}:${T}:${Dh}:${base}`;
  let tab = ropeTables.get(key);
  if (!tab) {
    const half = Dh / 2;
    const c = new Float32Array(T * half),
      s = new Float32Array(T * half);
    for (let t = 0; t < T; t++)
      for (let i = 0; i < half; i++) {
        const th = t * Math.pow(base, (-2 * i) / Dh);
        c[t * half + i] = Math.cos(th);
        s[t * half + i] = Math.sin(th);
      }
    tab = [tf.keep(tf.tensor2d(c, [T, half])), tf.keep(tf.tensor2d(s, [T, half]))];
    ropeTables.set(key, tab);
  }
  return tab;
}

const masks = new Map<string, tf.Tensor2D>();
/** 0 on and below the diagonal, -1e9 above it, [T, S]; kept across steps. */
function causalMask(shape: number[]): tf.Tensor2D {
  const T = shape[shape.length - 2]!,
    S = shape[shape.length - 1]!;
  const key = `${tf.getBackend()}:${T}:${S}`;
  let m = masks.get(key);
  if (!m) {
    const data = new Float32Array(T * S);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < S; j++) data[i * S + j] = -1e9;
    m = tf.keep(tf.tensor2d(data, [T, S]));
    masks.set(key, m);
  }
  return m;
}

const swapLast = (t: tf.Tensor) =>
  tf.transpose(
    t,
    [...t.shape.keys()].map((i, _, a) => (i < a.length - 2 ? i : i === a.length - 2 ? a.length - 1 : a.length - 2)),
  );

export const tfKernels: { readonly [P in Prim]: TfKernel<P> } = {
  neg: unary(tf.neg),
  exp: unary(tf.exp),
  log: unary(tf.log),
  sqrt: unary(tf.sqrt),
  tanh: unary(tf.tanh),
  sigmoid: unary(tf.sigmoid),
  silu: unary((x) => tf.mul(x, sigmoidX(x))),
  gelu: unary((x) => tf.mul(tf.mul(x, 0.5), tf.add(geluInner(x), 1))),
  relu: unary(tf.relu),
  dsilu: unary((x) => {
    const s = sigmoidX(x);
    return tf.mul(s, tf.add(tf.mul(x, tf.sub(1, s)), 1));
  }),
  dgelu: unary((x) => {
    const t = geluInner(x);
    const du = tf.mul(tf.add(tf.mul(tf.square(x), 3 * GELU_A), 1), GELU_C);
    return tf.add(tf.mul(tf.add(t, 1), 0.5), tf.mul(tf.mul(tf.mul(x, 0.5), tf.sub(1, tf.square(t))), du));
  }),
  drelu: unary((x) => tf.step(x, 0)),
  add: binary(tf.add),
  sub: binary(tf.sub),
  mul: binary(tf.mul),
  div: binary(tf.div),
  maximum: binary(tf.maximum),
  equal: binary((x, y) => tf.cast(tf.equal(x, y), "float32")),
  literal: (_, __, out, { value, dtype }) => tf.fill(shapeOf(out), value, dtype),
  sum: ([x], _, __, { axes }) => tf.sum(x!, [...axes]),
  max: ([x], _, __, { axes }) => tf.max(x!, [...axes]),
  mean: ([x], _, __, { axes }) => tf.mean(x!, [...axes]),
  // XNNPACK's fast path takes no transpose flags: transposed operands are transposed explicitly
  matmul: ([x, y], _, __, { transA, transB }) => matmul(transA ? swapLast(x!) : x!, transB ? swapLast(y!) : y!),
  reshape: ([x], _, out) => tf.reshape(x!, shapeOf(out)),
  transpose: ([x], _, __, { perm }) => tf.transpose(x!, [...perm]),
  broadcast: ([x], [a], out) => {
    const shape = shapeOf(out);
    const lifted =
      a!.dims.length < shape.length
        ? tf.reshape(x!, [...Array(shape.length - a!.dims.length).fill(1), ...shapeOf(a!)])
        : x!;
    return tf.broadcastTo(lifted, shape);
  },
  gather: ([table, ids], _, out) => tf.reshape(tf.gather(table!, tf.reshape(ids!, [-1])), shapeOf(out)),
  scatterAdd: ([values, ids], _, out) => {
    const [V, D] = shapeOf(out) as [number, number];
    const v = values!.dataSync(),
      k = ids!.dataSync();
    const res = new Float32Array(V * D);
    for (let i = 0; i < k.length; i++) {
      const row = k[i]! * D;
      for (let j = 0; j < D; j++) res[row + j]! += v[i * D + j]!;
    }
    return tf.tensor2d(res, [V, D]);
  },
  softmax: ([x], [a], _, { causal }) => (causal ? tf.softmax(tf.add(x!, causalMask(shapeOf(a!)))) : tf.softmax(x!)),
  logSoftmax: unary((x) => tf.logSoftmax(x)),
  rmsnorm: ([x, w], _, __, { eps }) => {
    const x_ = x!;
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(x_), -1, true), eps));
    return tf.mul(tf.mul(x_, r), w!);
  },
  rope: ([x], [a], _, { base, inverse }) => {
    const shape = shapeOf(a!);
    const Dh = shape[shape.length - 1]!,
      T = shape[shape.length - 2]!,
      half = Dh / 2;
    const [c, s0] = ropeTable(T, Dh, base);
    const s = inverse ? tf.neg(s0) : s0;
    const [x1, x2] = tf.split(x!, [half, half], -1) as [tf.Tensor, tf.Tensor];
    return tf.concat([tf.sub(tf.mul(x1, c), tf.mul(x2, s)), tf.add(tf.mul(x2, c), tf.mul(x1, s))], -1);
  },
  cast: ([x], _, __, { dtype }) => tf.cast(x!, dtype),
  oneHot: ([ids], _, out, { depth }) => tf.reshape(f32(tf.oneHot(tf.reshape(ids!, [-1]), depth.size)), shapeOf(out)),
  crossEntropy: ([logits, targets], [al], out) => {
    const shape = shapeOf(al!);
    const V = shape[shape.length - 1]!;
    const flat = tf.reshape(logits!, [-1, V]);
    const n = flat.shape[0]!;
    const idx = tf.add(
      tf.mul(tf.range(0, n, 1, "int32"), tf.scalar(V, "int32")),
      tf.cast(tf.reshape(targets!, [-1]), "int32"),
    );
    const picked = tf.gather(tf.reshape(flat, [-1]), idx);
    return tf.reshape(tf.sub(tf.logSumExp(flat, -1), picked), shapeOf(out));
  },
};
