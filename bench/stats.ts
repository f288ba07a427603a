/**
 * The statistics every suite reports: a median with its range over repeats (these shared machines drift,
 * so never a single figure), and ratios taken inside one run so that drift cancels.
 */
export interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** Median and range of repeated measurements; NaN figures (a failed repeat) are dropped, none at all gives NaN. */
export function stats(xs: readonly number[]): Stat {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = s.length >> 1;
  return {
    median: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2,
    min: s[0]!,
    max: s[s.length - 1]!,
    n: s.length,
  };
}

/** "1234 [1100-1300]": the median with its range, `digits` after the point. */
export const formatStat = (s: Stat, digits = 0, unit = ""): string =>
  s.n === 0 ? "n/a" : `${s.median.toFixed(digits)}${unit} [${s.min.toFixed(digits)}-${s.max.toFixed(digits)}]`;

/** a/b of two medians measured in the same run, as "1.23x"; n/a when either is missing. */
export function ratioOfMedians(a: Stat | undefined, b: Stat | undefined): number {
  return a && b && a.n > 0 && b.n > 0 && b.median !== 0 ? a.median / b.median : NaN;
}

export const formatRatio = (r: number, digits = 2): string => (Number.isFinite(r) ? `${r.toFixed(digits)}x` : "n/a");

/** Per-repeat ratios a[i]/b[i] (repeats interleaved, so each pair saw the same machine state), as a Stat. */
export function pairedRatios(a: readonly number[], b: readonly number[]): Stat {
  const n = Math.min(a.length, b.length);
  return stats(Array.from({ length: n }, (_, i) => a[i]! / b[i]!));
}
