/**
 * Gradient checks along one random direction (JAX's check_grads, PyTorch's gradcheck): the analytic
 * directional derivative ⟨∇f(p), v⟩ from `valueAndGrad` on any backend, against a float64 central
 * difference of f along v on the reference backend. One direction through every parameter tests every
 * component at once, and costs four extra evaluations of f at any size.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../ir/backend.ts";
import type { RankfuseError } from "../ir/errors.ts";
import { flatten, unflatten } from "../ir/tree.ts";
import { isSpec, type HostData, type HostOf, type TensorsOf } from "../dsl/spec.ts";
import type { Tensor } from "../dsl/trace.ts";
import { valueAndGrad } from "../dsl/autodiff.ts";
import { compile } from "../run/compile.ts";
import { referenceBackend } from "../backends/reference/backend.ts";
import { Rng } from "../util/rng.ts";
import { absDot, centralDifference4, dot } from "./directional.ts";
import { unwrap } from "./unwrap.ts";

/** How to check: where the analytic gradient runs, the difference step, the direction's seed, tolerances. */
export interface GradCheckOptions {
  /** Backend that computes the analytic gradient (default: the float64 reference backend). */
  readonly backend?: Backend<any>;
  /** Step along the direction (default 1e-4; the difference is fourth order, so its error is O(h⁴)). */
  readonly h?: number;
  /** Seed of the random direction: standard normal entries on every float leaf of the first argument (default 0). */
  readonly seed?: number;
  /** Sizes of unbound dims in `args`, as compile's `dims`. */
  readonly dims?: Readonly<Record<string, number>>;
  /** Allowed |analytic - numeric| relative to Σ|∂ᵢf·vᵢ| (default 1e-6 on a float64 backend, 1e-3 on float32). */
  readonly rtol?: number;
  /** Allowed absolute |analytic - numeric| (default 1e-8 on a float64 backend, 1e-5 on float32). */
  readonly atol?: number;
}

/** The two directional derivatives a check compares, and the scale its tolerance is relative to. */
export interface DirectionalDerivatives {
  /** ⟨∇f, v⟩ from the compiled gradient. */
  readonly analytic: number;
  /** (f(p + hv) − f(p − hv)) / 2h, fourth order, in float64. */
  readonly numeric: number;
  /** Σ|∂ᵢf·vᵢ|: the size of the derivative before cancellation. */
  readonly scale: number;
}

/** A scalar function of a parameter pytree (the first argument, differentiated) and further inputs. */
export type ScalarFn<A extends readonly unknown[]> = (...args: TensorsOf<A>) => Tensor<readonly []>;

const isData = (x: unknown): x is HostData =>
  x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array;

/** A compiled function seen through its flat host interface. */
type Runnable = { run(...host: unknown[]): Promise<E.Either<RankfuseError, { out: unknown }>> };

/**
 * The analytic and numeric derivatives of `f` at `inputs` along a random direction through the float
 * leaves of the first argument. `args` are the specs `compile` takes; `inputs` the host arrays `run` takes.
 */
export async function directionalDerivatives<const A extends readonly [unknown, ...unknown[]]>(
  f: ScalarFn<A>,
  args: A,
  inputs: HostOf<A>,
  opts: GradCheckOptions = {},
): Promise<DirectionalDerivatives> {
  const { backend = referenceBackend(), h = 1e-4, seed = 0, dims } = opts;
  const fn = f as unknown as (p: unknown, ...rest: unknown[]) => Tensor<readonly []>;
  const compileOn = (g: (p: unknown, ...rest: unknown[]) => unknown, be: Backend<any>): Runnable =>
    unwrap(compile(g as (...xs: TensorsOf<A>) => unknown, { args, backend: be, dims })) as unknown as Runnable;
  const run = async (c: Runnable, host: readonly unknown[]): Promise<unknown> => unwrap(await c.run(...host)).out;

  const [, gradTree] = (await run(
    compileOn((p, ...rest) => valueAndGrad(fn)(p, ...rest), backend),
    inputs as readonly unknown[],
  )) as [unknown, unknown];
  const grads = flatten(gradTree, isData).leaves.map((g) => Float64Array.from(g));

  const nParams = flatten(args[0], isSpec).leaves.length;
  const { leaves, def } = flatten(inputs, isData);
  const params = leaves.slice(0, nParams);
  const rest = leaves.slice(nParams).map((x) => (x instanceof Int32Array ? x : Float64Array.from(x)));
  const rng = Rng.fromSeed(seed);
  const v = params.map((p) =>
    p instanceof Int32Array ? new Float64Array(p.length) : Float64Array.from(p, () => rng.normal()),
  );
  const loss = compileOn(fn, referenceBackend());
  const at = async (s: number): Promise<number> => {
    const shifted = params.map((p, i) =>
      p instanceof Int32Array ? p : Float64Array.from(p, (x, j) => x + s * h * v[i]![j]!),
    );
    return ((await run(loss, unflatten(def, [...shifted, ...rest]) as unknown[])) as Float64Array)[0]!;
  };
  return { analytic: dot(grads, v), numeric: await centralDifference4(at, h), scale: absDot(grads, v) };
}

/**
 * Checks the gradient of `f` with respect to its first argument against float64 central differences
 * along a random direction; throws an Error with both figures when |analytic − numeric| exceeds
 * atol + rtol·Σ|∂ᵢf·vᵢ|, and returns them otherwise.
 *
 *   checkGrads((p, x) => mean(square(colaLinear(x, p))), [{ A: spec([d, r]), B: spec([r, d]) }, spec([n, d])], [{ A, B }, x])
 */
export async function checkGrads<const A extends readonly [unknown, ...unknown[]]>(
  f: ScalarFn<A>,
  args: A,
  inputs: HostOf<A>,
  opts: GradCheckOptions = {},
): Promise<DirectionalDerivatives> {
  const d = await directionalDerivatives(f, args, inputs, opts);
  const float64 = (opts.backend ?? referenceBackend()).caps.float64;
  const { rtol = float64 ? 1e-6 : 1e-3, atol = float64 ? 1e-8 : 1e-5 } = opts;
  const err = Math.abs(d.analytic - d.numeric);
  if (!(err <= atol + rtol * d.scale)) {
    throw new Error(
      `gradient check failed: <grad, v> = ${d.analytic} but the float64 central difference is ${d.numeric} ` +
        `(|difference| ${err.toExponential(2)} > atol ${atol} + rtol ${rtol} * ${d.scale.toExponential(2)})`,
    );
  }
  return d;
}
