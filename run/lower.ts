import { Graph, isFused, type FusedEqn, type Node, type Var } from "../ir/graph.ts";
import type { Backend } from "../ir/backend.ts";

/** Splices every fused node back into its parts: the graph the chain pass started from. */
export function lowerFused(g: Graph<Node>): Graph {
  return new Graph(
    g.inputs,
    g.eqns.flatMap((e) => (isFused(e) ? e.body.eqns : [e])),
    g.outputs,
  );
}

/** One launch as the executor runs it: input buffers in, one buffer per output out. */
export type LaunchKernel<B> = (inputs: readonly B[]) => B[];

/**
 * Prepares a launch on a backend. A fused node runs as the backend's one kernel where its caps list
 * the kind, and otherwise as its body, equation by equation with the backend's own kernels (the
 * lowering caps ask for; it also lets any backend check the pass's rewiring against the plain graph).
 */
export function prepareLaunch<B>(backend: Backend<B>, node: Node): LaunchKernel<B> {
  if (!isFused(node)) {
    const k = backend.prepare(node);
    return (inputs) => [backend.dispatch(k, inputs)];
  }
  if (backend.prepareFused && backend.caps.fusedChains && backend.caps.fusedKinds?.has(node.params.kind))
    return backend.prepareFused(node);
  return byParts(backend, node);
}

/** A fused node run as its body, equation by equation with the backend's own kernels. */
export function byParts<B>(backend: Backend<B>, node: FusedEqn): LaunchKernel<B> {
  const steps = node.body.eqns.map((e) => ({ e, k: backend.prepare(e) }));
  const last = new Map<Var, number>();
  steps.forEach(({ e }, i) => e.inputs.forEach((v) => last.set(v, i)));
  const keep = new Set<Var>([...node.inputs, ...node.outs]);
  return (inputs) => {
    const env = new Map<Var, B>(node.inputs.map((v, i) => [v, inputs[i]!]));
    steps.forEach(({ e, k }, i) => {
      env.set(
        e.out,
        backend.dispatch(
          k,
          e.inputs.map((v) => env.get(v)!),
        ),
      );
      for (const v of new Set(e.inputs)) if (last.get(v) === i && !keep.has(v)) backend.free(env.get(v)!);
    });
    return node.outs.map((v) => env.get(v)!);
  };
}
