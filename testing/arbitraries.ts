/**
 * fast-check arbitraries and properties over rankfuse functions: random inputs for a pytree of specs
 * (optionally at random sizes of its unbound dims), and `forAllInputs`, which turns an equivalence
 * check (./equivalence.ts) into a property for `fc.assert`. Counterexamples print as their seed and
 * dims, not as arrays of numbers; rerun one with `randomInputs(args, seed, { dims })`.
 */
import fc from "fast-check";
import type { HostOf } from "../dsl/spec.ts";
import { randomInputs, type InputOptions } from "./inputs.ts";

/** One draw of inputs: the arrays, the sizes of unbound dims they were drawn at, and the seed that made them. */
export interface DrawnInputs<A> {
  readonly inputs: HostOf<A>;
  readonly dims: Readonly<Record<string, number>>;
  readonly seed: number;
}

/** Options of `inputsFor`: fixed dims or an arbitrary of them (random shapes), the floats' scale, the ints' range. */
export interface InputArbitraryOptions extends Omit<InputOptions, "dims"> {
  /** Sizes of unbound dims: fixed, or drawn (`fc.record({ n: fc.integer({ min: 1, max: 8 }) })`). */
  readonly dims?: Readonly<Record<string, number>> | fc.Arbitrary<Readonly<Record<string, number>>>;
}

/**
 * Random inputs for `args` (a pytree of specs): standard normal floats (rounded to float32), ints in
 * [0, intMax), at fixed or drawn sizes of the unbound dims. Shrinking moves the seed and the dims.
 */
export function inputsFor<const A>(args: A, opts: InputArbitraryOptions = {}): fc.Arbitrary<DrawnInputs<A>> {
  const { dims = {}, ...rest } = opts;
  const dimsArb = isArbitrary(dims) ? dims : fc.constant(dims);
  return fc.tuple(dimsArb, fc.integer({ min: 0, max: 2 ** 31 - 1 })).map(([d, seed]) => ({
    inputs: randomInputs(args, seed, { ...rest, dims: d }),
    dims: d,
    seed,
    [fc.toStringMethod]: () => `inputs of seed ${seed}${Object.keys(d).length ? ` at dims ${JSON.stringify(d)}` : ""}`,
  }));
}

const isArbitrary = <T>(x: T | fc.Arbitrary<T>): x is fc.Arbitrary<T> =>
  typeof (x as { generate?: unknown }).generate === "function";

/** A check at given inputs and dims that carries its specs: what the equivalences return. */
export interface InputCheck<A> {
  (inputs: HostOf<A>, dims?: Readonly<Record<string, number>>): Promise<unknown>;
  readonly args: A;
}

/**
 * The property "the check passes for every input": for `fc.assert`, which reports the first failing
 * draw (its seed and dims) with the check's closeness report.
 *
 *   await fc.assert(forAllInputs(fusedMatchesUnfused(layer, args, { backend })), { numRuns: 10 });
 */
export function forAllInputs<A>(
  check: InputCheck<A>,
  opts: InputArbitraryOptions = {},
): fc.IAsyncPropertyWithHooks<[DrawnInputs<A>]> {
  return fc.asyncProperty(inputsFor(check.args, opts), async ({ inputs, dims }) => {
    await check(inputs, Object.keys(dims).length ? dims : undefined);
  });
}
