import { Graph, type Var } from "../ir/graph.ts";

/** Drops equations whose values no output depends on (every primitive is pure). */
export function eliminateDeadCode(g: Graph): Graph {
  const needed = new Set<Var>(g.outputs);
  const kept = [];
  for (let i = g.eqns.length - 1; i >= 0; i--) {
    const e = g.eqns[i]!;
    if (!needed.has(e.out)) continue;
    kept.push(e);
    e.inputs.forEach((v) => needed.add(v));
  }
  return new Graph(g.inputs, kept.reverse(), g.outputs);
}
