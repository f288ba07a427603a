/**
 * The spread of per-step training throughput: a run's mean tokens/s hides how much steps vary (a
 * garbage-collection pause, a scheme's periodic merge), which a report shows as a min–max bar.
 */

/** Tokens per second over a run's timed steps: the slowest, the 10th, 50th and 90th percentiles, the fastest. */
export interface StepRate {
  readonly min: number;
  readonly p10: number;
  readonly median: number;
  readonly p90: number;
  readonly max: number;
  /** How many steps were timed (each session's warm-up step is not). */
  readonly steps: number;
}

/** The `q` quantile (0..1) of ascending `sorted`, interpolating between neighbours. */
const quantile = (sorted: readonly number[], q: number): number => {
  const at = q * (sorted.length - 1),
    lo = Math.floor(at);
  return lo + 1 < sorted.length ? sorted[lo] + (at - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
};

/** The spread of tokens/s over steps that took `stepMs` milliseconds each; undefined where no step was timed. */
export function stepRate(stepMs: readonly number[], tokensPerStep: number): StepRate | undefined {
  const rates = stepMs.filter((ms) => ms > 0 && Number.isFinite(ms)).map((ms) => (tokensPerStep * 1000) / ms);
  if (rates.length === 0) return undefined;
  const s = rates.sort((a, b) => a - b);
  return {
    min: s[0],
    p10: quantile(s, 0.1),
    median: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    max: s[s.length - 1],
    steps: s.length,
  };
}
