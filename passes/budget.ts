import * as E from "fp-ts/lib/Either.js";
import type { Eqn, Graph } from "../ir/graph.ts";
import { numel } from "../ir/dim.ts";
import type { RankfuseError } from "../ir/errors.ts";
import { eqnFlops } from "./cost.ts";
import { makePlan, fmt } from "./plan.ts";
import { BLOCK_INPUT, rematGraph, type RematPolicy } from "./remat.ts";

/** A memory budget, resolved per graph into a concrete policy by `resolveBudget`. */
export interface BudgetPolicy extends RematPolicy {
  readonly budgetBytes: number;
}

export const isBudget = (p: RematPolicy): p is BudgetPolicy => "budgetBytes" in p;

/** Save whatever fits in `bytes` of predicted peak memory, recomputing the rest with the least extra FLOPs. */
export function budget(bytes: number): BudgetPolicy {
  return { name: `budget(${fmt(bytes)}B)`, budgetBytes: bytes, save: () => true };
}

/**
 * Greedy choice: stop saving forward values in order of bytes freed per FLOP of recompute (big, cheap
 * values first: attention probabilities, activations) until the predicted peak fits. Block inputs are
 * always kept, so a backward step never recomputes more than its own block. A budget below every
 * reachable peak is a Left naming the smallest feasible one.
 */
export function resolveBudget(
  g: Graph,
  p: BudgetPolicy,
  bytesPerValue = 4,
): E.Either<RankfuseError, { policy: RematPolicy; peak: number }> {
  const peakWith = (saved: ReadonlySet<Eqn>) => {
    const policy: RematPolicy = { name: p.name, save: (e) => saved.has(e) };
    return { policy, peak: makePlan(rematGraph(g, policy), bytesPerValue).predictedPeakBytes };
  };
  const fwd = g.eqns.filter((e) => e.meta.phase === "forward");
  const usedInBackward = new Set(g.eqns.filter((e) => e.meta.phase === "backward").flatMap((e) => e.inputs));
  const candidates = fwd
    .filter((e) => usedInBackward.has(e.out) && e.meta.name !== BLOCK_INPUT)
    .map((e) => ({ e, score: numel(e.out.abs.dims) / (1 + eqnFlops(e)) }))
    .sort((a, b) => b.score - a.score)
    .map((c) => c.e);
  const saved = new Set(fwd);
  let best = peakWith(saved);
  if (best.peak <= p.budgetBytes) return E.right(best);
  for (const e of candidates) {
    saved.delete(e);
    const next = peakWith(saved);
    if (next.peak <= p.budgetBytes) return E.right(next);
    if (next.peak < best.peak) best = next;
  }
  return E.left({
    tag: "ConfigError",
    message: `remat: no plan fits a budget of ${fmt(p.budgetBytes)}B; the smallest predicted peak is ${fmt(best.peak)}B (${best.peak} bytes)`,
  });
}
