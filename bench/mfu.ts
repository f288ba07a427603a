import type { LanguageModel } from "../models/model.ts";
import type { Stat } from "./stats.ts";

/**
 * Model FLOPs utilisation of a training step: the model's analytic training FLOPs per token
 * (3 × LanguageModel.forwardFlopsPerToken: forward, and a backward of twice its cost) times tokens/s,
 * over the GEMM peak measured in the same run (bench/gemmPeak.ts). Recomputation (CoLA-M) and
 * elementwise work are not model FLOPs, so they lower MFU rather than raise it; attention counts in full
 * (4·seq·d per layer), so a causal kernel that skips the masked half raises it.
 */
export const trainFlopsPerToken = (model: Pick<LanguageModel, "forwardFlopsPerToken">): number =>
  3 * model.forwardFlopsPerToken;

/** MFU (a fraction) of each figure of a tokens/s Stat: median, min and max scale alike. */
export function mfu(tokensPerSec: Stat, flopsPerToken: number, peakGflops: number): Stat {
  const f = (tps: number) => (tps * flopsPerToken) / (peakGflops * 1e9);
  return { median: f(tokensPerSec.median), min: f(tokensPerSec.min), max: f(tokensPerSec.max), n: tokensPerSec.n };
}

/** "12.3% [11.9-12.8]"; n/a for a Stat with no figures or a peak that was not measured. */
export const formatMfu = (s: Stat | undefined, digits = 1): string =>
  !s || s.n === 0 || !Number.isFinite(s.median)
    ? "n/a"
    : `${(s.median * 100).toFixed(digits)}% [${(s.min * 100).toFixed(digits)}-${(s.max * 100).toFixed(digits)}]`;
