import * as E from "fp-ts/lib/Either.js";
import { fmt, type Plan } from "../passes/plan.ts";
import { savedResiduals } from "../passes/remat.ts";
import { isFused, outsOf, showAbs, type Node } from "../ir/graph.ts";
import { planTrainStep } from "../train/step.ts";
import type { LanguageModel } from "../models/model.ts";

/** What the plan panel shows: the printed plan, one line per kernel, what is saved and recomputed. */
export interface PlanSummary {
  readonly text: string;
  readonly kernels: readonly { readonly label: string; readonly fused: boolean }[];
  readonly saved: string;
  readonly recomputed: string;
  readonly predictedPeakBytes: number;
}

/** `%9:f32[8, 64] = matmul(%3, %4)`; a fused node shows its kind and all of its outputs. */
function kernelLabel(node: Node): string {
  const kind = isFused(node) ? `fused.${node.params.kind}` : node.prim;
  return `${outsOf(node)
    .map((v) => `${v}:${showAbs(v.abs)}`)
    .join(" ")} = ${kind}(${node.inputs.join(", ")})`;
}

const countBy = (xs: readonly string[]) => {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
};
const showCounts = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}×${n}`)
    .join(", ");

/**
 * The forward values kept for backward (grouped by the names models give them) and, for a remat policy,
 * the equations its backward recomputes: the primitives the policy's plan runs beyond the save-everything
 * plan of the same model (forward equations are identical; only recomputation is added). Both are
 * planned unfused, so the count is of primitives whichever backend fuses what.
 */
export function summarizePlan(plan: Plan, model: LanguageModel, batch: number, seq: number): PlanSummary {
  const res = savedResiduals(plan.graph);
  const byName = new Map<string, { n: number; bytes: number }>();
  for (const r of res) {
    const key = r.name.replace(/ %\d+$/, ""); // unnamed values group by primitive
    const e = byName.get(key) ?? { n: 0, bytes: 0 };
    byName.set(key, { n: e.n + 1, bytes: e.bytes + r.bytes });
  }
  const savedBytes = res.reduce((s, r) => s + r.bytes, 0);
  const saved = [
    `${res.length} values, ${fmt(savedBytes)}B:`,
    ...[...byName].sort((a, b) => b[1].bytes - a[1].bytes).map(([k, v]) => `  ${k} ×${v.n}  ${fmt(v.bytes)}B`),
  ].join("\n");
  let recomputed = `nothing: the ${model.method} model stores every forward value its backward reads`;
  if (model.remat) {
    const all = planTrainStep({ ...model, remat: undefined }, batch, seq);
    const mine = planTrainStep(model, batch, seq);
    if (E.isRight(all) && E.isRight(mine)) {
      const extra = countBy(mine.right.launches.map((l) => l.eqn.prim));
      for (const [p, n] of countBy(all.right.launches.map((l) => l.eqn.prim))) extra.set(p, (extra.get(p) ?? 0) - n);
      const pos = new Map([...extra].filter(([, n]) => n > 0));
      const total = [...pos.values()].reduce((a, b) => a + b, 0);
      recomputed = `${total} equations in backward (policy ${model.remat.name}), ${fmt(mine.right.flops - all.right.flops)}FLOP extra, predicted peak ${fmt(all.right.predictedPeakBytes)}B → ${fmt(mine.right.predictedPeakBytes)}B (unfused):\n  ${showCounts(pos)}`;
    } else {
      const failed = E.isLeft(all) ? all.left : E.isLeft(mine) ? mine.left : undefined;
      recomputed = `policy ${model.remat.name} (planning it unfused to compare failed: ${failed?.message})`;
    }
  }
  const kernels = plan.launches.map((l, i) => ({
    label: `${String(i).padStart(3)} ${kernelLabel(l.eqn)}${l.eqn.meta.phase === "backward" ? "  (bwd)" : ""}`,
    fused: isFused(l.eqn),
  }));
  return { text: plan.toString(), kernels, saved, recomputed, predictedPeakBytes: plan.predictedPeakBytes };
}
