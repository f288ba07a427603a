import { showShape, sizes, numel, type Dim } from "./dim.ts";
import type { DType, Prim, PrimParams } from "./prims.ts";

/** An abstract value: what is known of a variable before any data exists. */
export interface AbsVal {
  readonly dims: readonly Dim[];
  readonly dtype: DType;
}

export const showAbs = (a: AbsVal): string => `${a.dtype === "float32" ? "f32" : "i32"}${showShape(a.dims)}`;
export const absBytes = (a: AbsVal): number => numel(a.dims) * 4;

/** A variable of a graph: defined once, by a graph input or by one equation. */
export class Var {
  constructor(
    readonly id: number,
    readonly abs: AbsVal,
  ) {}
  get shape(): number[] {
    return sizes(this.abs.dims);
  }
  toString(): string {
    return `%${this.id}`;
  }
}

/**
 * Where an equation came from: the forward or backward part of a joint graph (set by `valueAndGrad`),
 * and a name the model gave its value with `checkpointName` (what remat policies select on).
 */
export interface EqnMeta {
  readonly phase?: "forward" | "backward";
  readonly name?: string;
}

/** One primitive application: `out = prim[params](...inputs)`. */
export interface Eqn<P extends Prim = Prim> {
  readonly prim: P;
  readonly inputs: readonly Var[];
  readonly params: PrimParams[P];
  readonly out: Var;
  meta: EqnMeta;
}

/** A jaxpr-like program: inputs, equations in order, outputs. */
export class Graph {
  constructor(
    readonly inputs: readonly Var[],
    readonly eqns: readonly Eqn[],
    readonly outputs: readonly Var[],
  ) {}

  toString(): string {
    const decl = (v: Var) => `${v}:${showAbs(v.abs)}`;
    const lines = [`{ lambda ${this.inputs.map(decl).join(" ")} .`];
    for (const e of this.eqns) {
      const p = showParams(e.params as Record<string, unknown>);
      const note = [e.meta.phase === "backward" ? "bwd" : "", e.meta.name ? `"${e.meta.name}"` : ""].filter(Boolean).join(" ");
      lines.push(`    ${decl(e.out)} = ${e.prim}${p} ${e.inputs.join(" ")}${note ? `    # ${note}` : ""}`);
    }
    lines.push(`  in ( ${this.outputs.join(" ")} ) }`);
    return lines.join("\n");
  }
}

function showParams(params: Record<string, unknown>): string {
  const parts = Object.entries(params).map(([k, v]) => `${k}=${showParam(v)}`);
  return parts.length ? `[${parts.join(" ")}]` : "";
}

function showParam(v: unknown): string {
  if (Array.isArray(v)) {
    return v.length > 0 && typeof v[0] === "object" ? showShape(v as Dim[]) : `(${v.join(",")})`;
  }
  if (v && typeof v === "object" && "name" in v && "size" in v) return showShape([v as Dim]);
  return String(v);
}

/** For each variable, the index of the last equation that reads it (graph outputs live to the end). */
export function lastUses(g: Graph): Map<Var, number> {
  const last = new Map<Var, number>();
  g.eqns.forEach((e, i) => e.inputs.forEach((v) => last.set(v, i)));
  for (const v of g.outputs) last.set(v, g.eqns.length);
  return last;
}
