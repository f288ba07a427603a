import { sizes } from "../ir/dim.ts";
import type { FusedEqn, Var } from "../ir/graph.ts";
import { BINARY_PRIMS, UNARY_PRIMS } from "../ir/prims.ts";
import { columnReduction, rowAnchor, rowClass, type RowShape } from "./rowGroups.ts";

/** An elementwise primitive a row program computes (on full rows or on row scalars alike). */
export type RowOpPrim = (typeof UNARY_PRIMS)[number] | (typeof BINARY_PRIMS)[number];

/**
 * One step of a row program, on named values (a full row or one scalar per row):
 * - `op`: an elementwise primitive of its args; `copy`: its arg (broadcast); `literal`: a constant;
 * - `exp`: exp(x − m) (softmax's numerator), `norm`: x · inv · w (rmsnorm's output);
 * - `acc`: a reduction of a full value, finished as its kind says: sum, mean (sum / D), max,
 *   rms (1 / sqrt(mean(x²) + eps), over x²), lse (m + log Σ exp(x − m)), inv (1 / Σ exp(x − m)).
 */
export type RowStep =
  | { readonly t: "op"; readonly prim: RowOpPrim; readonly args: readonly string[] }
  | { readonly t: "copy"; readonly args: readonly [string] }
  | { readonly t: "literal"; readonly value: number }
  /** the column index of each element of a row (only where rowProgram was asked for `ints`) */
  | { readonly t: "iota" }
  | { readonly t: "exp"; readonly args: readonly [x: string, m: string] }
  | { readonly t: "norm"; readonly args: readonly [x: string, inv: string, w: string] }
  | {
      readonly t: "acc";
      readonly kind: "sum" | "mean" | "max" | "rms" | "lse" | "inv";
      readonly eps?: number;
      /** the reduced full value, and for lse/inv the row max m (summing exp(x − m)) */
      readonly args: readonly string[];
    };

/** A step with its output name, its class, and the stage it runs in (full) or is ready from (scalar). */
export interface RowInstr {
  readonly out: string;
  readonly full: boolean;
  readonly stage: number;
  readonly step: RowStep;
}

/** How a row program reads one input: full rows (contiguous) or one scalar per row, at rowStride·r. */
export interface RowInput {
  readonly name: string;
  readonly full: boolean;
  readonly rowStride: number;
  /** int32 (read as its float value; only where rowProgram was asked for `ints`) */
  readonly int?: boolean;
}

/**
 * A column reduction of a row program: the sum (or mean) over all rows of the full value `arg`, which
 * is ready in the sweep of stage `stage`; its result [D] is an output only (no step reads it).
 */
export interface RowColumn {
  readonly out: string;
  readonly kind: "sum" | "mean";
  readonly arg: string;
  readonly stage: number;
}

/**
 * A row group as a program over one row: inputs, instructions in an order where every value is
 * defined before it is read, and outputs (names, full or scalar). Stages split the row at its
 * reductions: stage k is one sweep over the row that computes the full values of stage k and
 * accumulates the reductions of stage k, whose results are ready from stage k + 1 on. `stored` names
 * the full values a later stage reads again (kept in a per-row scratch, or in their output).
 */
export interface RowProgram {
  readonly rows: number;
  readonly width: number;
  readonly inputs: readonly RowInput[];
  readonly instrs: readonly RowInstr[];
  readonly outputs: readonly { readonly name: string; readonly full: boolean; readonly column?: boolean }[];
  readonly stages: number;
  readonly stored: ReadonlySet<string>;
  /** column reductions (only where rowProgram was asked for them; their outputs have `column`) */
  readonly columns?: readonly RowColumn[];
}

const UNARY = new Set<string>(UNARY_PRIMS);
const BINARY = new Set<string>(BINARY_PRIMS);

/** The row stride of strides `s` over rows `dims` when it is one (every row at c·r), else undefined. */
function linearStride(s: readonly number[], dims: readonly number[]): number | undefined {
  let c: number | undefined;
  let below = 1;
  for (let a = dims.length - 1; a >= 0; a--) {
    if (dims[a]! > 1) {
      if (c === undefined) c = s[a]! / below;
      if (s[a] !== c * below) return undefined;
    }
    below *= dims[a]!;
  }
  return c ?? 0;
}

/** Strides of `inShape` read as `outShape` with numpy broadcasting (0 where broadcast). */
function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const st = inShape.map(() => 0);
  for (let a = inShape.length - 1, acc = 1; a >= 0; a--) {
    st[a] = acc;
    acc *= inShape[a]!;
  }
  const off = outShape.length - inShape.length;
  return outShape.map((_, i) => (i < off || inShape[i - off] === 1 ? 0 : st[i - off]!));
}

/**
 * The row program of a row node, or the reason there is none (an input read with a stride that is
 * not one per row, or read two ways; a column reduction, unless `opts.columns`; oneHot of int32 ids,
 * as equal(iota, id), unless `opts.ints`). Pure: backends emit
 * code from it (native C++, WGSL).
 */
export function rowProgram(
  node: FusedEqn & { params: RowShape },
  opts: { readonly columns?: boolean; readonly ints?: boolean } = {},
): RowProgram | string {
  const row: RowShape = { rowDims: node.params.rowDims, width: node.params.width };
  const full = [...row.rowDims, row.width];
  const nR = row.rowDims.length;
  const name = new Map<Var, string>();
  const info = new Map<string, { full: boolean; stage: number }>();
  const inputs: RowInput[] = [];
  const inputMode = new Map<Var, RowInput>();
  node.inputs.forEach((v, q) => name.set(v, `a${q}`));

  // how each input is read: by each reader, against the shape that reader reads it as
  const read = (v: Var, as: readonly number[]): string | undefined => {
    const q = node.inputs.indexOf(v);
    if (q < 0) return undefined;
    const s = broadcastStrides(sizes(v.abs.dims), as);
    const isFull = as.length === nR + 1 && as[nR] === row.width && s[nR] !== 0;
    if (isFull && s[nR] !== 1) return `input ${q} is not contiguous along its rows`;
    const c = linearStride(s.slice(0, nR), row.rowDims);
    if (c === undefined) return `input ${q} is not read at one stride per row`;
    const mode = { name: `a${q}`, full: isFull, rowStride: c, ...(v.abs.dtype === "int32" ? { int: true } : {}) };
    const known = inputMode.get(v);
    if (known && (known.full !== mode.full || known.rowStride !== mode.rowStride)) return `input ${q} is read two ways`;
    inputMode.set(v, mode);
    return undefined;
  };
  const instrs: RowInstr[] = [];
  let fresh = 0;
  const emit = (full: boolean, stage: number, step: RowStep, out = `u${fresh++}`) => {
    instrs.push({ out, full, stage, step });
    info.set(out, { full, stage });
    return out;
  };
  // the stage from which a value is usable (inputs: from the start)
  const at = (n: string) => info.get(n)?.stage ?? 0;
  const columns: RowColumn[] = [];
  for (const [j, e] of node.body.eqns.entries()) {
    const out = `t${j}`;
    const cls = rowClass(sizes(e.out.abs.dims), row);
    const args = e.inputs.map((v) => name.get(v)!);
    if (args.some((a) => columns.some((c) => c.out === a))) return `${e.prim} reads a column reduction`;
    const asRead = (v: Var, shape: readonly number[]) => read(v, shape);
    let why: string | undefined;
    if (e.prim === "literal") {
      emit(false, 0, { t: "literal", value: (e.params as { value: number }).value }, out);
    } else if (e.prim === "reshape") {
      why = asRead(e.inputs[0]!, sizes(e.inputs[0]!.abs.dims));
      if (why) return why;
      name.set(e.out, args[0]!);
      continue;
    } else if ((e.prim === "sum" || e.prim === "mean") && columnReduction(e)) {
      // by its axes, not its output's shape: on a square [D, D] a column sum's [D] looks like row scalars
      if (!opts.columns) return "a column reduction has no row form here";
      why = asRead(e.inputs[0]!, full);
      if (why) return why;
      const d = info.get(args[0]!);
      if (d && !d.full) return "a column reduction of row scalars";
      columns.push({ out, kind: e.prim, arg: args[0]!, stage: at(args[0]!) });
    } else if (e.prim === "oneHot") {
      if (!opts.ints || cls !== "full") return "oneHot has no row form here";
      why = asRead(e.inputs[0]!, sizes(e.inputs[0]!.abs.dims));
      if (why) return why;
      const iota = emit(true, 0, { t: "iota" });
      emit(true, at(args[0]!), { t: "op", prim: "equal", args: [iota, args[0]!] }, out);
    } else if (e.prim === "sum" || e.prim === "mean" || e.prim === "max") {
      if (!rowAnchor(e)) return `${e.prim} over axes other than the last`;
      why = asRead(e.inputs[0]!, full);
      if (why) return why;
      emit(false, at(args[0]!) + 1, { t: "acc", kind: e.prim, args }, out);
    } else if (e.prim === "rmsnorm") {
      why = asRead(e.inputs[0]!, full) ?? asRead(e.inputs[1]!, full);
      if (why) return why;
      const sx = at(args[0]!);
      const inv = emit(false, sx + 1, {
        t: "acc",
        kind: "rms",
        eps: (e.params as { eps: number }).eps,
        args: [args[0]!],
      });
      emit(true, sx + 1, { t: "norm", args: [args[0]!, inv, args[1]!] }, out);
    } else if (e.prim === "softmax" || e.prim === "logSoftmax") {
      why = asRead(e.inputs[0]!, full);
      if (why) return why;
      const sx = at(args[0]!);
      const m = emit(false, sx + 1, { t: "acc", kind: "max", args: [args[0]!] });
      if (e.prim === "softmax") {
        const inv = emit(false, sx + 2, { t: "acc", kind: "inv", args: [args[0]!, m] });
        const ex = emit(true, sx + 2, { t: "exp", args: [args[0]!, m] });
        emit(true, sx + 2, { t: "op", prim: "mul", args: [ex, inv] }, out);
      } else {
        const lse = emit(false, sx + 2, { t: "acc", kind: "lse", args: [args[0]!, m] });
        emit(true, sx + 2, { t: "op", prim: "sub", args: [args[0]!, lse] }, out);
      }
    } else if (UNARY.has(e.prim) || BINARY.has(e.prim) || e.prim === "broadcast") {
      if (cls === undefined) return `${e.prim} has a shape outside the rows`;
      const readAs = cls === "full" ? full : sizes(e.out.abs.dims);
      for (const v of e.inputs) {
        why = asRead(v, readAs);
        if (why) return why;
      }
      const stage = Math.max(0, ...args.map(at));
      const step: RowStep =
        e.prim === "broadcast" ? { t: "copy", args: [args[0]!] } : { t: "op", prim: e.prim as RowOpPrim, args };
      emit(cls === "full", stage, step, out);
    } else return `${e.prim} has no row form`;
    name.set(e.out, out);
  }
  inputs.push(...node.inputs.map((v, q) => inputMode.get(v) ?? { name: `a${q}`, full: false, rowStride: 0 }));
  // a full value read in a later stage than its own is stored
  const stored = new Set<string>();
  for (const i of instrs) {
    const reads = i.step.t === "literal" || i.step.t === "iota" ? [] : i.step.args;
    for (const a of reads) {
      const d = info.get(a);
      if (d?.full && (i.full ? i.stage : i.stage - 1) > d.stage) stored.add(a);
    }
  }
  const outputs = node.outs.map((v) => {
    const n = name.get(v)!;
    return columns.some((c) => c.out === n)
      ? { name: n, full: false, column: true }
      : { name: n, full: info.get(n)?.full ?? false };
  });
  const stages =
    Math.max(0, ...instrs.map((i) => (i.full ? i.stage : i.stage - 1)), ...columns.map((c) => c.stage)) + 1;
  return {
    rows: full.slice(0, nR).reduce((p, s) => p * s, 1),
    width: row.width,
    inputs,
    instrs,
    outputs,
    stages,
    stored,
    ...(columns.length ? { columns } : {}),
  };
}
