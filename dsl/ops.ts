import { anon, dim, numel, type Dim, type Shape } from "../ir/dim.ts";
export { broadcastDims } from "../ir/dim.ts";
import type { DType } from "../ir/prims.ts";
import { bind, Tensor } from "./trace.ts";
import type { DropLast, Last, MatmulCheck, MatmulShape, Permute, Suffixes, SwapLast } from "../ir/shapeTypes.ts";

/**
 * The user-facing ops. Each appends one primitive (or a few) to the current trace; shapes are checked
 * twice: by the types here and by the shape rules at trace time.
 */
type T<S extends Shape> = Tensor<S>;
const as = <S extends Shape>(t: Tensor): Tensor<S> => t as Tensor<S>;

// ---- elementwise unary
/** -x, elementwise. */
export const neg = <S extends Shape>(x: T<S>): T<S> => as(bind("neg", [x], {}));
/** eˣ, elementwise. */
export const exp = <S extends Shape>(x: T<S>): T<S> => as(bind("exp", [x], {}));
/** Natural logarithm, elementwise. */
export const log = <S extends Shape>(x: T<S>): T<S> => as(bind("log", [x], {}));
/** Square root, elementwise. */
export const sqrt = <S extends Shape>(x: T<S>): T<S> => as(bind("sqrt", [x], {}));
/** Hyperbolic tangent, elementwise. */
export const tanh = <S extends Shape>(x: T<S>): T<S> => as(bind("tanh", [x], {}));
/** 1 / (1 + e⁻ˣ), elementwise. */
export const sigmoid = <S extends Shape>(x: T<S>): T<S> => as(bind("sigmoid", [x], {}));
/** SiLU (swish): x·sigmoid(x), elementwise. */
export const silu = <S extends Shape>(x: T<S>): T<S> => as(bind("silu", [x], {}));
/** GELU, tanh approximation (as GPT-2), elementwise. */
export const gelu = <S extends Shape>(x: T<S>): T<S> => as(bind("gelu", [x], {}));
/** max(x, 0), elementwise. */
export const relu = <S extends Shape>(x: T<S>): T<S> => as(bind("relu", [x], {}));
/** The derivative of silu, elementwise (backward rules use it; so may users). */
export const dsilu = <S extends Shape>(x: T<S>): T<S> => as(bind("dsilu", [x], {}));
/** The derivative of gelu, elementwise. */
export const dgelu = <S extends Shape>(x: T<S>): T<S> => as(bind("dgelu", [x], {}));
/** The derivative of relu (1 where x > 0, else 0), elementwise. */
export const drelu = <S extends Shape>(x: T<S>): T<S> => as(bind("drelu", [x], {}));

// ---- constants
/** A constant tensor of `dims` filled with `value`. */
export const full = <S extends Shape>(dims: S, value: number, dtype: DType = "float32"): T<S> =>
  as(bind("literal", [], { value, dims, dtype }));
/** Zeros of x's shape and dtype. */
export const zerosLike = <S extends Shape>(x: T<S>): T<S> => full(x.dims, 0, x.dtype);
/** Ones of x's shape and dtype. */
export const onesLike = <S extends Shape>(x: T<S>): T<S> => full(x.dims, 1, x.dtype);

// ---- elementwise binary with numpy broadcasting (the smaller operand may be a trailing shape or a number)
/** The second operand of a binary op: a tensor of a trailing part of the shape (broadcast), or a number. */
export type Operand<S extends Shape> = T<Suffixes<S>> | number;

/** Numbers become scalar literals; the binary primitives broadcast (numpy rules) themselves. */
function operands(x: Tensor | number, y: Tensor | number): [Tensor, Tensor] {
  if (typeof x === "number" && typeof y === "number")
    throw new TypeError("binary op: at least one operand must be a tensor");
  const tx = typeof x === "number" ? full([], x, (y as Tensor).dtype) : x;
  const ty = typeof y === "number" ? full([], y, tx.dtype) : y;
  return [tx, ty];
}

const binop =
  (prim: "add" | "sub" | "mul" | "div" | "maximum" | "equal") =>
  <S extends Shape>(x: T<S>, y: Operand<S>): T<S> =>
    as(bind(prim, operands(x, y), {}));
/** x + y, broadcasting y. */
export const add = binop("add");
/** x - y, broadcasting y. */
export const sub = binop("sub");
/** x · y elementwise, broadcasting y. */
export const mul = binop("mul");
/** x / y, broadcasting y. */
export const div = binop("div");
/** max(x, y) elementwise, broadcasting y. */
export const maximum = binop("maximum");
/** 1 where x == y, else 0 (no gradient), broadcasting y. */
export const equal = binop("equal");
/** Scalar-first forms: `rsub(1, x)` is `1 - x`, `rdiv(1, x)` is `1 / x`. */
export const rsub = <S extends Shape>(a: number, x: T<S>): T<S> => as(bind("sub", operands(a, x), {}));
/** `rdiv(a, x)` is a / x. */
export const rdiv = <S extends Shape>(a: number, x: T<S>): T<S> => as(bind("div", operands(a, x), {}));
/** x², elementwise. */
export const square = <S extends Shape>(x: T<S>): T<S> => mul(x, x as Operand<S>);

// ---- reductions
type Reducer = {
  <S extends Shape>(x: T<S>): T<[]>;
  <S extends Shape>(x: T<S>, axis: -1): T<DropLast<S>>;
  (x: Tensor, axes: number | readonly number[]): Tensor;
};
const reducer = (prim: "sum" | "max" | "mean"): Reducer =>
  ((x: Tensor, axes?: number | readonly number[]) =>
    bind(prim, [x], {
      axes: axes === undefined ? x.dims.map((_, i) => i) : typeof axes === "number" ? [axes] : axes,
    })) as Reducer;
/** Sum over all axes (a scalar), over the last axis (`-1`), or over the given axes. */
export const sum = reducer("sum");
/** Maximum over all axes, the last axis (`-1`), or the given axes. */
export const max = reducer("max");
/** Mean over all axes, the last axis (`-1`), or the given axes. */
export const mean = reducer("mean");

/** Reduce over the last axis and keep it as size 1, ready to broadcast back. */
export const sumKeepLast = <S extends Shape>(x: T<S>): T<S> => keepLast(sum(x, -1), x);
const keepLast = <S extends Shape>(r: Tensor, x: T<S>): T<S> =>
  as(bind("reshape", [r], { dims: [...r.dims, anon(1)] }));

// ---- matmul and movement
/** [..., M, K] · [..., K, N] (or a shared [K, N]); a mismatched inner dim does not compile. */
export const matmul = <X extends Shape, Y extends Shape>(x: T<X>, y: T<Y> & MatmulCheck<X, Y>): T<MatmulShape<X, Y>> =>
  as(bind("matmul", [x, y], {}));
/** x·yᵀ (y stored [..., N, K]): attention scores without a transpose kernel. */
export const matmulNT = (x: Tensor, y: Tensor): Tensor => bind("matmul", [x, y], { transB: true });
/** Matmul with transpose flags, for rules and passes that work on loosely typed tensors. */
export const matmulT = (x: Tensor, y: Tensor, transA: boolean, transB: boolean): Tensor =>
  bind("matmul", [x, y], transA || transB ? { transA, transB } : {});
/** x with new dims of the same element count. */
export const reshape = <S extends Shape>(x: Tensor, dims: S): T<S> => as(bind("reshape", [x], { dims }));
/** x with its axes permuted: output axis k is input axis perm[k]. */
export const transpose = <S extends Shape, const P extends readonly number[]>(x: T<S>, perm: P): T<Permute<S, P>> =>
  as(bind("transpose", [x], { perm }));
/** Swaps the last two axes. */
export const mT = <S extends Shape>(x: T<S>): T<SwapLast<S>> => {
  const n = x.rank;
  return as(bind("transpose", [x], { perm: [...Array(n - 2).keys(), n - 1, n - 2] }));
};
/** x broadcast to `dims` (numpy rules, aligned right). */
export const broadcastTo = <S extends Shape>(x: Tensor, dims: S): T<S> => as(bind("broadcast", [x], { dims }));

// ---- embeddings
/** Rows of table [V, D] at int ids [...S]: [...S, D] (embedding lookup). */
export const gather = <V extends Dim, D extends Dim, S extends Shape>(
  table: T<readonly [V, D]>,
  ids: T<S>,
): T<readonly [...S, D]> => as(bind("gather", [table, ids], {}));
/** Rows [...S, D] added into a zero table [rows, D] at int ids [...S]: gather's transpose. */
export const scatterAdd = <V extends Dim, S extends Shape, D extends Dim>(
  values: T<readonly [...S, D]>,
  ids: T<S>,
  rows: V,
): T<readonly [V, D]> => as(bind("scatterAdd", [values, ids], { rows }));
/** Int ids [...S] as one-hot float rows [...S, depth]. */
export const oneHot = <S extends Shape, V extends Dim>(ids: T<S>, depth: V): T<readonly [...S, V]> =>
  as(bind("oneHot", [ids], { depth }));

// ---- normalisation, attention pieces, losses
/** Softmax over the last axis; `causal` masks entries above the diagonal of the last two axes. */
export const softmax = <S extends Shape>(x: T<S>, causal = false): T<S> => as(bind("softmax", [x], { causal }));
/** Log-softmax over the last axis. */
export const logSoftmax = <S extends Shape>(x: T<S>): T<S> => as(bind("logSoftmax", [x], {}));
/** x / sqrt(mean(x², -1) + eps) · w, with w of the last axis's size. */
export const rmsnorm = <S extends Shape>(x: T<S>, w: T<readonly [Last<S>]>, eps = 1e-6): T<S> =>
  as(bind("rmsnorm", [x, w], { eps }));
/** Rotary position embedding (LLaMA's half-split convention) over x [..., T, Dh]; `inverse` rotates back. */
export const rope = <S extends Shape>(x: T<S>, base = 10000, inverse = false): T<S> =>
  as(bind("rope", [x], { base, inverse }));
/** x converted to `dtype` (float to int truncates toward zero). */
export const cast = <S extends Shape>(x: T<S>, dtype: DType): T<S> => as(bind("cast", [x], { dtype }));
/** Per-position loss logsumexp(logits) − logits[target], over logits [...S, V] and int targets [...S]. */
export const crossEntropy = <S extends Shape, V extends Dim>(logits: T<readonly [...S, V]>, targets: T<S>): T<S> =>
  as(bind("crossEntropy", [logits, targets], {}));

/** Merges all leading axes: [..., D] -> [N, D] (N anonymous). */
export const flatten2d = <S extends Shape>(x: T<S>): T<readonly [Dim<"_">, Last<S>]> =>
  reshape(x, [anon(numel(x.dims.slice(0, -1))), x.dims[x.rank - 1]!] as const) as T<readonly [Dim<"_">, Last<S>]>;

export { dim };
