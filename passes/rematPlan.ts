import * as E from "fp-ts/lib/Either.js";
import type { Graph } from "../ir/graph.ts";
import type { RankfuseError } from "../ir/errors.ts";
import { isBudget, resolveBudget } from "./budget.ts";
import { fuseChains } from "./chain.ts";
import { ELEMENTWISE, MATMUL_ADD, MATMUL_EPILOGUE, ROW, ROW_COLUMNS, type ChainCaps } from "../ir/fusedKinds.ts";
import { fuseRows } from "./rowFusion.ts";
import { fuseElementwise } from "./elementwiseFusion.ts";
import { fuseMatmulEpilogues } from "./matmulEpilogue.ts";
import { fuseMatmulElementwise } from "./matmulEpilogueFusion.ts";
import { layoutHeads } from "./headLayout.ts";
import { makePlan, type Plan } from "./plan.ts";
import { rematGraph, type RematPolicy } from "./remat.ts";

/**
 * The plan of a joint graph under a remat policy (none: store everything), then chain fusion where
 * `fusion` (a target's caps) is given, then matmul epilogues, row fusion, elementwise fusion and elementwise epilogues of matmuls where they list their kinds. Remat comes first: it decides what backward recomputes, and
 * fusion then fuses forward, backward and recomputed chains alike. A budget is first resolved into the
 * concrete policy that fits it, or a Left naming the smallest budget that would.
 */
export function planWithRemat(
  g: Graph,
  remat: RematPolicy | undefined,
  bytesPerValue: number,
  fusion?: ChainCaps,
): E.Either<RankfuseError, Plan> {
  const fuse = (h: Graph) => {
    if (!fusion) return h;
    const chained = layoutHeads(fuseChains(h, fusion), fusion);
    // an add into a matmul's output is cheapest inside the GEMM; row and elementwise groups take what is left
    const epilogues = fusion.kinds.has(MATMUL_ADD) ? fuseMatmulEpilogues(chained) : chained;
    const rowed = fusion.kinds.has(ROW) ? fuseRows(epilogues, { columns: fusion.kinds.has(ROW_COLUMNS) }) : epilogues;
    const grouped = fusion.kinds.has(ELEMENTWISE) ? fuseElementwise(rowed) : rowed;
    // an elementwise group on a product then runs on the GEMM's output blocks
    return fusion.kinds.has(MATMUL_EPILOGUE) ? fuseMatmulElementwise(grouped) : grouped;
  };
  const plan = (h: Graph) => makePlan(fuse(h), bytesPerValue);
  if (!remat) return E.right(plan(g));
  if (!isBudget(remat)) return E.right(plan(rematGraph(g, remat)));
  return E.map((r: { policy: RematPolicy }) => plan(rematGraph(g, r.policy)))(resolveBudget(g, remat, bytesPerValue));
}
