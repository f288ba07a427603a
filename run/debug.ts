import { isFused, type Graph, type Node } from "../ir/graph.ts";
import type { Backend } from "../ir/backend.ts";
import type { Plan } from "../passes/plan.ts";

/** The RANKFUSE_DEBUG level (0 when unset or not a number). */
export const debugLevel = (): number => Number(process.env.RANKFUSE_DEBUG ?? 0) || 0;

/**
 * What `compile` prints to stderr under RANKFUSE_DEBUG: 1 the plan (launches, FLOPs, bytes, peak),
 * 2 also the traced and the planned graph, 3 also how each fused launch runs on the backend,
 * 4 also the code a backend generates for a fused kernel (where it has a `kernelSource`).
 */
export function debugCompiled(traced: Graph, plan: Plan, backend: Backend<any>): void {
  const level = debugLevel();
  if (level < 1) return;
  const out: string[] = [`[rankfuse] compiled for ${backend.name}`];
  if (level >= 2) out.push("traced graph:", traced.toString(), "planned graph:", plan.graph.toString());
  out.push(plan.toString());
  if (level >= 3) {
    const source = (backend as { kernelSource?: (n: Node) => string | undefined }).kernelSource;
    plan.launches.forEach((l, i) => {
      if (!isFused(l.eqn)) return;
      const one = backend.prepareFused && backend.caps.fusedKinds?.has(l.eqn.params.kind);
      out.push(
        `kernel ${i}: fused.${l.eqn.params.kind} runs ${one ? `as one ${backend.name} kernel` : `as its ${l.eqn.body.eqns.length} parts (no fused kernel here)`}`,
      );
      const code = level >= 4 ? source?.call(backend, l.eqn) : undefined;
      if (code) out.push(code);
    });
  }
  console.error(out.join("\n"));
}
