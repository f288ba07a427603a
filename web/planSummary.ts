import * as E from "fp-ts/lib/Either.js";
import { fmt, type Plan } from "../passes/plan.ts";
import { savedResiduals } from "../passes/remat.ts";
import { isFused, outsOf, showAbs, type Node, type Var } from "../ir/graph.ts";
import { planTrainStep } from "../train/step.ts";
import type { LanguageModel } from "../models/model.ts";

/**
 * What the plan panel shows: the printed plan, one line per kernel, what is saved and recomputed, and a
 * legend of the fused kinds the kernels use.
 */
export interface PlanSummary {
  readonly text: string;
  readonly kernels: readonly { readonly label: string; readonly fused: boolean }[];
  /** One entry per fused kind among the kernels, in order of first use: `fused.lowrank` and what it computes. */
  readonly legend: readonly { readonly kind: string; readonly text: string }[];
  readonly saved: string;
  readonly recomputed: string;
  readonly predictedPeakBytes: number;
}

/** What each fused kind computes, in a line (ir/fusedKinds.ts has the full story). */
export const FUSED_KIND_NOTES: Readonly<Record<string, string>> = {
  lowrank:
    "a low-rank projection in one kernel: y = act(x·A)·B, plus a residual add or gating product where there is one",
  lowrankTail: "the next link of a longer low-rank chain: y = act(x)·B on the previous fused.lowrank's output",
  lowrankBackward: "the backward of a low-rank chain in one kernel: the gradients of x, A and B from dY",
  attention: "causal attention in one kernel: O = softmax(q·kᵀ)·v, the scores never leave it",
  attentionBackward: "the backward of attention, recomputing the scores instead of saving them (flash-style)",
  ropeHeads: "rotary position embedding on the head-split layout, with no transposes around it",
  elementwise: "a group of elementwise operations run as one loop over one shape",
  matmulAdd: "a matmul that starts from c and adds its product to it: y = a·b + c (residuals, gradient sums)",
  row: "a group of per-row operations (RMSNorm, softmax, sums over the last axis) in one pass over each row",
  matmulEpilogue: "a matmul whose product feeds an elementwise group, computed on each block while it is in cache",
};

/**
 * `%9:f32[8, 64] = matmul(%8, blocks.0.q.A)`; a fused node shows its kind, all of its outputs and its
 * inputs by role (`x=%8, A=blocks.0.q.A`). Graph inputs show their names where `names` has one.
 */
function kernelLabel(node: Node, names: ReadonlyMap<Var, string>): string {
  const show = (v: Var) => names.get(v) ?? String(v);
  const kind = isFused(node) ? `fused.${node.params.kind}` : node.prim;
  const ins = isFused(node)
    ? node.inputs.map((v, i) => `${node.params.inputNames[i] ?? "in"}=${show(v)}`)
    : node.inputs.map(show);
  return `${outsOf(node)
    .map((v) => `${v}:${showAbs(v.abs)}`)
    .join(" ")} = ${kind}(${ins.join(", ")})`;
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
 * planned unfused, so the count is of primitives whichever backend fuses what. `inputNames` names the
 * plan's graph inputs in order (params by their layout path; see updateStepInputNames); a list of the
 * wrong length is ignored, and the inputs show as `%N`.
 */
export function summarizePlan(
  plan: Plan,
  model: LanguageModel,
  batch: number,
  seq: number,
  inputNames: readonly string[] = [],
): PlanSummary {
  const inputs = plan.graph.inputs;
  const names = new Map<Var, string>(
    inputNames.length === inputs.length ? inputs.map((v, i) => [v, inputNames[i]!]) : [],
  );
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
    label: `${String(i).padStart(3)} ${kernelLabel(l.eqn, names)}${l.eqn.meta.phase === "backward" ? "  (bwd)" : ""}`,
    fused: isFused(l.eqn),
  }));
  const kinds = [...new Set(plan.launches.flatMap((l) => (isFused(l.eqn) ? [l.eqn.params.kind] : [])))];
  const legend = kinds.map((kind) => ({
    kind: `fused.${kind}`,
    text: FUSED_KIND_NOTES[kind] ?? "several operations the planner runs as one kernel",
  }));
  return { text: plan.toString(), kernels, legend, saved, recomputed, predictedPeakBytes: plan.predictedPeakBytes };
}
