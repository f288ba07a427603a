import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { runs } from "../helpers/runs.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { fusedMatchesUnfused } from "../../testing/equivalence.ts";
import { expectAllclose } from "../../testing/allclose.ts";
import { MATMUL_ADD } from "../../ir/fusedKinds.ts";
import { tinyTrainStep } from "../helpers/tinyTrainStep.ts";
import { noMatmulEpilogues, nativeOrSkip } from "../passes/targets.ts";
import { matmulEpilogueCases, matmulEpilogueProgram } from "../passes/matmulEpilogueCases.ts";
import { addon, f32, nit, refMatmul } from "./nativeFixtures.ts";

/**
 * The native matmulAdd kernel (gemm.cc's matmul starting each output tile from c): against a float64
 * product plus c, and fused plans against unfused ones. The GEMM sums c first instead of last, so the
 * two differ by float32 rounding: compared at rtol 1e-5, atol 1e-4 (the vjp leaf Σ⟨out, w⟩ sums a
 * few hundred such values, with cancellation).
 */
const TOL = { rtol: 1e-5, atol: 1e-4, equalNan: true };

describe("native addon matmulAdd", () => {
  const check = (batch: number, M: number, K: number, N: number, shared: boolean, seed: number): void => {
    const a = f32(batch * M * K, seed),
      b = f32((shared ? 1 : batch) * K * N, seed + 1),
      c = f32(batch * M * N, seed + 2);
    const out = new Float32Array(batch * M * N).fill(NaN);
    addon.matmulAdd(a, b, c, out, batch, M, K, N, shared, false, false);
    const want = refMatmul(a, b, batch, M, K, N, shared).map((v, i) => v + c[i]!);
    expect(allcloseViolation(out, want, 1e-4, 2e-6 * Math.sqrt(K) * 4), `${batch}x[${M},${K}]x[${K},${N}]`).toBeNull();
  };
  nit("equals c + a·b over direct, serial and packed parallel sizes, shared and batched", () => {
    let seed = 0;
    for (const [batch, M, K, N] of [
      [1, 1, 5, 7],
      [1, 7, 0, 9],
      [3, 12, 33, 65],
      [8, 9, 17, 33],
      [1, 300, 257, 150],
      [2, 129, 64, 200],
      [1, 50, 1500, 37], // K split across threads: c starts the first part
    ] as const)
      for (const shared of [false, true]) check(batch, M, K, N, shared, (seed += 3));
  });
  nit("checks its buffers' lengths", () => {
    const x = new Float32Array(6);
    expect(() =>
      addon.matmulAdd(x, x, new Float32Array(3), new Float32Array(4), 1, 2, 3, 2, false, false, false),
    ).toThrow(RangeError);
  });
});

const native = await nativeOrSkip({ elementwise: true, epilogues: true });

describe.skipIf(!native)("native matmul epilogues in plans", () => {
  it("fused ≡ unfused within float32 rounding over random shapes, transposes and epilogues", async () => {
    let fused = 0;
    await fc.assert(
      fc.asyncProperty(matmulEpilogueCases, async (c) => {
        const { fn, args, inputs } = matmulEpilogueProgram(c);
        const got = await fusedMatchesUnfused(fn as any, args, { backend: native!, tolerance: TOL })(inputs as any);
        const nodes = got.actual.plans.forward!.graph.eqns.filter((e) => e.prim === "fused");
        fused += nodes.filter((e) => (e as { params: { kind: string } }).params.kind === MATMUL_ADD).length;
      }),
      { numRuns: runs(40) },
    );
    expect(fused).toBeGreaterThan(0);
  });

  it("a tiny training step (full, cola, colaM under its remat policy) agrees with the pass off to float32 rounding", async () => {
    for (const method of ["full", "cola", "colaM"]) {
      const on = await tinyTrainStep(method, native!);
      const off = await tinyTrainStep(method, noMatmulEpilogues(native!));
      if (method === "full") expect(on.kernels).toBe(off.kernels - 4);
      else expect(on.kernels).toBe(off.kernels);
      expect(Math.abs(on.loss - off.loss)).toBeLessThan(1e-5 * Math.abs(off.loss));
      on.grads.forEach((g, i) => expectAllclose(g, off.grads[i]!, { rtol: 1e-4, atol: 1e-6 }));
    }
  }, 300_000);

  it("colaM's gradients equal cola's (saveAll) with the pass on", async () => {
    const cola = await tinyTrainStep("cola", native!);
    const colaM = await tinyTrainStep("colaM", native!);
    expect(colaM.loss).toBeCloseTo(cola.loss, 5);
    colaM.grads.forEach((g, i) => expectAllclose(g, cola.grads[i]!, { rtol: 1e-4, atol: 1e-6 }));
  }, 300_000);
});
