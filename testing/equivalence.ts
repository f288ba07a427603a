/**
 * The equivalences users test their layers with, as assertion functions: each takes a function and
 * its specs and returns a check that, at given inputs, compiles and runs both sides and compares their
 * outputs and gradients (the vjp of random cotangents, so every input's gradient is covered) with
 * `expectAllclose`, throwing its report on a mismatch. Run a check at fixed inputs, or for random ones
 * with `forAllInputs` (./arbitraries.ts):
 *
 *   await fusedMatchesUnfused(layer, args, { backend })(inputs);
 *   await fc.assert(forAllInputs(fusedMatchesUnfused(layer, args, { backend })), { numRuns: 10 });
 *
 * - fusedMatchesUnfused: the plan compiled with fusion against the one without, on one backend.
 * - rematMatchesSaveAll: the gradients under a remat policy against storing everything (identical).
 * - matchesDense: the layer against a reference written another way (the dense layer with W = A·B).
 * - matchesReference: a backend against the float64 reference backend.
 */
import type { Backend } from "../ir/backend.ts";
import type { HostOf, TensorsOf } from "../dsl/spec.ts";
import { saveAll, type RematPolicy } from "../passes/remat.ts";
import { referenceBackend } from "../backends/reference/backend.ts";
import { expectAllclose, type Tolerance } from "./allclose.ts";
import { evaluate, type Evaluation, type EvaluateOptions } from "./evaluate.ts";
import { inPrecision } from "./inputs.ts";

/** What every check takes: tolerances, which halves to compare, the cotangents' seed, unbound dims. */
export interface EquivalenceOptions {
  /** Closeness of outputs and gradients (default by precision: rtol 1e-9, atol 1e-10 in float64; rtol 1e-3, atol 1e-4 in float32). */
  readonly tolerance?: Tolerance;
  /** Compare the outputs (default true). */
  readonly outputs?: boolean;
  /** Compare the vjp and every float input's gradient (default true). */
  readonly gradients?: boolean;
  /** Seed of the random cotangents (default 1). */
  readonly seed?: number;
  /** Sizes of unbound dims; `forAllInputs` passes the sizes it draws instead. */
  readonly dims?: Readonly<Record<string, number>>;
}

/** Both evaluations a passing check compared, for a test that asserts more (kernel counts, plans). */
export interface Comparison {
  readonly actual: Evaluation;
  readonly expected: Evaluation;
}

/**
 * A check at given inputs (and sizes of unbound dims): resolves to both evaluations when they agree,
 * rejects with the closeness report when they do not. `args` and `description` travel with it.
 */
export interface Equivalence<A> {
  (inputs: HostOf<A>, dims?: Readonly<Record<string, number>>): Promise<Comparison>;
  readonly args: A;
  readonly description: string;
}

type Fn<A extends readonly unknown[]> = (...args: TensorsOf<A>) => unknown;
type Side = Omit<EvaluateOptions, "dims" | "seed" | "outputs" | "gradients">;

const FLOAT64: Tolerance = { rtol: 1e-9, atol: 1e-10 };
const FLOAT32: Tolerance = { rtol: 1e-3, atol: 1e-4 };
/** The default tolerance of a comparison that involves a backend of this precision. */
const tolFor = (backend: Backend<any>): Tolerance => (backend.caps.float64 ? FLOAT64 : FLOAT32);

/** The common shape of every check: evaluate two sides at the same inputs and compare everything they computed. */
function equivalence<const A extends readonly unknown[]>(
  description: string,
  args: A,
  opts: EquivalenceOptions,
  defaultTolerance: Tolerance,
  actual: { fn: Fn<A>; side: Side },
  expected: { fn: Fn<A>; side: Side },
  after?: (c: Comparison) => void,
): Equivalence<A> {
  const check = async (inputs: HostOf<A>, dims = opts.dims): Promise<Comparison> => {
    const common = { dims, seed: opts.seed, outputs: opts.outputs, gradients: opts.gradients };
    // a float32 side computes at the float32 point: give the other side exactly that point too
    const both64 = actual.side.backend.caps.float64 && expected.side.backend.caps.float64;
    const point = both64 ? inputs : inPrecision(inputs, false);
    const a = await evaluate(actual.fn, args, point, { ...actual.side, ...common });
    const e = await evaluate(expected.fn, args, point, { ...expected.side, ...common });
    const c = { actual: a, expected: e };
    after?.(c);
    expectAllclose(
      { ...a.outputs, ...a.gradients },
      { ...e.outputs, ...e.gradients },
      { ...(opts.tolerance ?? defaultTolerance), what: description },
    );
    return c;
  };
  return Object.assign(check, { args, description });
}

const fusedKernels = (e: Evaluation): number => (e.plans.forward?.fusedCount ?? 0) + (e.plans.vjp?.fusedCount ?? 0);

/**
 * `fn` compiled with fusion (`fusion: true`) against without (`fusion: false`), on one backend: the
 * fused kernels compute what the primitives they replace compute, forward and backward. Fails also
 * when nothing was fused (then both sides are one plan and the check proves nothing), unless
 * `requireFused` is false: use a backend with fused kernels (native, webgpu).
 */
export function fusedMatchesUnfused<const A extends readonly unknown[]>(
  fn: Fn<A>,
  args: A,
  opts: EquivalenceOptions & { readonly backend: Backend<any>; readonly requireFused?: boolean },
): Equivalence<A> {
  const { backend, requireFused = true } = opts;
  return equivalence(
    `fused vs unfused on ${backend.name}`,
    args,
    opts,
    tolFor(backend),
    { fn, side: { backend, fusion: true } },
    { fn, side: { backend, fusion: false } },
    (c) => {
      if (requireFused && fusedKernels(c.actual) === 0)
        throw new Error(
          `fused vs unfused on ${backend.name}: nothing was fused (caps.fusedChains is ${backend.caps.fusedChains}), ` +
            `so both sides ran the same plan; use a backend with fused kernels or pass requireFused: false`,
        );
    },
  );
}

/**
 * The gradients (and Σ⟨out, w⟩) under a remat policy against `saveAll`, on one backend (default the
 * float64 reference): recomputing instead of storing changes memory, never values. The default
 * tolerance is exact equality; give one where a policy recomputes by another route (an inversion).
 */
export function rematMatchesSaveAll<const A extends readonly unknown[]>(
  fn: Fn<A>,
  args: A,
  policy: RematPolicy,
  opts: EquivalenceOptions & { readonly backend?: Backend<any> } = {},
): Equivalence<A> {
  const backend = opts.backend ?? referenceBackend();
  return equivalence(
    `remat ${policy.name} vs saveAll on ${backend.name}`,
    args,
    { ...opts, outputs: false },
    { rtol: 0, atol: 0 },
    { fn, side: { backend, remat: policy } },
    { fn, side: { backend, remat: saveAll } },
  );
}

/**
 * A layer against a reference written another way, over the same inputs, on one backend (default the
 * float64 reference): a low-rank layer x·A·B against the dense layer x·W with W = A·B computed inside
 * `dense`, a fused formulation against a plain one.
 *
 *   matchesDense((p, x) => matmul(matmul(x, p.A), p.B), (p, x) => matmul(x, matmul(p.A, p.B)), args)
 */
export function matchesDense<const A extends readonly unknown[]>(
  layer: Fn<A>,
  dense: Fn<A>,
  args: A,
  opts: EquivalenceOptions & { readonly backend?: Backend<any> } = {},
): Equivalence<A> {
  const backend = opts.backend ?? referenceBackend();
  return equivalence(
    `layer vs dense reference on ${backend.name}`,
    args,
    opts,
    tolFor(backend),
    {
      fn: layer,
      side: { backend },
    },
    { fn: dense, side: { backend } },
  );
}

/**
 * `fn` on a backend against the float64 reference backend, at the same point (float inputs are rounded
 * to float32 first, so both sides see exactly the same values). `fusion: false` checks the unfused plan.
 */
export function matchesReference<const A extends readonly unknown[]>(
  fn: Fn<A>,
  args: A,
  opts: EquivalenceOptions & { readonly backend: Backend<any>; readonly fusion?: boolean },
): Equivalence<A> {
  const { backend, fusion } = opts;
  return equivalence(
    `${backend.name} vs the float64 reference`,
    args,
    opts,
    tolFor(backend),
    { fn, side: { backend, fusion } },
    { fn, side: { backend: referenceBackend() } },
  );
}
