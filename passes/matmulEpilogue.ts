import { Graph, isFused, outsOf, type Eqn, type FusedEqn, type Node, type Var } from "../ir/graph.ts";
import { MATMUL_ADD, type MatmulAddParams } from "../ir/fusedKinds.ts";
import { mmFlags, sameShape } from "./chainIndex.ts";

/**
 * Matmul epilogue fusion: `add(matmul(a, b), c)` (either operand order) becomes one `matmulAdd` node,
 * y = op(a)·op(b) + c, where the add reads the product and c at the add's own shape (no broadcast)
 * and nothing else reads the product (the node has no other output to give it). That covers the
 * residual adds after the attention and MLP output projections and, in backward, a gradient's
 * accumulation `add(matmul, matmul)`, whatever model made the graph: it is a pattern over
 * primitives, run after chain fusion (which keeps its own epilogues) and before elementwise fusion
 * (which takes the adds left over). Where both operands are products the later-defined one is
 * folded, so c is already computed. The node takes the add's place; the product's inputs are
 * defined before the matmul, and c before the add, so the order stays valid.
 */
export function fuseMatmulEpilogues(g: Graph<Node>): Graph<Node> {
  const def = new Map<Var, number>();
  const readers = new Map<Var, number>();
  g.eqns.forEach((e, i) => {
    outsOf(e).forEach((v) => def.set(v, i));
    for (const v of e.inputs) readers.set(v, (readers.get(v) ?? 0) + 1);
  });
  const outputs = new Set(g.outputs);
  const taken = new Set<number>();
  const placed = new Map<number, FusedEqn>();
  /** The matmul defining v, when only one read (by the add) ever sees v. */
  const product = (v: Var): { e: Eqn; i: number } | null => {
    const i = def.get(v);
    if (i === undefined || taken.has(i) || outputs.has(v) || readers.get(v) !== 1) return null;
    const e = g.eqns[i]!;
    return !isFused(e) && e.prim === "matmul" && e.out.abs.dtype === "float32" ? { e, i } : null;
  };
  g.eqns.forEach((add, at) => {
    if (isFused(add) || add.prim !== "add" || add.inputs.length !== 2) return;
    const [x, y] = add.inputs as [Var, Var];
    if (x === y || !sameShape(x, add.out) || !sameShape(y, add.out)) return;
    const candidates = [
      { mm: product(x), c: y },
      { mm: product(y), c: x },
    ].filter((k): k is { mm: { e: Eqn; i: number }; c: Var } => k.mm !== null);
    const pick = candidates.sort((p, q) => q.mm.i - p.mm.i)[0];
    if (!pick) return;
    const { e: mm, i } = pick.mm;
    const [a, b] = mm.inputs as [Var, Var];
    const { transA = false, transB = false } = mmFlags(mm);
    const params: MatmulAddParams = {
      kind: MATMUL_ADD,
      transA,
      transB,
      inputNames: ["a", "b", "c"],
      outputNames: ["y"],
    };
    const inputs = [a, b, pick.c];
    placed.set(at, {
      prim: "fused",
      params,
      inputs,
      outs: [add.out],
      out: add.out,
      body: new Graph(inputs, [mm, add], [add.out]),
      meta: add.meta,
    });
    taken.add(i);
  });
  if (placed.size === 0) return g;
  const eqns: Node[] = [];
  g.eqns.forEach((e, i) => {
    if (!taken.has(i)) eqns.push(placed.get(i) ?? e);
  });
  return new Graph<Node>(g.inputs, eqns, g.outputs);
}
