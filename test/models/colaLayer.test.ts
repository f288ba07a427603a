import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { colaLinear, linear } from "../../models/layers.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";

const backend = referenceBackend();
const normals = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());
type P = { A: Tensor<readonly [Dim<"d">, Dim<"r">]>; B: Tensor<readonly [Dim<"r">, Dim<"o">]> };

const dims = fc.tuple(
  fc.integer({ min: 1, max: 6 }),
  fc.integer({ min: 1, max: 6 }),
  fc.integer({ min: 1, max: 4 }),
  fc.integer({ min: 1, max: 6 }),
  fc.integer({ min: 0, max: 1e6 }),
);

describe("a composed CoLA layer B·silu(A·x)", () => {
  it("has gradients (w.r.t. A, B and x) that match central differences", async () => {
    await fc.assert(
      fc.asyncProperty(dims, async ([N, D, R, O, seed]) => {
        const [n, d, r, o] = [dim("n", N), dim("d", D), dim("r", R), dim("o", O)];
        const loss = (p: P & { x: Tensor<readonly [Dim<"n">, Dim<"d">]> }, w: Tensor) =>
          op.sum(op.mul(colaLinear(p.x, p), w as never));
        const args = [{ A: spec([d, r]), B: spec([r, o]), x: spec([n, d]) }, spec([n, o])] as const;
        const fwd = unwrap(compile(loss as never, { args, backend }));
        const both = unwrap(compile(((p: never, w: Tensor) => valueAndGrad(loss)(p, w)) as never, { args, backend }));
        const rng = Rng.fromSeed(seed);
        const p = { A: normals(rng, D * R), B: normals(rng, R * O), x: normals(rng, N * D) };
        const w = normals(rng, N * O);
        const v = { A: normals(rng, D * R), B: normals(rng, R * O), x: normals(rng, N * D) };
        const { out } = unwrap(await both.run(p as never, w as never)) as unknown as {
          out: [Float64Array, Record<keyof typeof p, Float64Array>];
        };
        const keys = ["A", "B", "x"] as const;
        const analytic = keys.reduce((s, k) => s + out[1][k].reduce((t, g, j) => t + g * v[k][j]!, 0), 0);
        const h = 1e-5;
        const at = (sign: number) =>
          Object.fromEntries(keys.map((k) => [k, p[k].map((val, j) => val + sign * h * v[k][j]!)]));
        const f = async (q: object) =>
          (unwrap(await fwd.run(q as never, w as never)).out as unknown as Float64Array)[0]!;
        const numeric = ((await f(at(1))) - (await f(at(-1)))) / (2 * h);
        expect(Math.abs(analytic - numeric)).toBeLessThan(1e-6 * (1 + Math.abs(numeric)));
      }),
      { numRuns: runs(25) },
    );
  });

  it("with identity in place of silu equals a dense layer with W = A·B", async () => {
    await fc.assert(
      fc.asyncProperty(dims, async ([N, D, R, O, seed]) => {
        const [n, d, r, o] = [dim("n", N), dim("d", D), dim("r", R), dim("o", O)];
        const cola = unwrap(
          compile((p: P, x: Tensor<readonly [Dim<"n">, Dim<"d">]>) => colaLinear(x, p, (t) => t), {
            args: [{ A: spec([d, r]), B: spec([r, o]) }, spec([n, d])] as const,
            backend,
          }),
        );
        const dense = unwrap(
          compile((p: P, x: Tensor<readonly [Dim<"n">, Dim<"d">]>) => linear(x, op.matmul(p.A, p.B)), {
            args: [{ A: spec([d, r]), B: spec([r, o]) }, spec([n, d])] as const,
            backend,
          }),
        );
        const rng = Rng.fromSeed(seed);
        const p = { A: normals(rng, D * R), B: normals(rng, R * O) };
        const x = normals(rng, N * D);
        const a = unwrap(await cola.run(p, x)).out as Float64Array;
        const b = unwrap(await dense.run(p, x)).out as Float64Array;
        a.forEach((val, i) => expect(val).toBeCloseTo(b[i]!, 10));
      }),
      { numRuns: runs(25) },
    );
  });
});
