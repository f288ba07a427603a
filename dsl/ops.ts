import { anon, dim, numel, showShape, type Dim, type Shape } from "../ir/dim.ts";
export { broadcastDims } from "../ir/dim.ts";
import type { DType } from "../ir/prims.ts";
import { bind, Tensor } from "./trace.ts";
import { RankfuseException, shapeError } from "../ir/errors.ts";
import type {
  BroadcastCheck,
  BroadcastShape,
  DropLast,
  IfUntyped,
  MatmulCheck,
  MatmulShape,
  Permute,
  ShowShape,
  SwapLast,
} from "../ir/shapeTypes.ts";

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
export const full = <const S extends Shape>(dims: S, value: number, dtype: DType = "float32"): T<S> =>
  as(bind("literal", [], { value, dims, dtype }));
/** Zeros of x's shape and dtype. */
export const zerosLike = <S extends Shape>(x: T<S>): T<S> => full(x.dims, 0, x.dtype);
/** Ones of x's shape and dtype. */
export const onesLike = <S extends Shape>(x: T<S>): T<S> => full(x.dims, 1, x.dtype);

// ---- elementwise binary with numpy broadcasting (aligned right; either operand may be a number)
/**
 * A binary elementwise op. Its overloads, tried in order: operands of the same shape (or a scalar, or a
 * number); a vector along x's last axis (a bias, a gain) or a one-element anonymous tensor, which also
 * type-checks in layers generic over leading dims; numpy broadcasting of any two shapes the types know,
 * `add(bias[o], y[n, o])` included, with a `ShapeError` when two dims disagree.
 */
export interface Binary {
  <S extends Shape>(x: T<S>, y: T<S> | T<readonly []> | number): T<S>;
  <L extends Shape, D extends Dim>(
    x: T<readonly [...L, D]>,
    y: T<readonly [D]> | T<readonly [Dim<"_">]>,
  ): T<readonly [...L, D]>;
  <X extends Shape, Y extends Shape>(x: T<X>, y: T<Y> & BroadcastCheck<X, Y>): T<BroadcastShape<X, Y>>;
}

/** Numbers become scalar literals; the binary primitives broadcast (numpy rules) themselves. */
function operands(x: Tensor | number, y: Tensor | number): [Tensor, Tensor] {
  if (typeof x === "number" && typeof y === "number")
    throw new TypeError("binary op: at least one operand must be a tensor");
  const tx = typeof x === "number" ? full([], x, (y as Tensor).dtype) : x;
  const ty = typeof y === "number" ? full([], y, tx.dtype) : y;
  return [tx, ty];
}

const binop = (prim: "add" | "sub" | "mul" | "div" | "maximum" | "equal"): Binary =>
  ((x: Tensor, y: Tensor | number) => bind(prim, operands(x, y), {})) as Binary;
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
export const square = <S extends Shape>(x: T<S>): T<S> => mul(x, x);

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
/**
 * x·y: [..., M, K] by a shared [K, N], or by [..., K, N] with the same batch dims, is [..., M, N]. The first
 * overload infers the dims, so it also type-checks in layers generic over leading dims
 * (`matmul(Tensor<[...B, N, D]>, Tensor<[D, R]>)` is `Tensor<[...B, N, R]>`); the second explains a
 * mismatch (`ShapeError<"Cannot multiply [n, d] by [r, d]">`) and lets tensors of unknown shape through.
 */
export function matmul<B extends Shape, N extends Dim, K extends Dim, M extends Dim>(
  x: T<readonly [...B, N, K]>,
  y: T<readonly [K, M]> | T<readonly [...B, K, M]>,
): T<readonly [...B, N, M]>;
export function matmul<X extends Shape, Y extends Shape>(x: T<X>, y: T<Y> & MatmulCheck<X, Y>): T<MatmulShape<X, Y>>;
export function matmul(x: Tensor, y: Tensor): Tensor {
  return bind("matmul", [x, y], {});
}
/** x·yᵀ with y stored [..., N, K] (or a shared [N, K]): attention scores without a transpose kernel. */
export function matmulNT<B extends Shape, N extends Dim, K extends Dim, M extends Dim>(
  x: T<readonly [...B, N, K]>,
  y: T<readonly [M, K]> | T<readonly [...B, M, K]>,
): T<readonly [...B, N, M]>;
export function matmulNT<X extends Shape, Y extends Shape>(
  x: T<X>,
  y: T<Y> & MatmulCheck<X, SwapLast<Y>>,
): T<MatmulShape<X, SwapLast<Y>>>;
export function matmulNT(x: Tensor, y: Tensor): Tensor {
  return bind("matmul", [x, y], { transB: true });
}
/** Matmul with transpose flags, for rules and passes that work on loosely typed tensors. */
export const matmulT = (x: Tensor, y: Tensor, transA: boolean, transB: boolean): Tensor =>
  bind("matmul", [x, y], transA || transB ? { transA, transB } : {});
/** x with new dims of the same element count. */
export const reshape = <const S extends Shape>(x: Tensor, dims: S): T<S> => as(bind("reshape", [x], { dims }));
/** x with its axes permuted: output axis k is input axis perm[k]. */
export const transpose = <S extends Shape, const P extends readonly number[]>(x: T<S>, perm: P): T<Permute<S, P>> =>
  as(bind("transpose", [x], { perm }));
/** Swaps the last two axes. */
export const mT = <S extends Shape>(x: T<S>): T<SwapLast<S>> => {
  const n = x.rank;
  return as(bind("transpose", [x], { perm: [...Array(n - 2).keys(), n - 1, n - 2] }));
};
/** x broadcast to `dims` (numpy rules, aligned right). */
export const broadcastTo = <const S extends Shape>(x: Tensor, dims: S): T<S> => as(bind("broadcast", [x], { dims }));

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
/** x / sqrt(mean(x², -1) + eps) · w, with w [D] (or an anonymous axis) over x's last axis D. */
export function rmsnorm<L extends Shape, D extends Dim>(
  x: T<readonly [...L, D]>,
  w: T<readonly [D]> | T<readonly [Dim<"_">]>,
  eps?: number,
): T<readonly [...L, D]>;
export function rmsnorm<S extends Shape, W extends Shape>(
  x: T<S>,
  w: T<W> & IfUntyped<S, `rmsnorm: weight ${ShowShape<W>} does not fit the last axis of ${ShowShape<S>}`>,
  eps?: number,
): T<S>;
export function rmsnorm(x: Tensor, w: Tensor, eps = 1e-6): Tensor {
  return bind("rmsnorm", [x, w], { eps });
}
/** Rotary position embedding (LLaMA's half-split convention) over x [..., T, Dh]; `inverse` rotates back. */
export const rope = <S extends Shape>(x: T<S>, base = 10000, inverse = false): T<S> =>
  as(bind("rope", [x], { base, inverse }));
/** x converted to `dtype` (float to int truncates toward zero). */
export const cast = <S extends Shape>(x: T<S>, dtype: DType): T<S> => as(bind("cast", [x], { dtype }));
/** Per-position loss logsumexp(logits) − logits[target], over logits [...S, V] and int targets [...S]. */
export const crossEntropy = <S extends Shape, V extends Dim>(logits: T<readonly [...S, V]>, targets: T<S>): T<S> =>
  as(bind("crossEntropy", [logits, targets], {}));

/** Merges all leading axes: [..., D] -> [N, D] (N anonymous). */
export function flatten2d<L extends Shape, D extends Dim>(x: T<readonly [...L, D]>): T<readonly [Dim<"_">, D]>;
export function flatten2d<S extends Shape>(
  x: T<S> & IfUntyped<S, `flatten2d: ${ShowShape<S>} has no axis`>,
): T<readonly [Dim<"_">, Dim]>;
export function flatten2d(x: Tensor): Tensor {
  return reshape(x, [anon(numel(x.dims.slice(0, -1))), x.dims[x.rank - 1]!]);
}
/** flatten2d's inverse: y [N, E] back to the leading axes of `like` [..., D]: [..., E]. */
export const unflatten2d = <L extends Shape, E extends Dim>(
  y: T<readonly [Dim, E]>,
  like: T<readonly [...L, Dim]>,
): T<readonly [...L, E]> => {
  const lead: Shape = like.dims.slice(0, -1);
  return reshape(y, [...(lead as L), y.dims[1]]);
};

/** The tensor types for each rank, with unnamed dims. */
type OfRank = [
  readonly [],
  readonly [Dim],
  readonly [Dim, Dim],
  readonly [Dim, Dim, Dim],
  readonly [Dim, Dim, Dim, Dim],
];
/**
 * x typed as a tensor of rank `n` (dims unnamed), after checking its rank at trace time: how a `Tensor`
 * whose shape the types do not know (a function's untyped argument) enters typed code.
 */
export function withRank<N extends 0 | 1 | 2 | 3 | 4>(x: Tensor, n: N): T<OfRank[N]> {
  if (x.rank !== n)
    throw new RankfuseException(shapeError("input", `expected a rank-${n} tensor, got ${showShape(x.dims)}`));
  return as(x);
}

export { dim };
