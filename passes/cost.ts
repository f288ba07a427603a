import { numel } from "../ir/dim.ts";
import { absBytes, isFused, type Eqn, type Node } from "../ir/graph.ts";
import type { Prim } from "../ir/prims.ts";

/**
 * The cost model: FLOPs per equation (a multiply-add counts 2) and bytes moved (inputs read plus the
 * output written, at 4 bytes a value). Benchmarks compare these predictions with measurements.
 */
type FlopRule = (e: Eqn) => number;
const outN = (e: Eqn) => numel(e.out.abs.dims);
const inN = (e: Eqn) => numel(e.inputs[0]!.abs.dims);
const perOut =
  (k: number): FlopRule =>
  (e) =>
    k * outN(e);
const perIn =
  (k: number): FlopRule =>
  (e) =>
    k * inN(e);
const free: FlopRule = () => 0;

export const flopRules: { readonly [P in Prim]: FlopRule } = {
  neg: perOut(1),
  exp: perOut(1),
  log: perOut(1),
  sqrt: perOut(1),
  tanh: perOut(1),
  sigmoid: perOut(4),
  silu: perOut(5),
  gelu: perOut(8),
  relu: perOut(1),
  dsilu: perOut(7),
  dgelu: perOut(12),
  drelu: perOut(1),
  add: perOut(1),
  sub: perOut(1),
  mul: perOut(1),
  div: perOut(1),
  maximum: perOut(1),
  equal: perOut(1),
  literal: free,
  sum: perIn(1),
  max: perIn(1),
  mean: perIn(1),
  matmul: (e) => {
    const x = e.inputs[0]!.abs.dims;
    const p = e.params as { transA?: boolean };
    return 2 * outN(e) * x[x.length - (p.transA ? 2 : 1)]!.size;
  },
  reshape: free,
  transpose: free,
  broadcast: free,
  gather: free,
  scatterAdd: perIn(1),
  softmax: perOut(5),
  logSoftmax: perOut(5),
  rmsnorm: perOut(4),
  rope: perOut(6),
  cast: free,
  oneHot: free,
  crossEntropy: perIn(5),
};

export const eqnFlops = (e: Eqn): number => flopRules[e.prim](e);
export const eqnBytes = (e: Eqn): number => e.inputs.reduce((s, v) => s + absBytes(v.abs), absBytes(e.out.abs));

/**
 * A launch's FLOPs and bytes: a fused node computes its whole body but moves only its own inputs and
 * outputs (the rank-r intermediates stay in cache or workgroup memory: the point of fusing).
 */
export const nodeFlops = (e: Node): number =>
  isFused(e) ? e.body.eqns.reduce((s, b) => s + eqnFlops(b), 0) : eqnFlops(e);
export const nodeBytes = (e: Node): number =>
  isFused(e) ? [...e.inputs, ...e.outs].reduce((s, v) => s + absBytes(v.abs), 0) : eqnBytes(e);
