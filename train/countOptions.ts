/** The numeric options of a scheme that are counts (steps, groups), each with its least allowed value. */
export type CountOptions<O> = { readonly [K in keyof O]?: O[K] extends number | undefined ? 0 | 1 : never };

/**
 * A message for the first count option `o` sets to something other than a whole number at least its
 * minimum (1: positive, 0: non-negative), in `least`'s order, or undefined. Unset options take defaults.
 * Shared by the LoRA-based schemes so their option checks read, and fail, the same way.
 */
export function countOptionError<O extends object>(o: O, least: CountOptions<O>): string | undefined {
  for (const key of Object.keys(least) as (keyof O & string)[]) {
    const x = o[key] as number | undefined,
      min = least[key] as 0 | 1;
    if (x !== undefined && !(Number.isInteger(x) && x >= min))
      return `${key} must be a ${min === 1 ? "positive" : "non-negative"} integer, got ${x}`;
  }
  return undefined;
}
