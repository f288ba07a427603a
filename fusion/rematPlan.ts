import * as E from "fp-ts/lib/Either.js";
import type { Graph } from "../dsl/graph.ts";
import type { RankfuseError } from "../dsl/errors.ts";
import { isBudget, resolveBudget } from "./budget.ts";
import { makePlan, type Plan } from "./plan.ts";
import { rematGraph, type RematPolicy } from "./remat.ts";

/**
 * The plan of a joint graph under a remat policy (none: store everything). A budget is first resolved
 * into the concrete policy that fits it, or a Left naming the smallest budget that would.
 */
export function planWithRemat(g: Graph, remat: RematPolicy | undefined, bytesPerValue: number): E.Either<RankfuseError, Plan> {
  if (!remat) return E.right(makePlan(g, bytesPerValue));
  if (!isBudget(remat)) return E.right(makePlan(rematGraph(g, remat), bytesPerValue));
  return E.map((r: { policy: RematPolicy }) => makePlan(rematGraph(g, r.policy), bytesPerValue))(resolveBudget(g, remat, bytesPerValue));
}
