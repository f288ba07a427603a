/**
 * Random host inputs for a pytree of specs: the data a property test feeds a compiled function. Floats
 * are standard normal times `scale`, rounded to float32 (so a float32 backend and the float64 reference
 * see exactly the same point); int32 inputs are uniform in [0, intMax). Deterministic in the seed.
 */
import { isBound } from "../ir/dim.ts";
import { flatten, unflatten } from "../ir/tree.ts";
import { isSpec, type HostData, type HostOf } from "../dsl/spec.ts";
import { Rng } from "../util/rng.ts";

/** How to draw inputs: sizes of unbound dims, the floats' scale, the ints' range. */
export interface InputOptions {
  /** Sizes of the specs' unbound dims, as compile's `dims`. */
  readonly dims?: Readonly<Record<string, number>>;
  /** Standard deviation of float inputs (default 1). */
  readonly scale?: number;
  /** int32 inputs are drawn from [0, intMax) (default 2; set it to the table size for gather indices). */
  readonly intMax?: number;
}

/** Is this a host array (a leaf of the inputs `run` takes)? */
export const isHostData = (x: unknown): x is HostData =>
  x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array;

/**
 * Random inputs for `args` (a pytree of specs), from `seed`: a Float32Array per float leaf, an
 * Int32Array per int32 leaf. Throws an Error naming an unbound dim that `opts.dims` does not size.
 */
export function randomInputs<const A>(args: A, seed: number, opts: InputOptions = {}): HostOf<A> {
  const { dims = {}, scale = 1, intMax = 2 } = opts;
  const rng = Rng.fromSeed(seed);
  const { leaves, def } = flatten(args, isSpec);
  const data = leaves.map((s) => {
    const n = s.dims.reduce((p, d) => {
      const size = isBound(d) ? d.size : dims[d.name];
      if (size === undefined)
        throw new Error(`randomInputs: dim "${d.name}" has no size: pass dims: { ${d.name}: <size> }`);
      return p * size;
    }, 1);
    return s.dtype === "int32"
      ? Int32Array.from({ length: n }, () => rng.nextInt(intMax))
      : Float32Array.from({ length: n }, () => scale * rng.normal());
  });
  return unflatten(def, data) as HostOf<A>;
}

/** The same inputs in the precision a backend computes in: float leaves as Float64Array when `float64`, else Float32Array. */
export function inPrecision<T>(inputs: T, float64: boolean): T {
  const { leaves, def } = flatten(inputs, isHostData);
  const cast = (x: HostData): HostData =>
    x instanceof Int32Array ? x : float64 ? Float64Array.from(x) : x instanceof Float32Array ? x : Float32Array.from(x);
  return unflatten(def, leaves.map(cast)) as T;
}
