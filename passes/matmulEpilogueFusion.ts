import { sizes } from "../ir/dim.ts";
import { Graph, isFused, outsOf, type Eqn, type FusedEqn, type Node, type Var } from "../ir/graph.ts";
import { ELEMENTWISE, MATMUL_EPILOGUE, type MatmulEpilogueParams } from "../ir/fusedKinds.ts";
import { mmFlags } from "./chainIndex.ts";
import { ELEMENTWISE_PRIMS } from "./elementwiseGroups.ts";
import { topoOrder } from "./elementwiseFusion.ts";

const isF32 = (v: Var) => v.abs.dtype === "float32";
const shapeKey = (v: Var) => sizes(v.abs.dims).join(",");

/** The elementwise equations of a consumer: a fused elementwise group's body, or one elementwise op. */
function elementwiseBody(e: Node): readonly Eqn[] | null {
  if (isFused(e)) return e.params.kind === ELEMENTWISE ? e.body.eqns : null;
  return ELEMENTWISE_PRIMS.has(e.prim) && isF32(e.out) && e.inputs.every(isF32) ? [e] : null;
}

/**
 * Matmul elementwise epilogues: a float32 `matmul` whose output is read by an elementwise group
 * (a fused `elementwise` node, or one elementwise op left alone) of the product's own shape and phase
 * becomes one `matmulEpilogue` node: the GEMM, then the group's body on each block of the product
 * while it is in cache, so the group's pass over the product disappears (and the product's store,
 * when nothing else reads it; otherwise it is an output of the node too). SwiGLU's `silu(gate) ⊙ up`
 * after the up projection and backward's `dH ⊙ up`, `⊙ dsilu(gate)` after the down projection's
 * input gradient are its cases. Runs after elementwise fusion, on the matmuls the chain and
 * accumulate-epilogue passes left. Where a group reads several products the later-defined is
 * folded (the others are computed by then); a product is skipped when another of its readers leads
 * back into the group (the fused node would wait for itself). The node takes the group's place and
 * the graph is put back in an order where every value is defined before it is read.
 */
export function fuseMatmulElementwise(g: Graph<Node>): Graph<Node> {
  const def = new Map<Var, number>();
  const readers = new Map<Var, number[]>();
  g.eqns.forEach((e, i) => {
    outsOf(e).forEach((v) => def.set(v, i));
    for (const v of new Set(e.inputs)) readers.set(v, [...(readers.get(v) ?? []), i]);
  });
  const outputs = new Set(g.outputs);
  const taken = new Set<number>();
  const placed = new Map<number, FusedEqn>();
  // does a path from the product's other readers reach the consumer at `to`?
  const reaches = (y: Var, skip: number, to: number): boolean => {
    const stack = (readers.get(y) ?? []).filter((r) => r !== skip);
    const seen = new Set<number>();
    while (stack.length) {
      const q = stack.pop()!;
      if (q === to) return true;
      if (seen.has(q) || q > to) continue;
      seen.add(q);
      for (const v of outsOf(g.eqns[q]!)) stack.push(...(readers.get(v) ?? []));
    }
    return false;
  };
  /** The graph's nodes with the merges so far, in an order that defines before reading; null: a cycle. */
  const ordered = (): Node[] | null => {
    const nodes: Node[] = [];
    g.eqns.forEach((e, i) => {
      if (!taken.has(i)) nodes.push(placed.get(i) ?? e);
    });
    try {
      return topoOrder(nodes);
    } catch {
      return null;
    }
  };
  /** The fused node of the matmul at `i` and its elementwise consumer c (at `at`, equations `body`). */
  const merged = (c: Node, body: readonly Eqn[], i: number, at: number): FusedEqn => {
    const mm = g.eqns[i] as Eqn;
    const y = mm.out;
    const [a, b] = mm.inputs as [Var, Var];
    const extras = [...new Set(c.inputs)].filter((v) => v !== y);
    const keepY = outputs.has(y) || (readers.get(y) ?? []).some((r) => r !== at);
    const outs = [...(keepY ? [y] : []), ...outsOf(c)];
    const { transA = false, transB = false } = mmFlags(mm);
    const params: MatmulEpilogueParams = {
      kind: MATMUL_EPILOGUE,
      transA,
      transB,
      inputNames: ["a", "b", ...extras.map((_, k) => `in${k}`)],
      outputNames: [...(keepY ? ["y"] : []), ...outsOf(c).map((_, k) => `out${k}`)],
    };
    const inputs = [a, b, ...extras];
    return {
      prim: "fused",
      params,
      inputs,
      outs,
      out: outs[0]!,
      body: new Graph(inputs, [mm, ...body], outs),
      meta: c.meta.phase ? { phase: c.meta.phase } : {},
    };
  };
  g.eqns.forEach((c, at) => {
    const body = elementwiseBody(c);
    if (!body || outsOf(c).some((v) => shapeKey(v) !== shapeKey(c.out))) return;
    const products = [...new Set(c.inputs)]
      .map((v) => ({ v, i: def.get(v) }))
      .filter((p): p is { v: Var; i: number } => {
        if (p.i === undefined || taken.has(p.i)) return false;
        const m = g.eqns[p.i]!;
        return (
          !isFused(m) &&
          m.prim === "matmul" &&
          isF32(m.out) &&
          m.inputs.every(isF32) &&
          m.meta.phase === c.meta.phase &&
          shapeKey(m.out) === shapeKey(c.out) &&
          !reaches(p.v, at, at)
        );
      })
      .sort((p, q) => q.i - p.i);
    // the first product whose merge leaves an order (two merges together can close a cycle
    // neither closes alone: each node's product then waits for the other's epilogue inputs)
    for (const pick of products) {
      const node = merged(c, body, pick.i, at);
      placed.set(at, node);
      taken.add(pick.i);
      if (ordered() !== null) return;
      placed.delete(at);
      taken.delete(pick.i);
    }
  });
  const nodes = ordered();
  return placed.size === 0 || nodes === null ? g : new Graph<Node>(g.inputs, nodes, g.outputs);
}
