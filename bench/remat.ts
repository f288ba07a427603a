import * as E from "fp-ts/lib/Either.js";
import { loadBackend } from "../backends/index.ts";
import { resolveConfig } from "../models/config.ts";
import { makeModel } from "../methods/index.ts";
import { saveAll, saveNothing, savedResiduals, type RematPolicy } from "../passes/remat.ts";
import { colaMPolicy as colaM } from "../methods/colaM/policy.ts";
import { compileTrainStep } from "../train/step.ts";
import { formatNumber } from "../util/format.ts";
import type { SuiteResult } from "./report.ts";
import { formatStat, pairedRatios, stats } from "./stats.ts";

/**
 * Per remat policy, for CoLA-LLaMA at the tiny, 60M and 130M shapes (sequence 256): predicted and
 * measured peak memory of a training step, the activations kept for backward, step time and the FLOPs
 * recomputed in backward. Ratios are against saveAll, measured in the same process.
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
    const steps = POLICIES.map((policy) => {
      const step = compileTrainStep({ ...model, remat: policy }, be.right, batch, cfg.seq);
      if (E.isLeft(step)) throw new Error(step.left.message);
      const act = savedResiduals(step.right.plan.graph).reduce((sum, r) => sum + r.bytes, 0);
      return { policy, step: step.right, act, times: [] as number[], peak: 0 };
    });
    // Round-robin over the policies, starting each round at a different one, so that a slow stretch of
    // this shared machine hits every policy alike; the first round warms up and is not timed.
    for (let round = 0; round <= repeats; round++) {
      for (let k = 0; k < steps.length; k++) {
        const s = steps[(round + k) % steps.length]!;
        const r = await s.step.run(params, ids, targets);
        if (E.isLeft(r)) throw new Error(r.left.message);
        if (round > 0) s.times.push(r.right.stats.ms);
        s.peak = Math.max(s.peak, r.right.stats.peakBytes);
      }
    }
    const base = steps[0]!;
    for (const { policy, step, act, times, peak } of steps) {
      const t = stats(times);
      const slowdown = pairedRatios(times, base.times);
      const flops = step.plan.flops;
      const predicted = step.plan.predictedPeakBytes;
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
        `${formatNumber(flops - base.step.plan.flops)}FLOP`,
      ]);
      data.push({
        config,
        batch,
        seq: cfg.seq,
        policy: policy.name,
        predictedPeakBytes: predicted,
        measuredPeakBytes: peak,
        savedActivationBytes: act,
        stepMs: t,
        timeVsSaveAll: slowdown,
        flops,
        recomputeFlops: flops - base.step.plan.flops,
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
      `${repeats} timed rounds after one warm-up round, in one process; each round runs every policy once, in rotated order, and "vs saveAll" is the median [range] of the per-round ratios; peak = bytes the backend held during a step (params, gradients and activations; AdamW runs on the host).`,
      "saved activations = forward values kept alive for backward (graph inputs excluded); recompute = extra FLOPs of the rewritten step.",
    ],
    data,
  };
}
