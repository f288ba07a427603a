import * as E from "fp-ts/lib/Either.js";
import { broadcastDims, dimsAgree, numel, showShape, type Dim } from "../../ir/dim.ts";
import type { AbsVal } from "../../ir/graph.ts";
import type { DType, Prim, PrimParams } from "../../ir/prims.ts";
import { dtypeError, shapeError, type RankfuseError } from "../../ir/errors.ts";

/**
 * Abstract evaluation: the run-time twin of the type-level shape rules. Each rule checks its inputs
 * and names the op and the shapes in its error.
 */
export type ShapeRule<P extends Prim> = (
  inputs: readonly AbsVal[],
  params: PrimParams[P],
) => E.Either<RankfuseError, AbsVal>;
export type AnyShapeRule = (inputs: readonly AbsVal[], params: unknown) => E.Either<RankfuseError, AbsVal>;

type R = E.Either<RankfuseError, AbsVal>;
const ok = (dims: readonly Dim[], dtype: DType): R => E.right({ dims, dtype });
const fail = (op: string, msg: string): R => E.left(shapeError(op, msg));
const sh = showShape;

const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

function requireFloat(op: string, ...xs: AbsVal[]): RankfuseError | null {
  const bad = xs.find((x) => x.dtype !== "float32");
  return bad ? dtypeError(op, `expects float32 inputs, got ${xs.map((x) => x.dtype).join(" and ")}`) : null;
}

const unary =
  (op: string, intOk = false): ShapeRule<Prim> =>
  ([x]) => {
    const err = intOk ? null : requireFloat(op, x!);
    return err ? E.left(err) : ok(x!.dims, x!.dtype);
  };

const binary =
  (op: string, outDtype?: DType): ShapeRule<Prim> =>
  ([x, y]) => {
    if (x!.dtype !== y!.dtype)
      return E.left(dtypeError(op, `cannot combine ${x!.dtype}${sh(x!.dims)} with ${y!.dtype}${sh(y!.dims)}`));
    const dims = broadcastDims(x!.dims, y!.dims);
    return dims
      ? ok(dims, outDtype ?? x!.dtype)
      : fail(op, `shapes ${sh(x!.dims)} and ${sh(y!.dims)} do not broadcast`);
  };

const reduce =
  (op: string): ShapeRule<"sum" | "max" | "mean"> =>
  ([x], { axes }) => {
    const rank = x!.dims.length;
    const norm = axes.map((a) => normAxis(a, rank));
    if (norm.some((a) => a < 0 || a >= rank) || new Set(norm).size !== norm.length) {
      return fail(op, `axes (${axes.join(",")}) are not distinct axes of ${sh(x!.dims)}`);
    }
    return ok(
      x!.dims.filter((_, i) => !norm.includes(i)),
      x!.dtype,
    );
  };

const lastAxis =
  (op: string): ShapeRule<Prim> =>
  ([x]) => {
    const err = requireFloat(op, x!);
    if (err) return E.left(err);
    return x!.dims.length === 0 ? fail(op, "needs at least one axis") : ok(x!.dims, "float32");
  };

export const shapeRules: { readonly [P in Prim]: ShapeRule<P> } = {
  neg: unary("neg", true),
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
  equal: binary("equal", "float32"),
  literal: (_, { dims, dtype }) => ok(dims, dtype),
  sum: reduce("sum"),
  max: reduce("max"),
  mean: reduce("mean"),
  matmul: ([x, y], { transA, transB }) => {
    const err = requireFloat("matmul", x!, y!);
    if (err) return E.left(err);
    const swap = (d: readonly Dim[]) => [...d.slice(0, -2), d[d.length - 1]!, d[d.length - 2]!];
    if (x!.dims.length < 2 || y!.dims.length < 2)
      return fail("matmul", `needs rank >= 2 operands, got ${sh(x!.dims)} and ${sh(y!.dims)}`);
    if (transA && y!.dims.length === 2 && x!.dims.length > 2)
      return fail("matmul", "transA with a shared weight is not supported");
    const a = transA ? swap(x!.dims) : x!.dims,
      b = transB ? swap(y!.dims) : y!.dims;
    if (a.length < 2 || b.length < 2) return fail("matmul", `needs rank >= 2 operands, got ${sh(a)} and ${sh(b)}`);
    const k1 = a[a.length - 1]!,
      k2 = b[b.length - 2]!;
    if (!dimsAgree(k1, k2))
      return fail("matmul", `cannot multiply ${sh(a)} by ${sh(b)}: inner dims ${sh([k1])} and ${sh([k2])} differ`);
    const batchA = a.slice(0, -2),
      batchB = b.slice(0, -2);
    if (batchB.length > 0 && (batchA.length !== batchB.length || !batchA.every((d, i) => dimsAgree(d, batchB[i]!)))) {
      return fail("matmul", `cannot multiply ${sh(a)} by ${sh(b)}: batch dims differ`);
    }
    return ok([...batchA, a[a.length - 2]!, b[b.length - 1]!], "float32");
  },
  reshape: ([x], { dims }) =>
    numel(x!.dims) === numel(dims)
      ? ok(dims, x!.dtype)
      : fail(
          "reshape",
          `cannot reshape ${sh(x!.dims)} (${numel(x!.dims)} values) to ${sh(dims)} (${numel(dims)} values)`,
        ),
  transpose: ([x], { perm }) => {
    const rank = x!.dims.length;
    const valid = perm.length === rank && [...perm].sort((p, q) => p - q).every((p, i) => p === i);
    return valid
      ? ok(
          perm.map((p) => x!.dims[p]!),
          x!.dtype,
        )
      : fail("transpose", `(${perm.join(",")}) is not a permutation of the axes of ${sh(x!.dims)}`);
  },
  broadcast: ([x], { dims }) => {
    const off = dims.length - x!.dims.length;
    const fits = off >= 0 && x!.dims.every((d, i) => d.size === 1 || dimsAgree(d, dims[i + off]!));
    return fits ? ok(dims, x!.dtype) : fail("broadcast", `cannot broadcast ${sh(x!.dims)} to ${sh(dims)}`);
  },
  gather: ([table, ids]) => {
    if (ids!.dtype !== "int32") return E.left(dtypeError("gather", `ids must be int32, got ${ids!.dtype}`));
    if (table!.dims.length !== 2) return fail("gather", `table must be [rows, width], got ${sh(table!.dims)}`);
    return ok([...ids!.dims, table!.dims[1]!], table!.dtype);
  },
  scatterAdd: ([values, ids], { rows }) => {
    if (ids!.dtype !== "int32") return E.left(dtypeError("scatterAdd", `ids must be int32, got ${ids!.dtype}`));
    const v = values!.dims,
      k = ids!.dims;
    const fits = v.length === k.length + 1 && k.every((d, i) => dimsAgree(d, v[i]!));
    return fits
      ? ok([rows, v[v.length - 1]!], values!.dtype)
      : fail("scatterAdd", `values ${sh(v)} do not fit ids ${sh(k)}`);
  },
  softmax: (ins, { causal }) =>
    causal && ins[0]!.dims.length < 2
      ? fail("softmax", `causal needs [..., T, S], got ${sh(ins[0]!.dims)}`)
      : lastAxis("softmax")(ins, {}),
  logSoftmax: lastAxis("logSoftmax"),
  rmsnorm: ([x, w]) => {
    const err = requireFloat("rmsnorm", x!, w!);
    if (err) return E.left(err);
    const d = x!.dims[x!.dims.length - 1];
    const fits = d && w!.dims.length === 1 && dimsAgree(d, w!.dims[0]!);
    return fits
      ? ok(x!.dims, "float32")
      : fail("rmsnorm", `weight ${sh(w!.dims)} does not fit the last axis of ${sh(x!.dims)}`);
  },
  rope: ([x]) => {
    const err = requireFloat("rope", x!);
    if (err) return E.left(err);
    const n = x!.dims.length;
    const head = x!.dims[n - 1];
    if (n < 2 || !head || head.size % 2 !== 0)
      return fail("rope", `needs [..., T, Dh] with even Dh, got ${sh(x!.dims)}`);
    return ok(x!.dims, "float32");
  },
  cast: ([x], { dtype }) => ok(x!.dims, dtype),
  oneHot: ([ids], { depth }) =>
    ids!.dtype === "int32"
      ? ok([...ids!.dims, depth], "float32")
      : E.left(dtypeError("oneHot", `ids must be int32, got ${ids!.dtype}`)),
  crossEntropy: ([logits, targets]) => {
    if (logits!.dtype !== "float32" || targets!.dtype !== "int32") {
      return E.left(
        dtypeError(
          "crossEntropy",
          `expects float32 logits and int32 targets, got ${logits!.dtype} and ${targets!.dtype}`,
        ),
      );
    }
    const l = logits!.dims,
      t = targets!.dims;
    const fits = l.length === t.length + 1 && t.every((d, i) => dimsAgree(d, l[i]!));
    return fits ? ok(t, "float32") : fail("crossEntropy", `logits ${sh(l)} do not fit targets ${sh(t)}`);
  },
};
