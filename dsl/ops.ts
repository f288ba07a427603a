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
export const neg = <S extends Shape>(x: T<S>): T<S> => as(bind("neg", [x], {}));
export const exp = <S extends Shape>(x: T<S>): T<S> => as(bind("exp", [x], {}));
export const log = <S extends Shape>(x: T<S>): T<S> => as(bind("log", [x], {}));
export const sqrt = <S extends Shape>(x: T<S>): T<S> => as(bind("sqrt", [x], {}));
export const tanh = <S extends Shape>(x: T<S>): T<S> => as(bind("tanh", [x], {}));
export const sigmoid = <S extends Shape>(x: T<S>): T<S> => as(bind("sigmoid", [x], {}));
export const silu = <S extends Shape>(x: T<S>): T<S> => as(bind("silu", [x], {}));
export const gelu = <S extends Shape>(x: T<S>): T<S> => as(bind("gelu", [x], {}));
export const relu = <S extends Shape>(x: T<S>): T<S> => as(bind("relu", [x], {}));
export const dsilu = <S extends Shape>(x: T<S>): T<S> => as(bind("dsilu", [x], {}));
export const dgelu = <S extends Shape>(x: T<S>): T<S> => as(bind("dgelu", [x], {}));
export const drelu = <S extends Shape>(x: T<S>): T<S> => as(bind("drelu", [x], {}));

// ---- constants
export const full = <S extends Shape>(dims: S, value: number, dtype: DType = "float32"): T<S> =>
  as(bind("literal", [], { value, dims, dtype }));
export const zerosLike = <S extends Shape>(x: T<S>): T<S> => full(x.dims, 0, x.dtype);
export const onesLike = <S extends Shape>(x: T<S>): T<S> => full(x.dims, 1, x.dtype);

// ---- elementwise binary with numpy broadcasting (the smaller operand may be a trailing shape or a number)
export type Operand<S extends Shape> = T<Suffixes<S>> | number;

/** Numbers become scalar literals; the binary primitives broadcast (numpy rules) themselves. */
function operands(x: Tensor | number, y: Tensor | number): [Tensor, Tensor] {
  if (typeof x === "number" && typeof y === "number") throw new TypeError("binary op: at least one operand must be a tensor");
  const tx = typeof x === "number" ? full([], x, (y as Tensor).dtype) : x;
  const ty = typeof y === "number" ? full([], y, tx.dtype) : y;
  return [tx, ty];
}

const binop = (prim: "add" | "sub" | "mul" | "div" | "maximum" | "equal") =>
  <S extends Shape>(x: T<S>, y: Operand<S>): T<S> => as(bind(prim, operands(x, y), {}));
export const add = binop("add");
export const sub = binop("sub");
export const mul = binop("mul");
export const div = binop("div");
export const maximum = binop("maximum");
export const equal = binop("equal");
/** Scalar-first forms: `rsub(1, x)` is `1 - x`, `rdiv(1, x)` is `1 / x`. */
export const rsub = <S extends Shape>(a: number, x: T<S>): T<S> => as(bind("sub", operands(a, x), {}));
export const rdiv = <S extends Shape>(a: number, x: T<S>): T<S> => as(bind("div", operands(a, x), {}));
export const square = <S extends Shape>(x: T<S>): T<S> => mul(x, x as Operand<S>);

// ---- reductions
type Reducer = {
  <S extends Shape>(x: T<S>): T<[]>;
  <S extends Shape>(x: T<S>, axis: -1): T<DropLast<S>>;
  (x: Tensor, axes: number | readonly number[]): Tensor;
};
const reducer = (prim: "sum" | "max" | "mean"): Reducer =>
  ((x: Tensor, axes?: number | readonly number[]) =>
    bind(prim, [x], { axes: axes === undefined ? x.dims.map((_, i) => i) : typeof axes === "number" ? [axes] : axes })) as Reducer;
export const sum = reducer("sum");
export const max = reducer("max");
export const mean = reducer("mean");

/** Reduce over the last axis and keep it as size 1, ready to broadcast back. */
export const sumKeepLast = <S extends Shape>(x: T<S>): T<S> => keepLast(sum(x, -1), x);
const keepLast = <S extends Shape>(r: Tensor, x: T<S>): T<S> => as(bind("reshape", [r], { dims: [...r.dims, anon(1)] }));

// ---- matmul and movement
export const matmul = <X extends Shape, Y extends Shape>(x: T<X>, y: T<Y> & MatmulCheck<X, Y>): T<MatmulShape<X, Y>> =>
  as(bind("matmul", [x, y], {}));
/** x·yᵀ (y stored [..., N, K]): attention scores without a transpose kernel. */
export const matmulNT = (x: Tensor, y: Tensor): Tensor => bind("matmul", [x, y], { transB: true });
/** Matmul with transpose flags, for rules and passes that work on loosely typed tensors. */
export const matmulT = (x: Tensor, y: Tensor, transA: boolean, transB: boolean): Tensor =>
  bind("matmul", [x, y], transA || transB ? { transA, transB } : {});
export const reshape = <S extends Shape>(x: Tensor, dims: S): T<S> => as(bind("reshape", [x], { dims }));
export const transpose = <S extends Shape, const P extends readonly number[]>(x: T<S>, perm: P): T<Permute<S, P>> =>
  as(bind("transpose", [x], { perm }));
/** Swaps the last two axes. */
export const mT = <S extends Shape>(x: T<S>): T<SwapLast<S>> => {
  const n = x.rank;
  return as(bind("transpose", [x], { perm: [...Array(n - 2).keys(), n - 1, n - 2] }));
};
export const broadcastTo = <S extends Shape>(x: Tensor, dims: S): T<S> => as(bind("broadcast", [x], { dims }));

// ---- embeddings
export const gather = <V extends Dim, D extends Dim, S extends Shape>(table: T<readonly [V, D]>, ids: T<S>): T<readonly [...S, D]> =>
  as(bind("gather", [table, ids], {}));
export const scatterAdd = <V extends Dim, S extends Shape, D extends Dim>(values: T<readonly [...S, D]>, ids: T<S>, rows: V): T<readonly [V, D]> =>
  as(bind("scatterAdd", [values, ids], { rows }));
export const oneHot = <S extends Shape, V extends Dim>(ids: T<S>, depth: V): T<readonly [...S, V]> => as(bind("oneHot", [ids], { depth }));

// ---- normalisation, attention pieces, losses
export const softmax = <S extends Shape>(x: T<S>, causal = false): T<S> => as(bind("softmax", [x], { causal }));
export const logSoftmax = <S extends Shape>(x: T<S>): T<S> => as(bind("logSoftmax", [x], {}));
export const rmsnorm = <S extends Shape>(x: T<S>, w: T<readonly [Last<S>]>, eps = 1e-6): T<S> => as(bind("rmsnorm", [x, w], { eps }));
export const rope = <S extends Shape>(x: T<S>, base = 10000, inverse = false): T<S> => as(bind("rope", [x], { base, inverse }));
export const cast = <S extends Shape>(x: T<S>, dtype: DType): T<S> => as(bind("cast", [x], { dtype }));
export const crossEntropy = <S extends Shape, V extends Dim>(logits: T<readonly [...S, V]>, targets: T<S>): T<S> =>
  as(bind("crossEntropy", [logits, targets], {}));

/** Merges all leading axes: [..., D] -> [N, D] (N anonymous). */
export const flatten2d = <S extends Shape>(x: T<S>): T<readonly [Dim<"_">, Last<S>]> =>
  reshape(x, [anon(numel(x.dims.slice(0, -1))), x.dims[x.rank - 1]!] as const) as T<readonly [Dim<"_">, Last<S>]>;

export { dim };
