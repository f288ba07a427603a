import { describe, expect, it } from "vitest";
import { loadBackend } from "../../backends/index.ts";
import type { Backend } from "../../ir/backend.ts";
import { elementCount } from "../../train/params.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import { TrainState, type StepReport } from "../../train/trainState.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { backendRequirement } from "../helpers/requirements.ts";
import { STEPS, TINY, batches, fmt, relDiff, stateOptions, tensorDiff, tinyModel } from "../helpers/trainStateCases.ts";

/**
 * The training state on webgpu (params and moments in GPU buffers, the whole step one plan) trains as it
 * does on wasm and native: the same losses at every step within float32 tolerance (its reductions sum in
 * another order), params within the same, and per step only the batch and three scalars in and the loss,
 * the gradient norm and the params check out (ReLoRA: plus its merges, every param and the trainable moments each way).
 * Skipped without an adapter unless RANKFUSE_REQUIRE_WEBGPU is set (CI); the native comparison also
 * needs the addon (skipped alone without it).
 */
const webgpu = await backendRequirement("webgpu");
const native = await backendRequirement("native");
const wasm = unwrap(await loadBackend("wasm"));

/** Losses (measured ≤ 2.2e-7 against either) and params (≤ 2.7e-5 of a tensor's largest entry). */
const [LOSS_RTOL, PARAM_RTOL] = [1e-5, 3e-4];
const BATCH_IN = 2 * 4 * TINY.batch * TINY.seq + 3 * 4;

/** What a ReLoRA merge moves each way: every param, and the moments of the params the model does not freeze. */
function mergeBytes(model: TrainableModel): number {
  const bytes = (f: (i: number) => boolean) =>
    model.layout.shapes.reduce((s, shape, i) => s + (f(i) ? 4 * elementCount(shape) : 0), 0);
  return bytes(() => true) + 2 * bytes((i) => !model.frozen?.[i]);
}

async function train(method: string, backend: Backend<any>) {
  const model = tinyModel(method);
  const state = unwrap(TrainState.create(model, backend, stateOptions(STEPS), { params: model.init(3) }));
  try {
    const reports: StepReport[] = [];
    for (const [s, { ids, targets }] of batches(STEPS).entries())
      reports.push(unwrap(await state.step(s, ids, targets)));
    return { reports, losses: reports.map((r) => r.loss), params: await state.readParams() };
  } finally {
    state.dispose();
  }
}

describe.skipIf(webgpu.skip)(webgpu.title("TrainState on webgpu"), () => {
  it.each(["full", "cola", "relora"])(
    "%s: losses and params agree with wasm and native, and the transfers are the batch's",
    async (method) => {
      const gpu = await train(method, webgpu.get());
      // per step: the batch and three scalars in, the loss, norm and params check out; ReLoRA's merges (after 4, 8, 12) add every param and the trainable moments each way
      const merge = method === "relora" ? mergeBytes(tinyModel(method)) : 0;
      gpu.reports.forEach((r, s) => {
        const extra = (s + 1) % 4 === 0 ? merge : 0;
        expect(r.transfers, `step ${s}`).toEqual({ written: BATCH_IN + extra, read: 12 + extra });
      });
      const peers: [string, Awaited<ReturnType<typeof train>>][] = [["wasm", await train(method, wasm)]];
      if (!native.skip) peers.push(["native", await train(method, native.get())]);
      for (const [name, peer] of peers) {
        const loss = Math.max(...gpu.losses.map((l, s) => relDiff(l, peer.losses[s]!)));
        const params = tensorDiff(gpu.params, peer.params);
        console.log(
          `webgpu ${method} vs ${name}: loss max rel ${fmt(loss)}, params max abs ${fmt(params.abs)} rel ${fmt(params.rel)}`,
        );
        expect(loss, `losses against ${name}`).toBeLessThanOrEqual(LOSS_RTOL);
        expect(params.rel, `params against ${name}`).toBeLessThanOrEqual(PARAM_RTOL);
      }
      // it trained: the agreement covers the updates, not one forward pass
      expect(relDiff(gpu.losses[STEPS - 1]!, gpu.losses[0]!)).toBeGreaterThan(1e-2);
    },
  );
});
