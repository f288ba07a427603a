/**
 * Gradient checks along one random direction (JAX's check_grads, PyTorch's gradcheck): the analytic
 * directional derivative ⟨∇f(p), v⟩ from `valueAndGrad` on any backend, against a float64 central
 * difference of f along v on the reference backend. One direction through every parameter tests every
 * component at once, and costs four extra evaluations of f at any size. When the check fails, it
 * repeats the difference along v restricted to one parameter leaf at a time, so the report names
 * the parameters whose gradient is wrong.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../ir/backend.ts";
import type { RankfuseError } from "../ir/errors.ts";
import { flatten, leafPaths, unflatten } from "../ir/tree.ts";
import { isSpec, type HostData, type HostOf, type TensorsOf } from "../dsl/spec.ts";
import type { Tensor } from "../dsl/trace.ts";
import { valueAndGrad } from "../dsl/autodiff.ts";
import { compile } from "../run/compile.ts";
import { referenceBackend } from "../backends/reference/backend.ts";
import { Rng } from "../util/rng.ts";
import { absDot, centralDifference4, dot } from "./directional.ts";
import { formatValue } from "./format.ts";
import { unwrap } from "./unwrap.ts";

/** How to check: where the analytic gradient runs, the difference step, the direction's seed, tolerances. */
export interface GradCheckOptions {
  /**
   * Backend that computes the analytic gradient (default: the float64 reference backend). The numeric
   * difference always runs on the reference, in float64, so a float32 backend is checked against float64.
   */
  readonly backend?: Backend<any>;
  /**
   * Step along the direction (default 1e-4). The difference is fourth order,
   * (8(f(p+hv) − f(p−hv)) − (f(p+2hv) − f(p−2hv))) / 12h, so its error is O(h⁴) plus float64 rounding O(ε/h).
   */
  readonly h?: number;
  /** Seed of the random direction v: standard normal entries on every float leaf of the first argument (default 0). */
  readonly seed?: number;
  /** Sizes of unbound dims in `args`, as compile's `dims`. */
  readonly dims?: Readonly<Record<string, number>>;
  /**
   * Allowed |analytic − numeric| relative to Σ|∂ᵢf·vᵢ|, the size of the derivative before cancellation
   * (default 1e-6 on a float64 backend, 1e-3 on float32).
   */
  readonly rtol?: number;
  /** Allowed absolute |analytic − numeric| (default 1e-8 on a float64 backend, 1e-5 on float32). */
  readonly atol?: number;
}

/** The two directional derivatives a check compares, and the scale its tolerance is relative to. */
export interface DirectionalDerivatives {
  /** ⟨∇f, v⟩ from the compiled gradient. */
  readonly analytic: number;
  /** The fourth-order central difference of f along v, in float64. */
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

/** The gradient at a point, the direction, and the numeric derivative along any direction. */
interface Probe {
  readonly grads: Float64Array[];
  readonly v: Float64Array[];
  /** Paths of the first argument's leaves (`A`, `layers.0.w`), for the report. */
  readonly paths: string[];
  numeric(dir: readonly Float64Array[]): Promise<number>;
}

async function probe<A extends readonly [unknown, ...unknown[]]>(
  f: ScalarFn<A>,
  args: A,
  inputs: HostOf<A>,
  opts: GradCheckOptions,
): Promise<Probe> {
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

  const { def: paramDef } = flatten(args[0], isSpec);
  const paths = leafPaths(paramDef);
  const { leaves, def } = flatten(inputs, isData);
  const params = leaves.slice(0, paths.length);
  const rest = leaves.slice(paths.length).map((x) => (x instanceof Int32Array ? x : Float64Array.from(x)));
  const rng = Rng.fromSeed(seed);
  const v = params.map((p) =>
    p instanceof Int32Array ? new Float64Array(p.length) : Float64Array.from(p, () => rng.normal()),
  );
  const loss = compileOn(fn, referenceBackend());
  const numeric = (dir: readonly Float64Array[]) =>
    centralDifference4(async (s) => {
      const shifted = params.map((p, i) =>
        p instanceof Int32Array ? p : Float64Array.from(p, (x, j) => x + s * h * dir[i]![j]!),
      );
      return ((await run(loss, unflatten(def, [...shifted, ...rest]) as unknown[])) as Float64Array)[0]!;
    }, h);
  return { grads, v, paths, numeric };
}

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
  const p = await probe(f, args, inputs, opts);
  return { analytic: dot(p.grads, p.v), numeric: await p.numeric(p.v), scale: absDot(p.grads, p.v) };
}

const fmt = (x: number) => formatValue(x, 6);

/**
 * Checks the gradient of `f` with respect to its first argument (a pytree of float tensors) against
 * float64 central differences along a random direction v, and returns both derivatives. Passes when
 * |⟨∇f, v⟩ − numeric| <= atol + rtol·Σ|∂ᵢf·vᵢ|; otherwise throws an Error that gives both figures, the
 * tolerance, and the same comparison for each parameter leaf alone (which leaves are wrong):
 *
 *   const loss = (p: { A: Tensor<[D, R]>; B: Tensor<[R, D]> }, x: Tensor<[N, D]>) => mean(square(colaLinear(x, p)));
 *   await checkGrads(loss, [{ A: spec([d, r]), B: spec([r, d]) }, spec([n, d])], [{ A, B }, x]);
 *
 * Inputs are host arrays (Float64Array keeps the point exact on the float64 reference); a kink of a
 * piecewise function (relu at 0) fails, as it should: the difference sees both sides.
 */
export async function checkGrads<const A extends readonly [unknown, ...unknown[]]>(
  f: ScalarFn<A>,
  args: A,
  inputs: HostOf<A>,
  opts: GradCheckOptions = {},
): Promise<DirectionalDerivatives> {
  const backend = opts.backend ?? referenceBackend();
  const { rtol = backend.caps.float64 ? 1e-6 : 1e-3, atol = backend.caps.float64 ? 1e-8 : 1e-5 } = opts;
  const p = await probe(f, args, inputs, opts);
  const d = { analytic: dot(p.grads, p.v), numeric: await p.numeric(p.v), scale: absDot(p.grads, p.v) };
  const allowed = (scale: number) => atol + rtol * scale;
  const err = Math.abs(d.analytic - d.numeric);
  if (err <= allowed(d.scale)) return d;

  const perLeaf: string[] = [];
  for (let i = 0; i < p.v.length; i++) {
    if (p.paths.length < 2) break; // one leaf: the line above is its line
    const only = p.v.map((vi, j) => (j === i ? vi : new Float64Array(vi.length)));
    const [a, n, s] = [dot(p.grads, only), await p.numeric(only), absDot(p.grads, only)];
    const bad = !(Math.abs(a - n) <= allowed(s));
    perLeaf.push(`    ${p.paths[i] || "(root)"}: analytic ${fmt(a)}, numeric ${fmt(n)}${bad ? "   <- differs" : ""}`);
  }
  throw new Error(
    [
      `gradient check failed: the gradient of f with respect to its first argument disagrees with float64 central differences`,
      `  along a random direction v (seed ${opts.seed ?? 0}, step h ${fmt(opts.h ?? 1e-4)}):`,
      `    analytic <grad, v> = ${fmt(d.analytic)} (valueAndGrad on ${backend.name})`,
      `    numeric            = ${fmt(d.numeric)} (fourth-order central difference, float64 reference)`,
      `  |difference| ${fmt(err)} > allowed ${fmt(allowed(d.scale))} = atol ${fmt(atol)} + rtol ${fmt(rtol)} * sum|grad_i * v_i| ${fmt(d.scale)}`,
      ...(perLeaf.length ? ["  each parameter alone (v restricted to it):", ...perLeaf] : []),
    ].join("\n"),
  );
}
