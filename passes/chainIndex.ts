import { Graph, type Eqn, type FusedEqn, type FusedParams, type Var } from "../ir/graph.ts";
import type { Prim } from "../ir/prims.ts";

/** Who defines and who reads each variable, and which equations a fused node has taken. */
export class GraphIndex {
  readonly def = new Map<Var, number>();
  readonly users = new Map<Var, number[]>();
  readonly outputs: ReadonlySet<Var>;
  readonly absorbed = new Set<number>();
  constructor(readonly g: Graph) {
    g.eqns.forEach((e, i) => {
      this.def.set(e.out, i);
      for (const v of new Set(e.inputs)) this.users.set(v, [...(this.users.get(v) ?? []), i]);
    });
    this.outputs = new Set(g.outputs);
  }
  /** The free (not yet fused) equation defining v with primitive `prim`, if that is how v is made. */
  defBy(v: Var, ...prims: Prim[]): { e: Eqn; i: number } | null {
    const i = this.def.get(v);
    if (i === undefined || this.absorbed.has(i)) return null;
    const e = this.g.eqns[i]!;
    return prims.includes(e.prim) ? { e, i } : null;
  }
  usersOf(v: Var): number[] {
    return this.users.get(v) ?? [];
  }
  /** Read by `only` and nothing else (not a graph output either). */
  onlyUsedBy(v: Var, only: number): boolean {
    const u = this.usersOf(v);
    return !this.outputs.has(v) && u.length === 1 && u[0] === only;
  }
  /** Read anywhere outside the equations `inside`. */
  usedOutside(v: Var, inside: ReadonlySet<number>): boolean {
    return this.outputs.has(v) || this.usersOf(v).some((u) => !inside.has(u));
  }
}

/** A fused node a matcher found, and the equations (by index) it takes. */
export interface Match {
  readonly node: FusedEqn;
  readonly absorbed: readonly number[];
}

/** A matmul's transpose flags. */
export const mmFlags = (e: Eqn) => e.params as { transA?: boolean; transB?: boolean };
/** A matmul with neither operand transposed. */
export const plainMatmul = (e: Eqn) => e.prim === "matmul" && !mmFlags(e).transA && !mmFlags(e).transB;
/** Same dtype and shape: an epilogue operand or an accumulator that lines up element by element. */
export const sameShape = (a: Var, b: Var) =>
  a.abs.dtype === b.abs.dtype && a.shape.length === b.shape.length && a.shape.every((s, i) => s === b.shape[i]);

/**
 * Builds the node, or null when the chain cannot be one launch at position max(absorbed): an output
 * read before that point, or an input only defined after it.
 */
export function build(
  ix: GraphIndex,
  absorbed: number[],
  inputs: [string, Var][],
  outputs: [string, Var][],
  params: { readonly kind: string; readonly [more: string]: unknown },
): Match | null {
  const at = Math.max(...absorbed);
  const inside = new Set(absorbed);
  if (absorbed.some((i) => ix.absorbed.has(i))) return null;
  for (const [, v] of outputs) if (ix.usersOf(v).some((u) => !inside.has(u) && u <= at)) return null;
  for (const [, v] of inputs) if ((ix.def.get(v) ?? -1) >= at) return null;
  const body = new Graph(
    inputs.map(([, v]) => v),
    [...inside].sort((a, b) => a - b).map((i) => ix.g.eqns[i]!),
    outputs.map(([, v]) => v),
  );
  const last = ix.g.eqns[at]!;
  const fusedParams: FusedParams = {
    ...params,
    inputNames: inputs.map(([n]) => n),
    outputNames: outputs.map(([n]) => n),
  };
  const node: FusedEqn = {
    prim: "fused",
    params: fusedParams,
    inputs: body.inputs,
    outs: body.outputs,
    out: body.outputs[0]!,
    body,
    meta: { phase: last.meta.phase, name: last.meta.name },
  };
  return { node, absorbed };
}
