import * as E from "fp-ts/lib/Either.js";
import { loadBackend } from "../backends/index.ts";
import { resolveConfig, type ConfigOverrides } from "../models/config.ts";
import { makeModel } from "../methods/index.ts";
import { formatNumber } from "../util/format.ts";
import { frozenMask } from "../train/step.ts";
import { scalingCharts } from "./scalingCharts.ts";
import type { SuiteResult } from "./report.ts";
import { formatStat, stats, type Stat } from "./stats.ts";
import { benchState, paramBytes } from "./training.ts";

/**
 * How a training step (forward, backward and AdamW: train/trainState.ts's whole step, as training runs
 * it) grows with tokens per step, width and rank, for full-rank LLaMA, CoLA and CoLA-M, with the
 * analytic FLOPs (3 × forward FLOPs per token × tokens) beside the measured time, and the backend's
 * peak live bytes (the resident params and moments included). Small 2-layer models, so it stays in minutes; plotted
 * log-log, where a power law is a line whose slope is its exponent.
 */
const METHODS = ["full", "cola", "colaM"] as const;
const LAYERS = 2,
  SEQ = 256;
const ffOf = (d: number) => Math.round((d * 2.6875) / 8) * 8; // tiny/small's d_ff/d (688/256)

interface Point {
  sweep: "tokens" | "width" | "rank";
  x: number;
  method: string;
  overrides: ConfigOverrides;
}

function points(quick: boolean): Point[] {
  const out: Point[] = [];
  const batches = quick ? [1, 4] : [1, 2, 4, 8, 16];
  const widths = quick ? [128, 256] : [128, 256, 512, 768];
  const ranks = quick ? [32, 64] : [16, 32, 64, 128, 256];
  const tiny = { layers: LAYERS, seq: SEQ, d: 256, heads: 4, dFF: 688, rank: 64 };
  for (const m of METHODS)
    for (const b of batches) out.push({ sweep: "tokens", x: b * SEQ, method: m, overrides: { ...tiny, batch: b } });
  for (const m of METHODS)
    for (const d of widths)
      out.push({
        sweep: "width",
        x: d,
        method: m,
        overrides: { ...tiny, batch: 2, d, heads: d / 64, dFF: ffOf(d), rank: d / 4 },
      });
  for (const m of METHODS.filter((m) => m !== "full"))
    for (const r of ranks) out.push({ sweep: "rank", x: r, method: m, overrides: { ...tiny, batch: 2, rank: r } });
  return out;
}

const unwrap = <T>(e: E.Either<{ message: string }, T>): T => {
  if (E.isLeft(e)) throw new Error(e.left.message);
  return e.right;
};

export async function run(opts: { quick?: boolean; repeats?: number } = {}): Promise<SuiteResult> {
  const quick = opts.quick ?? false;
  const repeats = opts.repeats ?? (quick ? 2 : 3);
  const be = unwrap(await loadBackend(process.env.RANKFUSE_BACKEND || "auto"));
  const rows: (string | number)[][] = [];
  const results: {
    point: Point;
    tokens: number;
    params: number;
    analyticFlops: number;
    plannedFlops: number;
    stepMs: Stat;
    peakBytes: number;
    predictedPeakBytes: number;
    gflops: Stat;
  }[] = [];
  for (const p of points(quick)) {
    const cfg = unwrap(resolveConfig("tiny", p.overrides));
    const model = unwrap(makeModel(p.method, cfg));
    const params = model.init(0);
    const { state } = unwrap(
      benchState(model, be, params, { batch: cfg.batch, seq: cfg.seq, totalSteps: repeats + 1 }),
    );
    const plan = unwrap(state.planAt(0)).plan;
    // params and the trainable ones' moments, on the backend before the step (its own peak leaves them out)
    const frozen = frozenMask(model);
    const resident = paramBytes(params) + 2 * paramBytes(params.filter((_, i) => !frozen[i]));
    const n = cfg.batch * cfg.seq;
    const ids = Int32Array.from({ length: n }, (_, i) => (i * 31) % cfg.vocab);
    const targets = Int32Array.from({ length: n }, (_, i) => (i * 17 + 3) % cfg.vocab);
    const ms: number[] = [];
    let peak = 0;
    try {
      for (let i = 0; i <= repeats; i++) {
        const r = unwrap(await state.step(i, ids, targets));
        if (i > 0) ms.push(r.stats.ms); // run 0 warms up
        peak = Math.max(peak, resident + r.stats.peakBytes);
      }
    } finally {
      state.dispose();
    }
    const analytic = 3 * model.forwardFlopsPerToken * n;
    const t = stats(ms),
      g = stats(ms.map((x) => analytic / (x / 1000) / 1e9));
    results.push({
      point: p,
      tokens: n,
      params: model.counts.total,
      analyticFlops: analytic,
      plannedFlops: plan.flops,
      stepMs: t,
      peakBytes: peak,
      predictedPeakBytes: resident + plan.predictedPeakBytes,
      gflops: g,
    });
    rows.push([
      p.sweep,
      p.method,
      n,
      cfg.d,
      cfg.rank,
      formatNumber(model.counts.total),
      `${formatNumber(analytic)}FLOP`,
      `${formatNumber(plan.flops)}FLOP`,
      formatStat(t, 1),
      formatStat(g, 1),
      `${formatNumber(peak)}B`,
    ]);
    process.stderr.write(
      `scaling ${p.sweep} ${p.method} x=${p.x}: ${t.median.toFixed(1)} ms, ${g.median.toFixed(1)} GFLOP/s, peak ${formatNumber(peak)}B\n`,
    );
  }
  const charts = scalingCharts(results, LAYERS);
  return {
    title: `scaling: step time and peak memory vs tokens, width and rank (${be.name} backend, ${LAYERS} layers, seq ${SEQ})`,
    headers: [
      "sweep",
      "method",
      "tokens/step",
      "d",
      "rank",
      "params",
      "analytic FLOPs (3×fwd)",
      "planned FLOPs",
      "step ms",
      "GFLOP/s (analytic/time)",
      "peak",
    ],
    rows,
    notes: [
      `step = one whole training step (train/trainState.ts: forward, backward and AdamW in one plan, constant lr, no clipping; params and moments stay on the backend) on ${be.describe()}; ${repeats} timed runs after one warm-up, median [min-max], in one process.`,
      "analytic FLOPs = 3 × LanguageModel.forwardFlopsPerToken × tokens (matmul weights and attention); planned FLOPs = the compiled plan's own count (includes CoLA-M's recompute, the elementwise work and AdamW's).",
      "peak = the backend's peak live bytes during a step (the resident params and AdamW moments, the batch, gradients, activations), per point (process RSS only grows, so it cannot separate points).",
      "full rank has no rank; the rank sweep is CoLA and CoLA-M only. Width: heads = d/64, d_ff = 2.6875 d, rank = d/4.",
    ],
    charts,
    data: { backend: be.name, layers: LAYERS, seq: SEQ, repeats, points: results },
  };
}
