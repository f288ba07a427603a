import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { colaLinear } from "../../models/layers.ts";
import { loadBackend } from "../../backends/index.ts";
import { Rng } from "../../util/rng.ts";
import { checkGrads } from "../../testing/checkGrads.ts";

/** The public gradient check: it passes on correct gradients, on float64 and float32 backends, and fails on a wrong one. */
describe("checkGrads", () => {
  const [n, d, r] = [dim("n", 6), dim("d", 5), dim("r", 3)];
  type P = { A: Tensor<readonly [Dim<"d">, Dim<"r">]>; B: Tensor<readonly [Dim<"r">, Dim<"d">]> };
  const loss = (p: P, x: Tensor<readonly [Dim<"n">, Dim<"d">]>) => op.mean(op.square(colaLinear(x, p)));
  const args = [{ A: spec([d, r]), B: spec([r, d]) }, spec([n, d])] as const;
  const rng = Rng.fromSeed(3);
  const randn = (k: number) => Float64Array.from({ length: k }, () => rng.normal());
  const inputs = [{ A: randn(15), B: randn(15) }, randn(30)] as const;

  it("agrees with float64 central differences on a CoLA layer (reference backend)", async () => {
    const d = await checkGrads(loss, args, [inputs[0], inputs[1]]);
    expect(d.scale).toBeGreaterThan(1e-3);
    expect(Math.abs(d.analytic - d.numeric)).toBeLessThan(1e-8 * d.scale);
  });

  it("takes a float32 backend's gradient with float32 tolerances", async () => {
    const cpu = await loadBackend("cpu");
    if (E.isLeft(cpu)) throw new Error(cpu.left.message);
    const f32 = { A: Float32Array.from(inputs[0].A), B: Float32Array.from(inputs[0].B) };
    await expect(
      checkGrads(loss, args, [f32, Float32Array.from(inputs[1])], { backend: cpu.right, seed: 5 }),
    ).resolves.toBeDefined();
  });

  it("fails, naming both figures, where the gradient is wrong (relu's kink: analytic 0, difference ≠ 0)", async () => {
    const x = dim("x", 4);
    const atKink = checkGrads((p: Tensor<readonly [Dim<"x">]>) => op.sum(op.relu(p)), [spec([x])] as const, [
      new Float64Array(4),
    ]);
    await expect(atKink).rejects.toThrow(
      /gradient check failed[^]*analytic <grad, v> = 0 \(valueAndGrad on reference\)[^]*numeric {12}= [1-9]/,
    );
  });

  it("names the parameters whose gradient is wrong, checking each alone", async () => {
    const x = dim("x", 3);
    type Q = { a: Tensor<readonly [Dim<"x">]>; b: Tensor<readonly [Dim<"x">]> };
    const f = (q: Q) => op.add(op.sum(op.relu(q.a)), op.sum(op.square(q.b)));
    const wrong = checkGrads(f, [{ a: spec([x]), b: spec([x]) }] as const, [
      { a: new Float64Array(3), b: Float64Array.of(1, -2, 0.5) },
    ]);
    await expect(wrong).rejects.toThrow(
      /each parameter alone[^]*\n {4}a: analytic 0, numeric [^\n]*<- differs\n {4}b: analytic [^\n]*[0-9]$/,
    );
  });
});
