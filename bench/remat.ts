import * as E from "fp-ts/lib/Either.js";
import { loadBackend } from "../backends/registry.ts";
import { resolveConfig } from "../models/config.ts";
import { makeModel } from "../models/model.ts";
import { colaM, saveAll, saveNothing, savedResiduals, type RematPolicy } from "../fusion/remat.ts";
import { compileTrainStep } from "../train/step.ts";
import { formatNumber } from "../train/format.ts";
import { stats, type SuiteResult } from "./report.ts";

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
  const repeats = opts.repeats ?? 3;
  const be = await loadBackend(process.env.RANKFUSE_BACKEND || "auto");
  if (E.isLeft(be)) throw new Error(be.left.message);
  const rows: (string | number)[][] = [];
  const data: unknown[] = [];
  for (const { config, batch } of SHAPES.filter((s) => !opts.shapes || opts.shapes.includes(s.config))) {
    const cfg = E.getOrElseW((e: { message: string }) => { throw new Error(e.message); })(resolveConfig(config));
    const model = E.getOrElseW((e: { message: string }) => { throw new Error(e.message); })(makeModel("cola", cfg));
    const params = model.init(0);
    const n = batch * cfg.seq;
    const ids = Int32Array.from({ length: n }, (_, i) => (i * 31) % cfg.vocab);
    const targets = Int32Array.from({ length: n }, (_, i) => (i * 17 + 3) % cfg.vocab);
    let base: { act: number; ms: number; flops: number } | undefined;
    for (const policy of POLICIES) {
      const step = compileTrainStep({ ...model, remat: policy }, be.right, batch, cfg.seq);
      if (E.isLeft(step)) throw new Error(step.left.message);
      const act = savedResiduals(step.right.plan.graph).reduce((s, r) => s + r.bytes, 0);
      const times: number[] = [];
      let peak = 0;
      for (let i = 0; i < repeats + 1; i++) {
        const r = await step.right.run(params, ids, targets);
        if (E.isLeft(r)) throw new Error(r.left.message);
        if (i > 0) times.push(r.right.stats.ms); // the first run warms up
        peak = Math.max(peak, r.right.stats.peakBytes);
      }
      const t = stats(times);
      const flops = step.right.plan.flops;
      base ??= { act, ms: t.median, flops };
      const predicted = step.right.plan.predictedPeakBytes;
      rows.push([
        `${config} b${batch}`, policy.name, `${formatNumber(predicted)}B`, `${formatNumber(peak)}B`, `${((peak / predicted - 1) * 100).toFixed(1)}%`,
        `${formatNumber(act)}B`, `${(act / base.act).toFixed(2)}x`, `${t.median.toFixed(0)} ms [${t.min.toFixed(0)}-${t.max.toFixed(0)}]`, `${(t.median / base.ms).toFixed(2)}x`, `${formatNumber(flops - base.flops)}FLOP`,
      ]);
      data.push({ config, batch, seq: cfg.seq, policy: policy.name, predictedPeakBytes: predicted, measuredPeakBytes: peak, savedActivationBytes: act, stepMs: t, flops, recomputeFlops: flops - base.flops });
      process.stderr.write(`remat ${config} ${policy.name}: ${t.median.toFixed(0)} ms\n`);
    }
  }
  return {
    title: `remat policies on CoLA-LLaMA (${be.right.name} backend)`,
    headers: ["shape", "policy", "predicted peak", "measured peak", "meas/pred", "saved activations", "vs saveAll", "step time (median [range])", "vs saveAll", "recompute"],
    rows,
    notes: [
      `${repeats} timed steps per row after one warm-up, in one process; peak = bytes the backend held during a step (params, gradients and activations; AdamW runs on the host).`,
      "saved activations = forward values kept alive for backward (graph inputs excluded); recompute = extra FLOPs of the rewritten step.",
    ],
    data,
  };
}
