import type { Dim } from "./dim.ts";

/** Element types of tensors: float32 (float64 on the reference backend) and int32. */
export type DType = "float32" | "int32";

/**
 * The closed primitive set, with each primitive's parameters. Every rule table in rankfuse is
 * typed `{ [P in Prim]: Rule<P> }`, so adding a primitive here without its rules does not compile.
 */
export interface PrimParams {
  // elementwise unary
  neg: {};
  exp: {};
  log: {};
  sqrt: {};
  tanh: {};
  sigmoid: {};
  silu: {};
  /** GELU, tanh approximation (as in GPT-2): its derivatives stay closed-form. */
  gelu: {};
  relu: {};
  /** Derivatives of the activations, so backward chains stay elementwise (and fusable). */
  dsilu: {};
  dgelu: {};
  drelu: {};
  // elementwise binary, with numpy broadcasting
  add: {};
  sub: {};
  mul: {};
  div: {};
  maximum: {};
  /** 1 where equal, else 0; no gradient. */
  equal: {};
  // constants
  literal: { readonly value: number; readonly dims: readonly Dim[]; readonly dtype: DType };
  // reductions (axes removed)
  sum: { readonly axes: readonly number[] };
  max: { readonly axes: readonly number[] };
  mean: { readonly axes: readonly number[] };
  /**
   * [...B, M, K] x [...B, K, N], or [...B, M, K] x [K, N] (a shared weight). transA / transB read an
   * operand as its last two axes swapped (stored [..., K, M] / [..., N, K]), so backward products need
   * no transpose kernels on backends whose GEMM takes strided operands.
   */
  matmul: { readonly transA?: boolean; readonly transB?: boolean };
  // movement
  reshape: { readonly dims: readonly Dim[] };
  transpose: { readonly perm: readonly number[] };
  /** numpy broadcasting of the input (aligned right) to `dims`. */
  broadcast: { readonly dims: readonly Dim[] };
  /** rows of a table [V, D] picked by int ids [...S] -> [...S, D] (embeddings). */
  gather: {};
  /** adds rows [...S, D] into a zero table [rows, D] at int ids [...S]; the transpose of gather. */
  scatterAdd: { readonly rows: Dim };
  // normalisation and attention pieces (last axis)
  /** `causal` masks entries above the diagonal of the last two axes (attention). */
  softmax: { readonly causal: boolean };
  logSoftmax: {};
  /** x * rsqrt(mean(x^2, -1) + eps) * w, with w of shape [D]. */
  rmsnorm: { readonly eps: number };
  /** Rotary embedding, half-split (LLaMA) convention, over x [..., T, Dh] at positions 0..T-1. */
  rope: { readonly base: number; readonly inverse: boolean };
  cast: { readonly dtype: DType };
  /** int ids [...S] -> one-hot float [...S, depth]. */
  oneHot: { readonly depth: Dim };
  /** Per-token loss logsumexp(x) - x[target] over logits [..., V] and int targets [...]. */
  crossEntropy: {};
}

/** The name of a primitive. */
export type Prim = keyof PrimParams;

/** The elementwise unary primitives (activations and their derivatives included). */
export const UNARY_PRIMS = [
  "neg",
  "exp",
  "log",
  "sqrt",
  "tanh",
  "sigmoid",
  "silu",
  "gelu",
  "relu",
  "dsilu",
  "dgelu",
  "drelu",
] as const;

/** The elementwise binary primitives, which broadcast with numpy's rules. */
export const BINARY_PRIMS = ["add", "sub", "mul", "div", "maximum", "equal"] as const;

/** Every primitive, in a fixed order (tests iterate over this). */
export const PRIMS = [
  ...UNARY_PRIMS,
  ...BINARY_PRIMS,
  "literal",
  "sum",
  "max",
  "mean",
  "matmul",
  "reshape",
  "transpose",
  "broadcast",
  "gather",
  "scatterAdd",
  "softmax",
  "logSoftmax",
  "rmsnorm",
  "rope",
  "cast",
  "oneHot",
  "crossEntropy",
] as const satisfies readonly Prim[];

type Missing = Exclude<Prim, (typeof PRIMS)[number]>;
// A primitive missing from PRIMS is a compile error here.
const _allListed: Missing extends never ? true : Missing = true;
void _allListed;
