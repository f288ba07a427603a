import { describe, expect, it } from "vitest";
import type { Backend } from "../../ir/backend.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig } from "../../models/config.ts";
import { type LanguageModel } from "../../models/model.ts";
import { makeModel } from "../../methods/index.ts";
import { compileTrainStep } from "../../train/step.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { claimingChains, nativeOrSkip, noFusedKernels } from "./targets.ts";

const native = await nativeOrSkip({ heads: true });

/** One training step of a tiny CoLA-LLaMA (2 blocks): loss, gradients and how many fused kernels ran. */
async function step(m: LanguageModel, backend: Backend<any>) {
  const ts = unwrap(compileTrainStep(m, backend, 2, 6));
  const params = m.init(3).map((p) => (backend.caps.float64 ? Float64Array.from(p) : p)) as Float32Array[];
  const ids = Int32Array.from({ length: 12 }, (_, i) => (i * 5 + 1) % m.config.vocab);
  const targets = Int32Array.from({ length: 12 }, (_, i) => (i * 3 + 2) % m.config.vocab);
  const r = unwrap(await ts.run(params, ids, targets));
  return { loss: r.loss, grads: r.grads, fused: ts.plan.fusedCount };
}

describe.each(["cola", "colaM"])("a whole CoLA-LLaMA (%s) compiled with and without fusion", (method) => {
  const cfg = unwrap(
    resolveConfig("tiny", { d: 16, dFF: 24, vocab: 13, seq: 6, batch: 2, layers: 2, heads: 2, rank: 4 }),
  );
  const m = unwrap(makeModel(method, cfg));
  // per block: 7 CoLA projections and attention, forward and backward; under CoLA-M the backward also
  // recomputes each block's attention output (the o projection's dA reads it): one more fused forward
  const fusedKernels = 2 * (7 * 2 + 2 + (method === "colaM" ? 1 : 0));
  // native also lays out the heads: ropeHeads for q and k forward, their inverses backward (and under
  // CoLA-M for the recomputed q and k)
  const ropeHeads = 2 * (4 + (method === "colaM" ? 2 : 0));

  it.skipIf(!native)(
    "gives the same loss and gradients on native (each projection and attention fused both ways)",
    async () => {
      const fused = await step(m, native!);
      const plain = await step(m, noFusedKernels(native!));
      expect(fused.fused).toBe(fusedKernels + ropeHeads);
      expect(plain.fused).toBe(0);
      expect(allcloseViolation([fused.loss], [plain.loss], 1e-5, 1e-6)).toBeNull();
      fused.grads.forEach((g, i) => expect(allcloseViolation(g, plain.grads[i]!, 1e-3, 1e-5), `grad ${i}`).toBeNull());
    },
  );

  it("gives the same loss and gradients on the reference, fused nodes run by parts", async () => {
    const fused = await step(m, claimingChains(referenceBackend()));
    const plain = await step(m, referenceBackend());
    expect(fused.fused).toBe(fusedKernels);
    expect(allcloseViolation([fused.loss], [plain.loss], 1e-12, 1e-12)).toBeNull();
    fused.grads.forEach((g, i) => expect(allcloseViolation(g, plain.grads[i]!, 1e-12, 1e-12), `grad ${i}`).toBeNull());
  });
});
