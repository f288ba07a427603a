import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { loadBackend } from "../../backends/index.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { Rng } from "../../util/rng.ts";
import { TrainState } from "../../train/trainState.ts";
import { constantLr } from "../../train/update.ts";
import { nativeAddonRequirement } from "../helpers/requirements.ts";

/**
 * A short training run on the native engine and on tfjs-backend-wasm, from the same init on the same
 * batches, gives the same loss at every step (float32 tolerance). Skipped with the reason printed when
 * the addon cannot be built, unless RANKFUSE_REQUIRE_NATIVE is set: then it fails.
 */
const native = await nativeAddonRequirement();

const STEPS = 6;
const LR = 1e-2;
const RTOL = 1e-4;

function unwrap<T>(e: E.Either<{ message: string }, T>): T {
  if (E.isLeft(e)) throw new Error(e.left.message);
  return e.right;
}

async function losses(method: string, backendName: string): Promise<number[]> {
  // the tiny preset shrunk: d 32 (4 heads of 8), 2 layers, seq 16, batch 2, byte vocabulary
  const cfg = unwrap(resolveConfig("tiny", { d: 32, layers: 2, seq: 16, batch: 2, vocab: 256, dFF: 64, rank: 8 }));
  const model = unwrap(makeModel(method, cfg));
  const backend = unwrap(await loadBackend(backendName));
  // the whole step (gradients and AdamW) runs on each backend, from the same init
  const o = { ...constantLr(LR, 0.01), batch: cfg.batch, seq: cfg.seq, totalSteps: STEPS, seed: 0 };
  const state = unwrap(TrainState.create(model, backend, o, { params: model.init(0) }));
  const rng = Rng.fromSeed(7);
  const n = cfg.batch * cfg.seq;
  const out: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const ids = Int32Array.from({ length: n }, () => rng.nextInt(cfg.vocab));
    const targets = ids.map((t) => (3 * t + 1) % cfg.vocab);
    out.push(unwrap(await state.step(s, ids, targets)).loss);
  }
  state.dispose();
  return out;
}

describe("training on the native backend", () => {
  it.skipIf(native.skip).each(["full", "cola"])("%s: native and wasm losses agree at every step", async (method) => {
    const [nat, wasm] = [await losses(method, "native"), await losses(method, "wasm")];
    expect(nat).toHaveLength(STEPS);
    console.log(
      `nativeTraining ${method}: native ${nat.map((l) => l.toFixed(6)).join(" ")}; wasm ${wasm.map((l) => l.toFixed(6)).join(" ")}`,
    );
    for (let s = 0; s < STEPS; s++) {
      expect(Number.isFinite(nat[s]!)).toBe(true);
      const rel = Math.abs(nat[s]! - wasm[s]!) / Math.abs(wasm[s]!);
      expect(rel, `step ${s + 1}: native ${nat[s]} vs wasm ${wasm[s]}`).toBeLessThanOrEqual(RTOL);
    }
    // the params did move, so the agreement covers the updates too (not just one forward pass)
    expect(Math.abs(nat[STEPS - 1]! - nat[0]!) / nat[0]!).toBeGreaterThan(100 * RTOL);
  });
});
