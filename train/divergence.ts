/**
 * Divergence: how a non-finite step (train/trainState.ts's `nonFinite`) and non-finite weights are
 * worded, the same in the CLI's loop, the playground, `eval` and `export`.
 */
import type { NonFinite } from "./trainState.ts";

/** "training diverged at step 3: the loss is NaN" (`step` 1-based: the update that would have made it). */
export function divergedAt(step: number, bad: NonFinite): string {
  const what = bad.what === "params" ? "the update made the params non-finite" : `the ${bad.what} is ${bad.value}`;
  return `training diverged at step ${step}: ${what}`;
}

/** Where a set of weights is not finite: the first tensor that has a NaN or an infinity, and how many in all. */
export interface NonFiniteWeights {
  /** The first tensor (layout order) with a non-finite value. */
  readonly name: string;
  /** Non-finite values over every tensor. */
  readonly count: number;
  /** Values over every tensor. */
  readonly total: number;
}

/** The non-finite values of `values` (named by `names`), or undefined when every value is finite. */
export function nonFiniteWeights(
  names: readonly string[],
  values: readonly ArrayLike<number>[],
): NonFiniteWeights | undefined {
  let [count, total, first] = [0, 0, -1];
  values.forEach((a, i) => {
    total += a.length;
    for (let j = 0; j < a.length; j++)
      if (!Number.isFinite(a[j]!)) {
        count++;
        if (first < 0) first = i;
      }
  });
  return count ? { name: names[first] ?? `#${first}`, count, total } : undefined;
}

/** "12 of 20.4k values are NaN or infinite (the first in layers.0.attn.q)". */
export const describeNonFinite = (w: NonFiniteWeights): string =>
  `${w.count} of ${w.total} values are NaN or infinite (the first in ${w.name})`;
