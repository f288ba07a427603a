/** Summary statistics of repeated measurements (runs over several seeds). */

/** The mean and spread of `n` values: `std` is the sample standard deviation (n − 1), NaN for one value. */
export interface Summary {
  readonly mean: number;
  readonly std: number;
  readonly n: number;
}

/** The arithmetic mean; NaN for no values, and NaN (or ±Infinity) when a value is. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/**
 * The sample standard deviation, √(Σ(x − mean)² / (n − 1)): NaN for fewer than two values, or when a
 * value is not finite. Two passes (mean first), so nearly equal values do not cancel into noise.
 */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  if (!Number.isFinite(m)) return NaN;
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** Mean, sample standard deviation and count of `xs`. */
export const summarize = (xs: readonly number[]): Summary => ({ mean: mean(xs), std: sampleStd(xs), n: xs.length });
