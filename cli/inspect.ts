import * as E from "fp-ts/lib/Either.js";
import { renderError } from "../ir/errors.ts";
import { METHODS } from "../methods/index.ts";
import { resolveModel } from "../methods/resolve.ts";
import { compileTrainStep, planTrainStep } from "../train/step.ts";
import { planUpdateStep } from "../train/updateStep.ts";
import { loadBackend } from "../backends/index.ts";
import { formatNumber } from "../util/format.ts";
import { aliasedFlag, choiceFlag, intFlag, parseFlags, UsageError } from "./args.ts";
import type { Plan } from "../passes/plan.ts";
import { chainCapsOf } from "../passes/targetCaps.ts";
import { isFused } from "../ir/graph.ts";
import { saveAll, saveNothing, savedResiduals, type RematPolicy } from "../passes/remat.ts";
import { colaMPolicy as colaM } from "../methods/colaM/policy.ts";
import type { LanguageModel } from "../models/model.ts";

const POLICIES: Record<string, RematPolicy> = { saveAll, saveNothing, colaM };

/** Predicted peak, saved activations and recompute FLOPs of a policy next to storing everything. */
function printRemat(m: LanguageModel, policyName: string, batch: number, seq: number) {
  const joint = planTrainStep(m, batch, seq, { remat: undefined });
  const withPolicy = planTrainStep(m, batch, seq, { remat: POLICIES[policyName]! });
  if (E.isLeft(joint) || E.isLeft(withPolicy)) return;
  const [base, rewritten] = [joint.right, withPolicy.right];
  const show = (name: string, p: typeof base) => {
    const saved = savedResiduals(p.graph);
    const bytes = saved.reduce((s, r) => s + r.bytes, 0);
    console.log(
      `  ${name.padEnd(12)} predicted peak ${formatNumber(p.predictedPeakBytes).padStart(6)}B, saved activations ${formatNumber(bytes).padStart(6)}B in ${String(saved.length).padStart(4)} tensors, ${formatNumber(p.flops)}FLOP`,
    );
    return saved;
  };
  console.log(`\nremat (batch ${batch} x seq ${seq}):`);
  show("saveAll", base);
  const saved = show(policyName, rewritten);
  const names = new Map<string, number>();
  for (const r of saved)
    names.set(r.name.replace(/ %\d+$/, ""), (names.get(r.name.replace(/ %\d+$/, "")) ?? 0) + r.bytes);
  console.log(
    `  ${policyName} saves: ${[...names.entries()].map(([n, b]) => `${n} ${formatNumber(b)}B`).join(", ")}; recomputes ${formatNumber(rewritten.flops - base.flops)}FLOP in backward`,
  );
}
import { MODEL_FLAGS, MODEL_HELP, modelConfigFrom } from "./trainFlags.ts";

const HELP = `rankfuse inspect: a model's parameters, FLOPs per token and the plan of one training step
(traced and planned only: nothing is allocated or run, so paper-size configs are fine)

  --model NAME         ${METHODS.join(" | ")} (default cola; --method NAME says the same),
                       or a method file of your own, ./my-method.ts
${MODEL_HELP}
  --batch B --seq T    the step to plan (default 1 x the config's seq)
  --remat POLICY       also plan with a remat policy (saveAll | saveNothing | colaM) and list what it saves
  --measure            with --remat: run one training step per policy on --backend and print the measured peak
  --fusion on|off      plan with low-rank chain fusion as --backend's caps allow (default off)
  --backend NAME       backend for --measure and --fusion (default auto)
  --verbose            print every kernel launch of the plan`;

/** The plan fused for a backend's caps, with its fused kernels summed up by kind (FLOPs, bytes moved). */
async function fusedPlan(
  m: LanguageModel,
  plan: Plan,
  batch: number,
  seq: number,
  backendName?: string,
): Promise<Plan> {
  const be = await loadBackend(backendName || undefined);
  if (E.isLeft(be)) throw new UsageError(renderError(be.left));
  const caps = chainCapsOf(be.right.caps);
  if (!caps) {
    console.log(`
fusion: the ${be.right.name} backend has no fused chain kernels (caps), so the plan is unchanged`);
    return plan;
  }
  const planned = planTrainStep(m, batch, seq, { caps: be.right.caps });
  if (E.isLeft(planned)) throw new UsageError(renderError(planned.left));
  const fused = planned.right;
  const byKind = new Map<string, { n: number; flops: number; bytes: number }>();
  for (const l of fused.launches) {
    if (!isFused(l.eqn)) continue;
    const k = byKind.get(l.eqn.params.kind) ?? { n: 0, flops: 0, bytes: 0 };
    byKind.set(l.eqn.params.kind, { n: k.n + 1, flops: k.flops + l.flops, bytes: k.bytes + l.bytes });
  }
  console.log(`
fused for ${be.right.name} (max rank ${caps.maxRank}): ${fused.kernelCount} kernels (was ${plan.kernelCount}), ${formatNumber(fused.bytesMoved)}B moved (was ${formatNumber(plan.bytesMoved)}B), predicted peak ${formatNumber(fused.predictedPeakBytes)}B (was ${formatNumber(plan.predictedPeakBytes)}B)`);
  for (const [kind, k] of byKind)
    console.log(
      `  fused.${kind.padEnd(16)} ${String(k.n).padStart(4)} kernels, ${formatNumber(k.flops)}FLOP, ${formatNumber(k.bytes)}B moved`,
    );
  return fused;
}

/** One real training step per policy: the backend's measured peak next to the plan's prediction. */
async function measureRemat(m: LanguageModel, policies: string[], batch: number, seq: number, backendName?: string) {
  const be = await loadBackend(backendName || undefined);
  if (E.isLeft(be)) throw new UsageError(renderError(be.left));
  const params = m.init(0);
  const ids = Int32Array.from({ length: batch * seq }, (_, i) => (i * 31) % m.config.vocab);
  console.log(`  measured on ${be.right.name} (one step each):`);
  for (const name of policies) {
    const step = compileTrainStep({ ...m, remat: POLICIES[name] }, be.right, batch, seq);
    if (E.isLeft(step)) return console.error(renderError(step.left));
    const r = await step.right.run(params, ids, ids);
    if (E.isLeft(r)) return console.error(renderError(r.left));
    const { peakBytes, ms } = r.right.stats;
    console.log(
      `  ${name.padEnd(12)} measured peak ${formatNumber(peakBytes).padStart(6)}B (predicted ${formatNumber(step.right.plan.predictedPeakBytes)}B), ${ms.toFixed(0)} ms`,
    );
  }
}

export async function inspectCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    ...MODEL_FLAGS,
    model: { type: "string" },
    method: { type: "string" },
    remat: { type: "string" },
    measure: { type: "boolean" },
    backend: { type: "string" },
    batch: { type: "string" },
    seq: { type: "string" },
    verbose: { type: "boolean" },
    fusion: { type: "string" },
  });
  if (values.help) return (console.log(HELP), 0);
  const cfg = modelConfigFrom(values);
  const model = await resolveModel(aliasedFlag(values, "model", "method") ?? "cola", cfg);
  if (E.isLeft(model)) throw new UsageError(renderError(model.left));
  const m = model.right.model;
  const batch = intFlag(values.batch, "batch", 1),
    seq = intFlag(values.seq, "seq", cfg.seq);
  console.log(
    `${m.method} ${cfg.name}: vocab ${cfg.vocab}, d ${cfg.d}, ${cfg.heads} heads, ${cfg.layers} layers, d_ff ${cfg.dFF}${m.method !== "full" ? `, rank ${cfg.rank}, only_lr_act ${cfg.onlyLrAct}` : ""}`,
  );
  console.log(
    `parameters: ${formatNumber(m.counts.total)} total = ${formatNumber(m.counts.embedding)} embedding (input + LM head) + ${formatNumber(m.counts.nonEmbedding)} non-embedding  (${m.counts.total.toLocaleString("en-US")})`,
  );
  console.log(
    `FLOPs per token at seq ${cfg.seq}: ${formatNumber(m.forwardFlopsPerToken)} forward, ${formatNumber(3 * m.forwardFlopsPerToken)} training (forward + backward)`,
  );
  const planned = planTrainStep(m, batch, seq);
  if (E.isLeft(planned)) return (console.error(renderError(planned.left)), 1);
  const plan = planned.right;
  const byPrim = new Map<string, number>();
  for (const l of plan.launches) byPrim.set(l.eqn.prim, (byPrim.get(l.eqn.prim) ?? 0) + 1);
  console.log(
    `\nplan of one training step (batch ${batch} x seq ${seq}, float32): ${plan.kernelCount} kernels, ${formatNumber(plan.flops)}FLOP, ${formatNumber(plan.bytesMoved)}B moved, predicted peak ${formatNumber(plan.predictedPeakBytes)}B`,
  );
  const whole = planUpdateStep(m, batch, seq);
  if (E.isLeft(whole)) return (console.error(renderError(whole.left)), 1);
  console.log(
    `with clipping and AdamW on the backend, as training runs it: ${whole.right.kernelCount} kernels, ${formatNumber(whole.right.flops)}FLOP, predicted peak ${formatNumber(whole.right.predictedPeakBytes)}B (params and both moments included)`,
  );
  console.log(
    `kernels by primitive: ${[...byPrim.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([p, n]) => `${p} ${n}`)
      .join(", ")}`,
  );
  if (values.remat) {
    const policy = choiceFlag(values.remat, "remat", Object.keys(POLICIES) as (keyof typeof POLICIES)[], "colaM");
    printRemat(m, policy, batch, seq);
    if (values.measure) await measureRemat(m, ["saveAll", policy], batch, seq, values.backend);
  } else if (values.measure) throw new UsageError("--measure goes with --remat POLICY");
  const fusion = choiceFlag(values.fusion, "fusion", ["on", "off"] as const, "off");
  const shown = fusion === "on" ? await fusedPlan(m, plan, batch, seq, values.backend) : plan;
  if (values.verbose) console.log(`\n${shown.toString()}`);
  else console.log("(--verbose prints every launch)");
  return 0;
}
