/**
 * The per-primitive gradient harness over test/helpers/primCases.ts: random data for a case, its loss
 * sum(w ⊙ f(x)) compiled with its gradient, and the directional check of testing/checkGrads.ts on it.
 */
import { numel, type Dim } from "../../ir/dim.ts";
import { compile } from "../../run/compile.ts";
import { spec, type TensorSpec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import * as op from "../../dsl/ops.ts";
import type { Backend } from "../../ir/backend.ts";
import { Rng } from "../../util/rng.ts";
import { directionalDerivatives } from "../../testing/checkGrads.ts";
import { unwrap } from "../../testing/unwrap.ts";
import type { FloatInput, IntInput, PrimCase } from "./primCases.ts";

export function randomFloats(rng: Rng, inp: FloatInput): Float64Array {
  const { lo = -2, hi = 2, gap = 0 } = inp;
  return Float64Array.from({ length: numel(inp.dims) }, () => {
    for (;;) {
      const x = lo + (hi - lo) * rng.nextFloat();
      if (Math.abs(x) >= gap) return x;
    }
  });
}
export const randomInts = (rng: Rng, inp: IntInput): Int32Array =>
  Int32Array.from({ length: numel(inp.dims) }, () => rng.nextInt(inp.max));

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
  return (floats: Tensor[], ints: Tensor[], w: Tensor): Tensor<readonly []> =>
    op.sum(op.mul(c.apply(floats, ints), w)) as Tensor<readonly []>;
}

/** The output dims of a case, found by tracing it once. */
export function caseOutDims(c: PrimCase, backend: Backend<any>): readonly Dim[] {
  const specs = caseSpecs(c);
  const traced = unwrap(
    compile((fl: Tensor[], it: Tensor[]) => c.apply(fl, it), { args: [specs.floats, specs.ints] as const, backend }),
  );
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
  const fwd = unwrap(
    compile((fl: Tensor[], it: Tensor[], w: Tensor) => loss(fl, it, w), {
      args: [specs.floats, specs.ints, wSpec] as const,
      backend,
    }),
  );
  const both = unwrap(
    compile((fl: Tensor[], it: Tensor[], w: Tensor) => valueAndGrad((p: Tensor[]) => loss(p, it, w))(fl), {
      args: [specs.floats, specs.ints, wSpec] as const,
      backend,
    }),
  );
  return {
    wSize: numel(wSpec.dims),
    loss: async (floats: Float64Array[], ints: Int32Array[], w: Float64Array) =>
      (unwrap(await fwd.run(floats as never, ints as never, w as never)).out as Float64Array)[0]!,
    valueAndGrad: async (floats: Float64Array[], ints: Int32Array[], w: Float64Array) => {
      const { out } = unwrap(await both.run(floats as never, ints as never, w as never)) as unknown as {
        out: [Float64Array, Float64Array[]];
      };
      return { value: out[0][0]!, grads: out[1] };
    },
  };
}

/**
 * Central differences along one random direction v (JAX's check_grads) for one case: <grad, v> on
 * `backend` against the float64 difference of the same loss, with random weights w.
 */
export async function directionalCheck(c: PrimCase, backend: Backend<any>, seed: number, h = 1e-5) {
  const specs = caseSpecs(c);
  const wSpec = spec(caseOutDims(c, backend));
  const data = caseData(c, seed);
  const rng = Rng.fromSeed(seed + 7);
  const w = Float64Array.from({ length: numel(wSpec.dims) }, () => rng.normal());
  const loss = caseLoss(c);
  return directionalDerivatives(
    (fl: Tensor[], it: Tensor[], wt: Tensor) => loss(fl, it, wt),
    [specs.floats, specs.ints, wSpec] as const,
    [data.floats, data.ints, w],
    {
      backend,
      h,
      seed: seed + 11,
    },
  );
}
