import { Graph, outsOf, type Eqn, type FusedEqn, type Node, type Var } from "../ir/graph.ts";
import { ELEMENTWISE } from "../ir/fusedKinds.ts";
import { elementwiseGroups } from "./elementwiseGroups.ts";

/**
 * Elementwise fusion: every maximal group of elementwise primitives that can run as one loop over one
 * output shape (passes/elementwiseGroups.ts) becomes one fused node of kind `elementwise`, whose body
 * is the group's equations in order. Its inputs are the values the group reads from outside, its
 * outputs every member value the rest of the graph (or the graph's result) reads. It runs after chain
 * and attention fusion, on the primitives they leave, and never crosses a matmul or a reduction.
 * Each node takes the place of its last member; the graph is then put back in an order where every
 * value is defined before it is read (a reader of an earlier member moves after the node), keeping
 * the original order wherever it can.
 */
export function fuseElementwise(g: Graph<Node>): Graph<Node> {
  return fuseGroups(g, elementwiseGroups(g), ELEMENTWISE);
}

/**
 * Each group (equation indices in graph order) becomes one fused node of `kind` whose body is its
 * equations: inputs in0.. are the values it reads from outside, outputs out0.. every member value the
 * rest of the graph reads; the node takes its last member's place, then the graph is reordered so
 * every value is defined before it is read.
 */
export function fuseGroups(
  g: Graph<Node>,
  groups: readonly (readonly number[])[],
  kind: string,
  paramsOf: (body: readonly Eqn[]) => Record<string, unknown> = () => ({}),
): Graph<Node> {
  if (groups.length === 0) return g;
  const readers = new Map<Var, number[]>();
  g.eqns.forEach((e, i) => e.inputs.forEach((v) => readers.set(v, [...(readers.get(v) ?? []), i])));
  const graphOutputs = new Set(g.outputs);
  const placed = new Map<number, FusedEqn>();
  const absorbed = new Set<number>();
  for (const members of groups) {
    const inGroup = new Set(members);
    const body = members.map((i) => g.eqns[i] as Eqn);
    const defined = new Set(body.map((e) => e.out));
    const inputs = [...new Set(body.flatMap((e) => e.inputs.filter((v) => !defined.has(v))))];
    const outs = body
      .map((e) => e.out)
      .filter((v) => graphOutputs.has(v) || (readers.get(v) ?? []).some((r) => !inGroup.has(r)));
    const phases = new Set(body.map((e) => e.meta.phase));
    const node: FusedEqn = {
      prim: "fused",
      params: {
        ...paramsOf(body),
        kind,
        inputNames: inputs.map((_, k) => `in${k}`),
        outputNames: outs.map((_, k) => `out${k}`),
      },
      inputs,
      outs,
      out: outs[0]!,
      body: new Graph(inputs, body, outs),
      meta: phases.size === 1 && body[0]!.meta.phase ? { phase: body[0]!.meta.phase } : {},
    };
    members.forEach((i) => absorbed.add(i));
    placed.set(members[members.length - 1]!, node);
  }
  const nodes: Node[] = [];
  g.eqns.forEach((e, i) => {
    const f = placed.get(i);
    if (f) nodes.push(f);
    else if (!absorbed.has(i)) nodes.push(e);
  });
  return new Graph<Node>(g.inputs, topoOrder(nodes), g.outputs);
}

/**
 * The nodes in an order where each reads only defined values: each step takes the earliest node in
 * the given order whose inputs are all defined (the given order, where it already is one).
 */
export function topoOrder(nodes: readonly Node[]): Node[] {
  const producer = new Map<Var, number>();
  nodes.forEach((e, i) => outsOf(e).forEach((v) => producer.set(v, i)));
  const waiting = nodes.map((e) => new Set(e.inputs.map((v) => producer.get(v)).filter((p) => p !== undefined)).size);
  const dependents = nodes.map(() => [] as number[]);
  nodes.forEach((e, i) => {
    for (const p of new Set(e.inputs.map((v) => producer.get(v)).filter((p) => p !== undefined)))
      dependents[p]!.push(i);
  });
  // a min-heap of ready node indices
  const heap: number[] = [];
  const push = (x: number) => {
    heap.push(x);
    for (let k = heap.length - 1; k > 0;) {
      const up = (k - 1) >> 1;
      if (heap[up]! <= heap[k]!) break;
      [heap[up], heap[k]] = [heap[k]!, heap[up]!];
      k = up;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let k = 0; ;) {
        const l = 2 * k + 1,
          r = l + 1;
        let m = k;
        if (l < heap.length && heap[l]! < heap[m]!) m = l;
        if (r < heap.length && heap[r]! < heap[m]!) m = r;
        if (m === k) break;
        [heap[m], heap[k]] = [heap[k]!, heap[m]!];
        k = m;
      }
    }
    return top;
  };
  waiting.forEach((w, i) => w === 0 && push(i));
  const out: Node[] = [];
  while (heap.length) {
    const i = pop();
    out.push(nodes[i]!);
    for (const d of dependents[i]!) if (--waiting[d]! === 0) push(d);
  }
  if (out.length !== nodes.length) throw new Error("fusion: the fused graph has a cycle");
  return out;
}
