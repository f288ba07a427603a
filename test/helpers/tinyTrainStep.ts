import type { Backend } from "../../ir/backend.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { compileTrainStep } from "../../train/step.ts";
import { unwrap } from "../../testing/unwrap.ts";

/**
 * One training step of a tiny `method` model (2 layers, width 32) on `backend`, on fixed ids and init:
 * its loss, its gradients and the plan's kernel count, for comparing backends or fusion settings.
 */
export async function tinyTrainStep(method: string, backend: Backend<any>) {
  const cfg = unwrap(
    resolveConfig("tiny", { d: 32, dFF: 48, vocab: 29, seq: 8, batch: 2, layers: 2, heads: 2, rank: 8 }),
  );
  const m = unwrap(makeModel(method, cfg));
  const ts = unwrap(compileTrainStep(m, backend, 2, 8));
  const ids = Int32Array.from({ length: 16 }, (_, i) => (i * 5 + 1) % 29);
  const targets = Int32Array.from({ length: 16 }, (_, i) => (i * 3 + 2) % 29);
  const r = unwrap(await ts.run(m.init(3) as Float32Array[], ids, targets));
  return { loss: r.loss, grads: r.grads.map((g) => Float32Array.from(g)), kernels: ts.plan.kernelCount };
}
