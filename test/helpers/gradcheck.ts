import * as E from "fp-ts/lib/Either.js";
import { numel, type Dim } from "../../ir/dim.ts";
import { compile } from "../../run/compile.ts";
import { spec, type TensorSpec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import { renderError } from "../../ir/errors.ts";
import * as op from "../../dsl/ops.ts";
import type { Backend } from "../../ir/backend.ts";
import { Rng } from "../../util/rng.ts";
import type { FloatInput, IntInput, PrimCase } from "./primCases.ts";

/** Unwraps a Right or fails the test with the rendered error. */
export function unwrap<T>(e: E.Either<{ tag: string; message: string }, T>): T {
  if (E.isLeft(e)) throw new Error(renderError(e.left as never));
  return e.right;
}

export function randomFloats(rng: Rng, inp: FloatInput): Float64Array {
  const { lo = -2, hi = 2, gap = 0 } = inp;
  return Float64Array.from({ length: numel(inp.dims) }, () => {
    for (;;) {
      const x = lo + (hi - lo) * rng.nextFloat();
      if (Math.abs(x) >= gap) return x;
    }
  });
}
export const randomInts = (rng: Rng, inp: IntInput): Int32Array => Int32Array.from({ length: numel(inp.dims) }, () => rng.nextInt(inp.max));

/** Data for one case: float inputs, int inputs, and random weights that make the loss sum(w * f(x)). */
export interface CaseData {
  readonly floats: Float64Array[];
  readonly ints: Int32Array[];
}

export function caseData(c: PrimCase, seed: number): CaseData {
  const rng = Rng.fromSeed(seed);
  return { floats: c.floats.map((f) => randomFloats(rng, f)), ints: (c.ints ?? []).map((i) => randomInts(rng, i)) };
}

/** The scalar loss of a case: sum(w * f(x)) with w a fixed weight input, so every output element gets its own cotangent. */
export function caseLoss(c: PrimCase) {
  return (floats: Tensor[], ints: Tensor[], w: Tensor): Tensor<readonly []> => op.sum(op.mul(c.apply(floats, ints), w)) as Tensor<readonly []>;
}

/** The output dims of a case, found by tracing it once. */
export function caseOutDims(c: PrimCase, backend: Backend<any>): readonly Dim[] {
  const specs = caseSpecs(c);
  const traced = unwrap(compile((fl: Tensor[], it: Tensor[]) => c.apply(fl, it), { args: [specs.floats, specs.ints] as const, backend }));
  return traced.graph.outputs[0]!.abs.dims;
}

export function caseSpecs(c: PrimCase): { floats: TensorSpec[]; ints: TensorSpec[] } {
  return { floats: c.floats.map((f) => spec(f.dims)), ints: (c.ints ?? []).map((i) => spec(i.dims, "int32")) };
}

/** Compiles the loss and its gradient w.r.t. the float inputs on a backend; returns a runner. */
export function compileCase(c: PrimCase, backend: Backend<any>) {
  const specs = caseSpecs(c);
  const wSpec = spec(caseOutDims(c, backend));
  const loss = caseLoss(c);
  const fwd = unwrap(compile((fl: Tensor[], it: Tensor[], w: Tensor) => loss(fl, it, w), { args: [specs.floats, specs.ints, wSpec] as const, backend }));
  const both = unwrap(
    compile((fl: Tensor[], it: Tensor[], w: Tensor) => valueAndGrad((p: Tensor[]) => loss(p, it, w))(fl), { args: [specs.floats, specs.ints, wSpec] as const, backend }),
  );
  return {
    wSize: numel(wSpec.dims),
    loss: async (floats: Float64Array[], ints: Int32Array[], w: Float64Array) => (unwrap(await fwd.run(floats as never, ints as never, w as never)).out as Float64Array)[0]!,
    valueAndGrad: async (floats: Float64Array[], ints: Int32Array[], w: Float64Array) => {
      const { out } = unwrap(await both.run(floats as never, ints as never, w as never)) as unknown as { out: [Float64Array, Float64Array[]] };
      return { value: out[0][0]!, grads: out[1] };
    },
  };
}

/**
 * Central differences along one random direction v (JAX's check_grads): compares <grad, v> with
 * (f(x + h v) - f(x - h v)) / 2h. Cheap at any size, and catches a wrong rule in any component.
 */
export async function directionalCheck(c: PrimCase, backend: Backend<any>, seed: number, h = 1e-5) {
  const run = compileCase(c, backend);
  const data = caseData(c, seed);
  const rng = Rng.fromSeed(seed + 7);
  const w = Float64Array.from({ length: run.wSize }, () => rng.normal());
  const v = data.floats.map((f) => Float64Array.from(f, () => rng.normal()));
  const { grads } = await run.valueAndGrad(data.floats, data.ints, w);
  const analytic = grads.reduce((s, g, i) => s + g.reduce((t, gj, j) => t + gj * v[i]![j]!, 0), 0);
  const shifted = (sign: number) => data.floats.map((f, i) => f.map((x, j) => x + sign * h * v[i]![j]!));
  const numeric = ((await run.loss(shifted(1), data.ints, w)) - (await run.loss(shifted(-1), data.ints, w))) / (2 * h);
  return { analytic, numeric };
}
