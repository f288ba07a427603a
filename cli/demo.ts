import * as E from "fp-ts/lib/Either.js";
import { dim, type Dim } from "../ir/dim.ts";
import { spec } from "../dsl/spec.ts";
import { compile } from "../run/compile.ts";
import { valueAndGrad } from "../dsl/autodiff.ts";
import { renderError } from "../ir/errors.ts";
import type { Tensor } from "../dsl/trace.ts";
import * as op from "../dsl/ops.ts";
import { loadBackend } from "../backends/index.ts";
import { referenceBackend } from "../backends/reference/backend.ts";
import { colaLinear } from "../models/layers.ts";
import { Rng } from "../util/rng.ts";
import { parseFlags, intFlag } from "./args.ts";

const HELP = `rankfuse demo: compile one CoLA layer y = B·silu(A·x), run forward and backward, print the plan
and check the gradient against float64 central differences.

  --backend NAME   backend to run on (auto, wasm, cpu, reference; default auto)
  --tokens N       rows of x (default 256)
  --width N        d (default 128)
  --rank N         r (default 32)`;

type P = { A: Tensor<readonly [Dim<"d">, Dim<"r">]>; B: Tensor<readonly [Dim<"r">, Dim<"d">]> };

export async function demo(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    backend: { type: "string" },
    tokens: { type: "string" },
    width: { type: "string" },
    rank: { type: "string" },
  });
  if (values.help) return (console.log(HELP), 0);
  const [N, D, R] = [
    intFlag(values.tokens, "tokens", 256),
    intFlag(values.width, "width", 128),
    intFlag(values.rank, "rank", 32),
  ];
  const be = await loadBackend(values.backend || undefined);
  if (E.isLeft(be)) return (console.error(renderError(be.left)), 2);

  const [n, d, r] = [dim("n", N), dim("d", D), dim("r", R)];
  const loss = (p: P, x: Tensor<readonly [Dim<"n">, Dim<"d">]>) => op.mean(op.square(colaLinear(x, p)));
  const args = [{ A: spec([d, r]), B: spec([r, d]) }, spec([n, d])] as const;
  const train = compile((p: P, x: Tensor<readonly [Dim<"n">, Dim<"d">]>) => valueAndGrad(loss)(p, x), {
    args,
    backend: be.right,
  });
  if (E.isLeft(train)) return (console.error(renderError(train.left)), 1);
  console.log(
    `CoLA layer: x [${N}, ${D}] -> silu(x·A) [${N}, ${R}] -> ·B [${N}, ${D}] on ${be.right.name} (${be.right.describe()})\n`,
  );
  console.log(train.right.plan.toString());

  const rng = Rng.fromSeed(0);
  const scale = Math.pow(R, -0.25) * Math.pow(2 * D, -0.25);
  const randn = (k: number, s = 1) => Float32Array.from({ length: k }, () => rng.normal() * s);
  const params = { A: randn(D * R, scale), B: randn(R * D, scale) };
  const x = randn(N * D);
  const res = await train.right.run(params, x);
  if (E.isLeft(res)) return (console.error(renderError(res.left)), 1);
  const [value, grads] = res.right.out as unknown as [Float32Array, { A: Float32Array; B: Float32Array }];
  console.log(
    `\nloss ${value[0]!.toPrecision(6)}, measured peak ${(res.right.stats.peakBytes / 1024).toFixed(1)} KiB (predicted ${(train.right.plan.predictedPeakBytes / 1024).toFixed(1)} KiB), ${res.right.stats.ms.toFixed(1)} ms`,
  );

  // gradient check: <grad, v> against float64 central differences of the same loss on the reference backend
  const ref = compile(loss, { args, backend: referenceBackend() });
  if (E.isLeft(ref)) return (console.error(renderError(ref.left)), 1);
  const v = { A: randn(D * R), B: randn(R * D) };
  const h = 1e-4;
  const f = async (s: number) => {
    const q = {
      A: Float64Array.from(params.A, (a, i) => a + s * h * v.A[i]!),
      B: Float64Array.from(params.B, (b, i) => b + s * h * v.B[i]!),
    };
    const out = await ref.right.run(q, Float64Array.from(x));
    return E.isRight(out) ? (out.right.out as Float64Array)[0]! : NaN;
  };
  const numeric = ((await f(1)) - (await f(-1))) / (2 * h);
  const analytic = grads.A.reduce((s, g, i) => s + g * v.A[i]!, 0) + grads.B.reduce((s, g, i) => s + g * v.B[i]!, 0);
  const rel = Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-12);
  console.log(
    `gradient check along a random direction: ${be.right.name} ${analytic.toPrecision(7)} vs float64 central difference ${numeric.toPrecision(7)} (relative error ${rel.toExponential(2)}) ${rel < 1e-3 ? "OK" : "MISMATCH"}`,
  );
  return rel < 1e-3 ? 0 : 1;
}
