import { sizes } from "../ir/dim.ts";
import { isFused, type Eqn, type Graph, type Node, type Var } from "../ir/graph.ts";
import { ELEMENTWISE_PRIMS } from "./elementwiseGroups.ts";
import { greedyGroups } from "./fusionGroups.ts";

/** A row shape: rows indexed by `rowDims`, each of `width` values along the last axis. */
export interface RowShape {
  readonly rowDims: readonly number[];
  readonly width: number;
}

/** How a value of a row group is laid out: a full row [...R, D], or one scalar per row ([...R, 1] or [...R]). */
export type RowClass = "full" | "scalar";

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The class of a value of shape `s` in rows of shape `r`, or undefined where it is neither. */
export function rowClass(s: readonly number[], r: RowShape): RowClass | undefined {
  if (same(s, [...r.rowDims, r.width])) return "full";
  if (same(s, [...r.rowDims, 1]) || same(s, r.rowDims)) return "scalar";
  return undefined;
}

const isF32 = (v: Var) => v.abs.dtype === "float32";
const shapeOf = (v: Var) => sizes(v.abs.dims);
const keyOf = (r: RowShape) => `${r.rowDims.join(",")}|${r.width}`;
/** The row shape of a key made by keyOf. */
const rowOfKey = (k: string): RowShape => {
  const [rows, width] = k.split("|");
  return { rowDims: rows ? rows.split(",").map(Number) : [], width: Number(width) };
};

/**
 * The row shape an equation reduces or normalises over, where it is a row anchor: a float32 sum, mean
 * or max over the last axis only, rmsnorm, non-causal softmax, logSoftmax (rows of width 2 or more).
 */
export function rowAnchor(e: Node): RowShape | undefined {
  if (isFused(e) || !isF32(e.out) || !e.inputs.every(isF32)) return undefined;
  const x = e.inputs[0];
  if (!x) return undefined;
  const s = shapeOf(x);
  const row = s.length ? { rowDims: s.slice(0, -1), width: s[s.length - 1]! } : undefined;
  if (!row || row.width < 2) return undefined;
  if (e.prim === "sum" || e.prim === "mean" || e.prim === "max") {
    const { axes } = e.params as { axes: readonly number[] };
    const axis = axes.length === 1 ? (axes[0]! + s.length) % s.length : undefined;
    return axis === s.length - 1 ? row : undefined;
  }
  if (e.prim === "rmsnorm" || e.prim === "logSoftmax") return row;
  if (e.prim === "softmax") return (e.params as { causal: boolean }).causal ? undefined : row;
  return undefined;
}

/**
 * The row shape whose full rows a column reduction reduces: a float32 sum or mean over every axis but
 * the last of a value [...R, D] (R not empty), giving [D], e.g. rmsnorm's weight gradient.
 */
export function columnReduction(e: Node): RowShape | undefined {
  if (isFused(e) || (e.prim !== "sum" && e.prim !== "mean") || !isF32(e.out) || !isF32(e.inputs[0]!)) return undefined;
  const s = shapeOf(e.inputs[0]!);
  const { axes } = e.params as { axes: readonly number[] };
  const norm = [...new Set(axes.map((a) => (a + s.length) % s.length))].sort((a, b) => a - b);
  if (s.length < 2 || norm.length !== s.length - 1 || norm.some((a, k) => a !== k)) return undefined;
  const width = s[s.length - 1]!;
  return same(shapeOf(e.out), [width]) && width >= 2 ? { rowDims: s.slice(0, -1), width } : undefined;
}

/** The row shape a row group's members are read against: that of its first anchor. */
export function rowShapeOf(body: readonly Eqn[]): RowShape {
  for (const e of body) {
    const r = rowAnchor(e);
    if (r) return r;
  }
  throw new Error("a row group has no reduction or row primitive");
}

/**
 * Maximal groups of equations that run as one pass over each row of one row shape [...R, D]: last-axis
 * reductions and the row primitives (rmsnorm, softmax, logSoftmax) with their elementwise neighbours
 * on full rows [...R, D] or on row scalars ([...R, 1], [...R]), and the reshapes between row scalars.
 * Grouping follows passes/fusionGroups.ts (greedy in graph order, one phase, never a cycle; constants
 * read only by the group join it); a group is kept only if it holds a reduction or row primitive, so
 * purely elementwise groups are left to elementwise fusion. oneHot of int32 ids joins as a full row. A column reduction (columnReduction) joins
 * the group of its rows that computes its input, as an output of that group: no member reads its
 * result, which is complete only after the last row. Those two join only where the target's row kernels
 * take them (`opts.columns`: native's do, webgpu's do not yet).
 */
export function rowGroups(g: Graph<Node>, opts: { readonly columns?: boolean } = {}): number[][] {
  const anchors = new Set<number>();
  const keys = new Set<string>();
  g.eqns.forEach((e, i) => {
    const r = rowAnchor(e);
    if (r) {
      anchors.add(i);
      keys.add(keyOf(r));
    }
  });
  if (anchors.size === 0) return [];
  const rows = [...keys].map(rowOfKey);
  const columnOuts = new Set<Var>();
  if (opts.columns) for (const e of g.eqns) if (columnReduction(e)) columnOuts.add(e.out);
  const keysFor = (e: Node, i: number): string[] | undefined => {
    if (e.inputs.some((v) => columnOuts.has(v))) return undefined;
    if (anchors.has(i)) return [keyOf(rowAnchor(e)!)];
    // oneHot of int32 ids [...R] is a full row: equal(iota, id)
    if (opts.columns && !isFused(e) && e.prim === "oneHot" && isF32(e.out) && e.inputs[0]!.abs.dtype === "int32")
      return rows.filter((r) => rowClass(shapeOf(e.out), r) === "full").map(keyOf);
    if (isFused(e) || !isF32(e.out) || !e.inputs.every(isF32)) return undefined;
    const col = columnReduction(e);
    if (col && !opts.columns) return undefined;
    if (col) return keys.has(keyOf(col)) ? [keyOf(col)] : undefined;
    const s = shapeOf(e.out);
    if (e.prim === "reshape") {
      const t = shapeOf(e.inputs[0]!);
      const [longer, shorter] = t.length > s.length ? [t, s] : [s, t];
      if (longer.length !== shorter.length + 1 || longer[longer.length - 1] !== 1) return undefined;
      if (!same(longer.slice(0, -1), shorter)) return undefined;
      return rows.filter((r) => same(r.rowDims, shorter)).map(keyOf);
    }
    if (!ELEMENTWISE_PRIMS.has(e.prim)) return undefined;
    return rows.filter((r) => rowClass(s, r) !== undefined).map(keyOf);
  };
  return greedyGroups(g, keysFor, (m) => m.some((i) => anchors.has(i)));
}
