import { Graph, type FusedEqn, type Node, type Var } from "../ir/graph.ts";
import { fuseAttention } from "./attentionChain.ts";
import { LOWRANK, LOWRANK_BWD, LOWRANK_TAIL, type ChainCaps } from "../ir/fusedKinds.ts";
import { GraphIndex, type Match } from "./chainIndex.ts";
import { matchForward, matchTail } from "./chainForward.ts";
import { matchBackward } from "./chainBackward.ts";

/**
 * Chain fusion: a pure pass from a graph of primitives to a graph where every low-rank chain
 * `matmul → act → matmul` (forward) and its backward `(dY·Bᵀ) ⊙ act'(z)` with the products that read
 * it (dX = dZ·Aᵀ, dA = xᵀ·dZ, and dB = hᵀ·dY from the same dY) is one fused node. It runs on the joint
 * forward+backward graph after remat, so it fuses training exactly as it fuses inference. A value the
 * rest of the graph still reads (z or h saved for backward, dZ) becomes an extra output of the node.
 *
 * Longer chains (`C·σ(B·σ(A·x))`, each middle width small) are links that overlap: `B·σ(A·x)` and
 * `C·σ(B·…)` both want B's product. Each matmul belongs to one fused node, claimed greedily from the
 * input side: the forward pass visits second products in graph order, so A and B make a lowrank node,
 * C (whose first product B is taken) a lowrankTail node `σ(y)·C` on that node's y; with four matmuls
 * it is (A, B) and (C, D). Greedy from the input side keeps every full link that a chain of one link
 * would get (a CoLA layer stays one node whatever follows it) and leaves at most the odd last matmul
 * to a tail. The backward mirrors it, one fused node per forward node: the backward of (A, B) is a
 * lowrankBackward from dY = ∂(its y), and the tail's backward is a lowrankBackward with no dX or dA
 * (those products are B's and belong to the (A, B) node): it computes ∂(its x) as dZ, and dC. The
 * backward graph runs from the output, so its first pass would pair C with B; instead an anchor whose
 * dX product starts a chain that matches on its own defers to it, and the second pass (input side
 * first) fuses what deferred, as a tail where its products are taken.
 */
export function fuseChains(g: Graph, caps: ChainCaps): Graph<Node> {
  const ix = new GraphIndex(g);
  const placed = new Map<number, FusedEqn>();
  const linkOutputs = new Set<Var>(); // the y of each forward chain node: where a tail may start
  const linkGrads = new Set<Var>(); // the dY of each backward chain node: what a backward tail computes
  const take = (m: Match | null) => {
    if (!m) return;
    m.absorbed.forEach((i) => ix.absorbed.add(i));
    placed.set(Math.max(...m.absorbed), m.node);
    const { kind, inputNames, outputNames } = m.node.params;
    if (kind === LOWRANK || kind === LOWRANK_TAIL) linkOutputs.add(m.node.outs[outputNames.indexOf("y")]!);
    if (kind === LOWRANK_BWD) linkGrads.add(m.node.inputs[inputNames.indexOf("dY")]!);
  };
  const order = g.eqns.map((_, i) => i);
  // attention first: its backward node recomputes P, so the forward node need not save it
  fuseAttention(ix, caps, take);
  // backward chains first: the forward matcher would otherwise never see a dZ product anyway
  if (caps.kinds.has(LOWRANK_BWD)) {
    const deferred: number[] = [];
    order.forEach((i) => take(matchBackward(ix, i, caps.maxRank, { defer: (j) => deferred.push(j) })));
    const linked = (v: Var) => linkGrads.has(v);
    deferred.reverse().forEach((i) => take(matchBackward(ix, i, caps.maxRank, { linked })));
  }
  if (caps.kinds.has(LOWRANK)) order.forEach((i) => take(matchForward(ix, i, caps.maxRank)));
  if (caps.kinds.has(LOWRANK_TAIL)) {
    const linked = (v: Var) => linkOutputs.has(v);
    order.forEach((i) => take(matchTail(ix, i, caps.maxRank, linked)));
  }
  const eqns: Node[] = [];
  g.eqns.forEach((e, i) => {
    const f = placed.get(i);
    if (f) eqns.push(f);
    else if (!ix.absorbed.has(i)) eqns.push(e);
  });
  return new Graph<Node>(g.inputs, eqns, g.outputs);
}
