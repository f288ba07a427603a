import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { runs } from "../helpers/runs.ts";
import { fusedMatchesUnfused } from "../../testing/equivalence.ts";
import { MATMUL_EPILOGUE } from "../../ir/fusedKinds.ts";
import { tinyTrainStep } from "../helpers/tinyTrainStep.ts";
import { backendRequirement } from "../helpers/requirements.ts";
import { fusedNodes, withCaps } from "../passes/targets.ts";
import { matmulElementwiseCases, matmulElementwiseProgram } from "../passes/matmulElementwiseCases.ts";

/**
 * The native matmulEpilogue kernel (matmul_epilogue.cc: the GEMM per block of output rows, a generated
 * epilogue on each block): bit for bit the unfused plan's values, since each block's GEMM sums in the
 * order the parallel GEMM does and the generated epilogue rounds each op as the prebuilt kernels do.
 * Tiny GEMMs (gemm.cc's direct path for the whole product, packed per block here) may round
 * differently, so the property compares at float32 rounding, the tolerance of the primitives' parity
 * tests (rtol 1e-3, atol 1e-4: gradients sum products with cancellation, e.g. a 28×37 SwiGLU case
 * whose weight gradient of -121.15 came out 3e-4 apart); the tiny training steps are exact.
 */
const TOL = { rtol: 1e-3, atol: 1e-4, equalNan: true };
const req = await backendRequirement("native");
const native = req.skip ? null : req.get();
const without = (be: any) =>
  withCaps(be, { fusedKinds: new Set([...(be.caps.fusedKinds ?? [])].filter((k: string) => k !== MATMUL_EPILOGUE)) });

describe.skipIf(!native)("native matmul elementwise epilogues", () => {
  it("fused ≡ unfused over random shapes, transposes, batch dims, epilogues and broadcast inputs", async () => {
    let fused = 0;
    await fc.assert(
      fc.asyncProperty(matmulElementwiseCases, async (c) => {
        const { fn, args, inputs } = matmulElementwiseProgram(c);
        const got = await fusedMatchesUnfused(fn as any, args, { backend: native!, tolerance: TOL })(inputs as any);
        fused += fusedNodes(got.actual.plans.forward!.graph).filter((e) => e.params.kind === MATMUL_EPILOGUE).length;
      }),
      { numRuns: runs(40) },
    );
    expect(fused).toBeGreaterThan(0);
  }, 120_000);

  it("tiny training steps on native's caps: kernel counts, and the same loss and gradients bit for bit", async () => {
    // full: 128 kernels without the kind, 124 with it (SwiGLU's silu(gate) ⊙ up after the up projection,
    // backward's products after the down projection's input gradient); cola: the lowrank chains hold
    // every matmul, 114 either way; colaM (its remat policy recomputes the MLP): 159 → 157
    const counts: Record<string, [number, number]> = { full: [128, 124], cola: [114, 114], colaM: [159, 157] };
    for (const [method, [before, after]] of Object.entries(counts)) {
      const on = await tinyTrainStep(method, native!);
      const off = await tinyTrainStep(method, without(native!));
      expect([off.kernels, on.kernels]).toEqual([before, after]);
      expect(on.loss).toBe(off.loss);
      on.grads.forEach((g, i) => expect(g).toEqual(off.grads[i]!));
    }
  }, 300_000);

  it("colaM's gradients under its remat policy equal cola's (saveAll) with the kind on", async () => {
    const cola = await tinyTrainStep("cola", native!);
    const colaM = await tinyTrainStep("colaM", native!);
    expect(colaM.loss).toBe(cola.loss);
    colaM.grads.forEach((g, i) => expect(g).toEqual(cola.grads[i]!));
  }, 300_000);
});
