import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { Backend } from "../../ir/backend.ts";
import { colaLinear } from "../../models/layers.ts";

/**
 * One CoLA layer, loss = sum(w ⊙ B·silu(A·x)), and its gradients w.r.t. A, B and x: the case the
 * browser page runs on WebGPU and checks against the float64 reference in the same page. Browser-safe
 * (no node: imports), deterministic inputs from a seed.
 */
export const COLA_DIMS = { N: 24, D: 32, R: 8, O: 20 } as const;

type P = {
  A: Tensor<readonly [Dim<"d">, Dim<"r">]>;
  B: Tensor<readonly [Dim<"r">, Dim<"o">]>;
  x: Tensor<readonly [Dim<"n">, Dim<"d">]>;
};

export interface ColaResult {
  readonly value: number;
  readonly grads: { readonly A: Float64Array; readonly B: Float64Array; readonly x: Float64Array };
}

/** A small deterministic generator (the page has no access to util/rng's state). */
function values(seed: number, n: number, scale: number): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296 - 0.5) * 2 * scale;
  });
}

export function colaInputs(seed: number) {
  const { N, D, R, O } = COLA_DIMS;
  return {
    A: values(seed, D * R, 0.5),
    B: values(seed + 1, R * O, 0.5),
    x: values(seed + 2, N * D, 1),
    w: values(seed + 3, N * O, 1),
  };
}

/** Compiles forward+backward on `backend` and runs it on the seed's inputs (float32 backends get float32 inputs). */
export async function runCola(backend: Backend<any>, seed: number): Promise<ColaResult> {
  const { N, D, R, O } = COLA_DIMS;
  const [n, d, r, o] = [dim("n", N), dim("d", D), dim("r", R), dim("o", O)];
  const loss = (p: P, w: Tensor) => op.sum(op.mul(colaLinear(p.x, p), w as never));
  const args = [{ A: spec([d, r]), B: spec([r, o]), x: spec([n, d]) }, spec([n, o])] as const;
  const compiled = compile(((p: P, w: Tensor) => valueAndGrad(loss)(p, w)) as never, { args, backend });
  if (compiled._tag === "Left") throw new Error(compiled.left.message);
  const inp = colaInputs(seed);
  const cast = (a: Float64Array) => (backend.caps.float64 ? a : Float32Array.from(a));
  const ran = await compiled.right.run(
    { A: cast(inp.A), B: cast(inp.B), x: cast(inp.x) } as never,
    cast(inp.w) as never,
  );
  if (ran._tag === "Left") throw new Error(ran.left.message);
  const [value, g] = ran.right.out as unknown as [ArrayLike<number>, Record<"A" | "B" | "x", ArrayLike<number>>];
  return {
    value: value[0]!,
    grads: { A: Float64Array.from(g.A), B: Float64Array.from(g.B), x: Float64Array.from(g.x) },
  };
}

/** Relative error norm |got - want| / |want| over the value and every gradient, worst first. */
export function colaErrors(got: ColaResult, want: ColaResult): Record<string, number> {
  const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let num = 0,
      den = 0;
    for (let i = 0; i < b.length; i++) {
      num += (a[i]! - b[i]!) ** 2;
      den += b[i]! ** 2;
    }
    return Math.sqrt(num / Math.max(den, 1e-30));
  };
  return {
    value: rel([got.value], [want.value]),
    A: rel(got.grads.A, want.grads.A),
    B: rel(got.grads.B, want.grads.B),
    x: rel(got.grads.x, want.grads.x),
  };
}
