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

/** What a fused node says about itself: its kernel kind, and a name for each input and output. */
export interface FusedParams {
  readonly kind: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly [more: string]: unknown;
}

/**
 * A fused kernel (passes/chain.ts): one launch that computes `body`, a sub-graph of primitive
 * equations whose inputs and outputs are this node's. It is not a primitive, so the exhaustive prim
 * tables stay as they are; a backend without a kernel for it runs the body (run/lower.ts).
 */
export interface FusedEqn {
  readonly prim: "fused";
  readonly params: FusedParams;
  readonly inputs: readonly Var[];
  readonly outs: readonly Var[];
  /** The main result, outs[0] (the others are values the rest of the graph also reads). */
  readonly out: Var;
  readonly body: Graph;
  meta: EqnMeta;
}

/** A graph node: a primitive equation, or (after fusion) a fused one. */
export type Node = Eqn | FusedEqn;
/** Is this node a fused one (its `body` holds the equations it replaces)? */
export const isFused = (e: Node): e is FusedEqn => e.prim === "fused";
export const outsOf = (e: Node): readonly Var[] => (isFused(e) ? e.outs : [e.out]);

/** A jaxpr-like program: inputs, equations in order, outputs. Only the fusion pass makes N = Node. */
export class Graph<N extends Node = Eqn> {
  constructor(
    readonly inputs: readonly Var[],
    readonly eqns: readonly N[],
    readonly outputs: readonly Var[],
  ) {}

  toString(): string {
    const decl = (v: Var) => `${v}:${showAbs(v.abs)}`;
    const lines = [`{ lambda ${this.inputs.map(decl).join(" ")} .`];
    for (const e of this.eqns) {
      const note = [e.meta.phase === "backward" ? "bwd" : "", e.meta.name ? `"${e.meta.name}"` : ""]
        .filter(Boolean)
        .join(" ");
      const tail = note ? `    # ${note}` : "";
      if (!isFused(e)) {
        lines.push(
          `    ${decl(e.out)} = ${e.prim}${showParams(e.params as Record<string, unknown>)} ${e.inputs.join(" ")}${tail}`,
        );
        continue;
      }
      lines.push(`    ${showFusedHead(e)}${tail}`);
      for (const b of e.body.eqns)
        lines.push(
          `      | ${decl(b.out)} = ${b.prim}${showParams(b.params as Record<string, unknown>)} ${b.inputs.join(" ")}`,
        );
    }
    lines.push(`  in ( ${this.outputs.join(" ")} ) }`);
    return lines.join("\n");
  }
}

/** `dX=%9:f32[n, d] = fused.lowrankBackward[act=silu r=4](dY=%3, B=%1, ...)`: one line per fused node. */
export function showFusedHead(e: FusedEqn): string {
  const { kind, inputNames, outputNames, ...rest } = e.params;
  const outs = e.outs.map((v, i) => `${outputNames[i]}=${v}:${showAbs(v.abs)}`).join(" ");
  const ins = e.inputs.map((v, i) => `${inputNames[i]}=${v}`).join(", ");
  return `${outs} = fused.${kind}${showParams(rest)}(${ins})`;
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
export function lastUses(g: Graph<Node>): Map<Var, number> {
  const last = new Map<Var, number>();
  g.eqns.forEach((e, i) => e.inputs.forEach((v) => last.set(v, i)));
  for (const v of g.outputs) last.set(v, g.eqns.length);
  return last;
}
