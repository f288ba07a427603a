import * as E from "fp-ts/lib/Either.js";
import { loadBackend } from "../backends/index.ts";
import { resolveConfig } from "../models/config.ts";
import { makeModel } from "../methods/index.ts";
import { saveAll, saveNothing, savedResiduals, type RematPolicy } from "../passes/remat.ts";
import { colaMPolicy as colaM } from "../methods/colaM/policy.ts";
import { formatNumber } from "../util/format.ts";
import type { SuiteResult } from "./report.ts";
import { formatStat, pairedRatios, stats } from "./stats.ts";
import { frozenMask } from "../train/step.ts";
import { benchState, paramBytes } from "./training.ts";

/**
 * Per remat policy, for CoLA-LLaMA at the tiny, 60M and 130M shapes (sequence 256): predicted and
 * measured peak memory of a training step, the activations kept for backward, step time and the FLOPs
 * recomputed in backward. The step is the whole update step training runs (train/trainState.ts: loss,
 * gradients and AdamW in one plan, params and moments resident on the backend), so the peak is what a
 * training run needs above its resident state. Ratios are against saveAll, measured in the same process.
 */
const SHAPES: { config: string; batch: number }[] = [
  { config: "tiny", batch: 8 },
  { config: "60m", batch: 2 },
  { config: "130m", batch: 1 },
];
const POLICIES: RematPolicy[] = [saveAll, colaM, saveNothing];

export async function run(opts: { repeats?: number; shapes?: string[] } = {}): Promise<SuiteResult> {
  const repeats = opts.repeats ?? 11;
  const be = await loadBackend(process.env.RANKFUSE_BACKEND || "auto");
  if (E.isLeft(be)) throw new Error(be.left.message);
  const rows: (string | number)[][] = [];
  const data: unknown[] = [];
  for (const { config, batch } of SHAPES.filter((s) => !opts.shapes || opts.shapes.includes(s.config))) {
    const cfg = E.getOrElseW((e: { message: string }) => {
      throw new Error(e.message);
    })(resolveConfig(config));
    const model = E.getOrElseW((e: { message: string }) => {
      throw new Error(e.message);
    })(makeModel("cola", cfg));
    const params = model.init(0);
    const n = batch * cfg.seq;
    const ids = Int32Array.from({ length: n }, (_, i) => (i * 31) % cfg.vocab);
    const targets = Int32Array.from({ length: n }, (_, i) => (i * 17 + 3) % cfg.vocab);
    // the state a step finds on the backend (params, and AdamW's moments of the trainable ones): the plan's
    // prediction counts it, the run's own peak (bytes above what the backend held before it) does not
    const frozen = frozenMask(model);
    const resident = paramBytes(params) + 2 * paramBytes(params.filter((_, i) => !frozen[i]));
    // one training state per policy, each from the same params (its step's plan compiled up front)
    const steps = POLICIES.map((policy) => {
      const made = benchState({ ...model, remat: policy }, be.right, params, {
        batch,
        seq: cfg.seq,
        totalSteps: repeats + 1,
      });
      if (E.isLeft(made)) throw new Error(made.left.message);
      const plan = made.right.state.planAt(0);
      if (E.isLeft(plan)) throw new Error(plan.left.message);
      const act = savedResiduals(plan.right.plan.graph).reduce((sum, r) => sum + r.bytes, 0);
      return { policy, state: made.right.state, plan: plan.right.plan, act, times: [] as number[], peak: 0 };
    });
    // Round-robin over the policies, starting each round at a different one, so that a slow stretch of
    // this shared machine hits every policy alike; the first round warms up and is not timed.
    try {
      for (let round = 0; round <= repeats; round++) {
        for (let k = 0; k < steps.length; k++) {
          const s = steps[(round + k) % steps.length]!;
          const r = await s.state.step(round, ids, targets);
          if (E.isLeft(r)) throw new Error(r.left.message);
          if (round > 0) s.times.push(r.right.stats.ms);
          s.peak = Math.max(s.peak, resident + r.right.stats.peakBytes);
        }
      }
    } finally {
      for (const s of steps) s.state.dispose();
    }
    const base = steps[0]!;
    for (const { policy, plan, act, times, peak } of steps) {
      const t = stats(times);
      const slowdown = pairedRatios(times, base.times);
      const flops = plan.flops;
      const predicted = plan.predictedPeakBytes;
      rows.push([
        `${config} b${batch}`,
        policy.name,
        `${formatNumber(predicted)}B`,
        `${formatNumber(peak)}B`,
        `${((peak / predicted - 1) * 100).toFixed(1)}%`,
        `${formatNumber(act)}B`,
        `${(act / base.act).toFixed(2)}x`,
        formatStat(t, 0, " ms"),
        formatStat(slowdown, 2, "x"),
        `${formatNumber(flops - base.plan.flops)}FLOP`,
      ]);
      data.push({
        config,
        batch,
        seq: cfg.seq,
        policy: policy.name,
        predictedPeakBytes: predicted,
        measuredPeakBytes: peak,
        residentStateBytes: resident,
        savedActivationBytes: act,
        stepMs: t,
        timeVsSaveAll: slowdown,
        flops,
        recomputeFlops: flops - base.plan.flops,
      });
      process.stderr.write(
        `remat ${config} ${policy.name}: ${formatStat(t, 0, " ms")}, ${formatStat(slowdown, 2, "x")} saveAll\n`,
      );
    }
  }
  return {
    title: `remat policies on CoLA-LLaMA (${be.right.name} backend)`,
    headers: [
      "shape",
      "policy",
      "predicted peak",
      "measured peak",
      "meas/pred",
      "saved activations",
      "vs saveAll",
      "step time (median [range])",
      "vs saveAll (per round)",
      "recompute",
    ],
    rows,
    notes: [
      `${repeats} timed rounds after one warm-up round, in one process; each round runs every policy once, in rotated order, and "vs saveAll" is the median [range] of the per-round ratios; step = the whole training step (train/trainState.ts: loss, gradients and AdamW in one plan; params and AdamW's moments stay on the backend between steps, each policy its own state from the same init); measured peak = the resident state (params and moments) + the most bytes the backend held above it during a step (batch, activations, gradients, the new params and moments as the old ones are donated), as the plan's prediction counts it (its inputs included).`,
      "saved activations = forward values kept alive for backward (graph inputs excluded); recompute = extra FLOPs of the rewritten step.",
    ],
    data,
  };
}
