import { sizes } from "../../ir/dim.ts";
import type { AbsVal } from "../../ir/graph.ts";
import type { Prim, PrimParams } from "../../ir/prims.ts";
import * as act from "../../ir/activations.ts";
import { broadcastOffsets, gatherOffsets, rows, stridesOf } from "./strided.ts";

/**
 * Float64 reference kernels: the oracle every other backend is tested against. Written for clarity,
 * not speed. Int tensors are stored as integer-valued float64.
 */
export type RefKernel<P extends Prim> = (
  inputs: readonly Float64Array[],
  abs: readonly AbsVal[],
  out: AbsVal,
  params: PrimParams[P],
) => Float64Array;

const map =
  (f: (x: number) => number): RefKernel<Prim> =>
  ([x]) =>
    x!.map(f);
/** Elementwise binary with numpy broadcasting: each input is read through offsets into the output. */
const zip =
  (f: (a: number, b: number) => number): RefKernel<Prim> =>
  ([x, y], [ax, ay], out) => {
    const outShape = sizes(out.dims);
    const n = outShape.reduce((p, q) => p * q, 1);
    const ox = broadcastOffsets(sizes(ax!.dims), outShape),
      oy = broadcastOffsets(sizes(ay!.dims), outShape);
    const res = new Float64Array(n);
    for (let i = 0; i < n; i++) res[i] = f(x![ox ? ox[i]! : i]!, y![oy ? oy[i]! : i]!);
    return res;
  };

function reduce(
  init: number,
  step: (acc: number, x: number) => number,
  finish?: (acc: number, n: number) => number,
): RefKernel<"sum" | "max" | "mean"> {
  return ([x], [a], out, { axes }) => {
    const shape = sizes(a!.dims);
    const norm = axes.map((ax) => (ax < 0 ? ax + shape.length : ax));
    const outStrides = stridesOf(sizes(out.dims));
    let k = 0;
    const toOut = shape.map((_, i) => (norm.includes(i) ? 0 : outStrides[k++]!));
    const offs = gatherOffsets(shape, toOut);
    const res = new Float64Array(sizes(out.dims).reduce((p, q) => p * q, 1)).fill(init);
    for (let i = 0; i < x!.length; i++) res[offs[i]!] = step(res[offs[i]!]!, x![i]!);
    const n = norm.reduce((p, ax) => p * shape[ax]!, 1);
    return finish ? res.map((v) => finish(v, n)) : res;
  };
}

function lastAxis(f: (row: Float64Array, out: Float64Array) => void): RefKernel<Prim> {
  return ([x], [a]) => {
    const { count, width } = rows(sizes(a!.dims));
    const res = new Float64Array(x!.length);
    for (let r = 0; r < count; r++)
      f(x!.subarray(r * width, (r + 1) * width), res.subarray(r * width, (r + 1) * width));
    return res;
  };
}

const logSumExp = (row: Float64Array): number => {
  const m = row.reduce((p, q) => Math.max(p, q), -Infinity);
  return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
};

/** A row-major buffer of `shape` with its last two axes swapped. */
function swapLast(x: Float64Array, shape: readonly number[]): Float64Array {
  const R = shape[shape.length - 2]!,
    C = shape[shape.length - 1]!;
  const out = new Float64Array(x.length);
  for (let q = 0; q < x.length / (R * C); q++)
    for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) out[q * R * C + j * R + i] = x[q * R * C + i * C + j]!;
  return out;
}

export const referenceKernels: { readonly [P in Prim]: RefKernel<P> } = {
  neg: map((x) => -x),
  exp: map(Math.exp),
  log: map(Math.log),
  sqrt: map(Math.sqrt),
  tanh: map(Math.tanh),
  sigmoid: map(act.sigmoid),
  silu: map(act.silu),
  gelu: map(act.gelu),
  relu: map(act.relu),
  dsilu: map(act.dsilu),
  dgelu: map(act.dgelu),
  drelu: map(act.drelu),
  add: zip((a, b) => a + b),
  sub: zip((a, b) => a - b),
  mul: zip((a, b) => a * b),
  div: zip((a, b) => a / b),
  maximum: zip(Math.max),
  equal: zip((a, b) => (a === b ? 1 : 0)),
  literal: (_, __, out, { value }) => new Float64Array(sizes(out.dims).reduce((p, q) => p * q, 1)).fill(value),
  sum: reduce(0, (acc, v) => acc + v),
  max: reduce(-Infinity, Math.max),
  mean: reduce(
    0,
    (acc, v) => acc + v,
    (acc, n) => acc / n,
  ),
  matmul: ([x0, y0], [ax, ay], _, { transA, transB }) => {
    const a = sizes(ax!.dims),
      b = sizes(ay!.dims);
    const x = transA ? swapLast(x0!, a) : x0,
      y = transB ? swapLast(y0!, b) : y0;
    if (transA) a.splice(a.length - 2, 2, a[a.length - 1]!, a[a.length - 2]!);
    if (transB) b.splice(b.length - 2, 2, b[b.length - 1]!, b[b.length - 2]!);
    const M = a[a.length - 2]!,
      K = a[a.length - 1]!,
      N = b[b.length - 1]!;
    const batch = a.slice(0, -2).reduce((p, q) => p * q, 1);
    const shared = b.length === 2;
    const res = new Float64Array(batch * M * N);
    for (let bi = 0; bi < batch; bi++) {
      const xo = bi * M * K,
        yo = shared ? 0 : bi * K * N,
        ro = bi * M * N;
      for (let i = 0; i < M; i++) {
        for (let k = 0; k < K; k++) {
          const xv = x![xo + i * K + k]!;
          if (xv === 0) continue;
          for (let j = 0; j < N; j++) res[ro + i * N + j]! += xv * y![yo + k * N + j]!;
        }
      }
    }
    return res;
  },
  reshape: ([x]) => x!.slice(),
  transpose: ([x], [a], out, { perm }) => {
    const inStrides = stridesOf(sizes(a!.dims));
    const offs = gatherOffsets(
      sizes(out.dims),
      perm.map((p) => inStrides[p]!),
    );
    return Float64Array.from(offs, (o) => x![o]!);
  },
  broadcast: ([x], [a], out) => {
    const offs = broadcastOffsets(sizes(a!.dims), sizes(out.dims));
    return offs ? Float64Array.from(offs, (o) => x![o]!) : x!.slice();
  },
  gather: ([table, ids], [at]) => {
    const D = at!.dims[1]!.size,
      V = at!.dims[0]!.size;
    const res = new Float64Array(ids!.length * D);
    ids!.forEach((id, i) => {
      if (id < 0 || id >= V) throw new RangeError(`gather: id ${id} outside [0, ${V})`);
      res.set(table!.subarray(id * D, (id + 1) * D), i * D);
    });
    return res;
  },
  scatterAdd: ([values, ids], _, out) => {
    const D = out.dims[1]!.size;
    const res = new Float64Array(out.dims[0]!.size * D);
    ids!.forEach((id, i) => {
      for (let j = 0; j < D; j++) res[id * D + j]! += values![i * D + j]!;
    });
    return res;
  },
  softmax: ([x], [a], out, { causal }) => {
    const shape = sizes(a!.dims);
    const T = shape[shape.length - 2] ?? 1;
    let r = 0;
    return lastAxis((row, o) => {
      const i = r++ % T;
      const live = causal ? row.subarray(0, i + 1) : row;
      const lse = logSumExp(live);
      row.forEach((v, j) => (o[j] = causal && j > i ? 0 : Math.exp(v - lse)));
    })([x!], [a!], out, {});
  },
  logSoftmax: lastAxis((row, out) => {
    const lse = logSumExp(row);
    row.forEach((v, i) => (out[i] = v - lse));
  }),
  rmsnorm: ([x, w], [a], _, { eps }) => {
    const { count, width } = rows(sizes(a!.dims));
    const res = new Float64Array(x!.length);
    for (let r = 0; r < count; r++) {
      let ss = 0;
      for (let j = 0; j < width; j++) ss += x![r * width + j]! ** 2;
      const inv = 1 / Math.sqrt(ss / width + eps);
      for (let j = 0; j < width; j++) res[r * width + j] = x![r * width + j]! * inv * w![j]!;
    }
    return res;
  },
  rope: ([x], [a], _, { base, inverse }) => {
    const shape = sizes(a!.dims);
    const Dh = shape[shape.length - 1]!,
      T = shape[shape.length - 2]!,
      half = Dh / 2;
    const res = new Float64Array(x!.length);
    for (let r = 0; r < x!.length / Dh; r++) {
      const t = r % T,
        o = r * Dh;
      for (let i = 0; i < half; i++) {
        const theta = t * Math.pow(base, (-2 * i) / Dh);
        const c = Math.cos(theta),
          s = inverse ? -Math.sin(theta) : Math.sin(theta);
        const x1 = x![o + i]!,
          x2 = x![o + i + half]!;
        res[o + i] = x1 * c - x2 * s;
        res[o + i + half] = x2 * c + x1 * s;
      }
    }
    return res;
  },
  cast: ([x], _, out) => (out.dtype === "int32" ? x!.map(Math.trunc) : x!.slice()),
  oneHot: ([ids], _, out, { depth }) => {
    const res = new Float64Array(sizes(out.dims).reduce((p, q) => p * q, 1));
    ids!.forEach((id, i) => {
      if (id >= 0 && id < depth.size) res[i * depth.size + id] = 1;
    });
    return res;
  },
  crossEntropy: ([logits, targets], [al]) => {
    const { count, width } = rows(sizes(al!.dims));
    const res = new Float64Array(count);
    for (let r = 0; r < count; r++) {
      const row = logits!.subarray(r * width, (r + 1) * width);
      const t = targets![r]!;
      if (t < 0 || t >= width) throw new RangeError(`crossEntropy: target ${t} outside [0, ${width})`);
      res[r] = logSumExp(row) - row[t]!;
    }
    return res;
  },
};
