import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import { makeModel } from "../../methods/index.ts";
import { train, type TrainData, type TrainOptions, type TrainResult } from "../../train/loop.ts";
import { compileTrainStep } from "../../train/step.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import type { SchemeContext, SchemeState, TrainingScheme } from "../../train/scheme.ts";
import type { Progress } from "../../train/progress.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { tempDir } from "./tempDir.ts";

/**
 * How the loop drives a training scheme: frozen params get no gradient and never move; a scheme's
 * `frozen` params are left to its `update`; `lrFactor` scales the lr it sees; its state is checkpointed
 * and a resumed run equals an uninterrupted one.
 */
const backend = referenceBackend();
const cfg: ModelConfig = unwrap(
  resolveConfig("tiny", { d: 16, heads: 2, layers: 1, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }),
);
const rng = Rng.fromSeed(5);
const tokens = Int32Array.from({ length: 2048 }, () => rng.nextInt(cfg.vocab));
const data: TrainData = { train: tokens, val: tokens.slice(0, 512), bytesPerToken: 1 };
const quiet = (onUpdate: (step: number) => void = () => {}): Progress => ({
  update: (s) => onUpdate(s),
  log: () => {},
  done: () => {},
});
const options = (o: Partial<TrainOptions> = {}): TrainOptions => ({
  steps: 6,
  batch: cfg.batch,
  seq: cfg.seq,
  lr: 1e-2,
  warmupSteps: 1,
  minLrRatio: 0.1,
  weightDecay: 0.01,
  clip: 1,
  seed: 3,
  evalEvery: 0,
  evalBatches: 2,
  checkpointEvery: 0,
  resume: false,
  progress: quiet(),
  fingerprint: { cfg },
  ...o,
});
const run = async (m: TrainableModel, o: TrainOptions): Promise<TrainResult> => {
  const r = await train(m, backend, data, o);
  if (E.isLeft(r)) throw new Error(r.left.message);
  return r.right;
};

const base = unwrap(makeModel("full", cfg));
const idx = (name: string) => base.layout.names.indexOf(name);
const [FROZEN, OWNED] = [idx("blocks.0.q"), idx("blocks.0.k")];

/** A scheme that owns one param (plain SGD on it, counting its updates) and halves the lr on odd steps. */
function sgdScheme(log: { lrs: number[]; owned: number[] }): TrainingScheme {
  let updates = 0;
  return {
    lrFactor: (step) => (step % 2 ? 0.5 : 1),
    frozen: () => base.layout.names.map((_, i) => i === OWNED),
    update(ctx: SchemeContext, grads, lr) {
      const [p, g] = [ctx.params[OWNED]!, grads[OWNED]!];
      for (let j = 0; j < p.length; j++) p[j] = p[j]! - lr * g[j]!;
      updates++;
      log.lrs.push(lr);
    },
    afterStep: () => void log.owned.push(updates),
    state: (): SchemeState => ({
      tensors: { marker: { shape: [1], data: Float32Array.of(updates) } },
      meta: { updates },
    }),
    restore(s) {
      const u = (s.meta as { updates?: unknown })?.updates;
      if (typeof u !== "number" || s.tensors.marker?.data[0] !== u) return E.left("inconsistent state");
      updates = u;
      return E.right(undefined);
    },
    describe: () => "test scheme",
  };
}

describe("training schemes in the loop", () => {
  it("computes no gradient for a model's frozen params and never changes them", async () => {
    const frozen = base.layout.names.map((_, i) => i === FROZEN);
    const model: TrainableModel = { ...base, frozen };
    const step = unwrap(compileTrainStep(model, backend, cfg.batch, cfg.seq));
    const params = model.init(1);
    const r = unwrap(await step.run(params, tokens.slice(0, 16), tokens.slice(1, 17)));
    expect(r.grads[FROZEN]!.length).toBe(0);
    expect(r.grads.filter((g, i) => i !== FROZEN).every((g) => g.length > 0 && g.some((x) => x !== 0))).toBe(true);
    // the same loss as the model without frozen params
    const full = unwrap(
      await unwrap(compileTrainStep(base, backend, cfg.batch, cfg.seq)).run(
        params,
        tokens.slice(0, 16),
        tokens.slice(1, 17),
      ),
    );
    expect(r.loss).toBe(full.loss);
    expect(r.grads[OWNED]).toEqual(full.grads[OWNED]);
  });

  it("lets the scheme update the params it owns at the lr it scales, and AdamW the rest", async () => {
    const dir = tempDir();
    const log = { lrs: [] as number[], owned: [] as number[] };
    const frozen = base.layout.names.map((_, i) => i === FROZEN);
    const model: TrainableModel = { ...base, frozen, scheme: () => sgdScheme(log) };
    const init = model.init(3);
    await run(model, options({ outDir: dir }));
    const ck = unwrap(loadCheckpoint(dir));
    expect(ck.params.values[FROZEN]).toEqual(init[FROZEN]);
    expect(ck.params.values[OWNED]).not.toEqual(init[OWNED]);
    // AdamW never touched the owned param's moments, nor the frozen one's
    for (const i of [FROZEN, OWNED]) expect(ck.adam.m[i]!.every((x) => x === 0)).toBe(true);
    expect(ck.adam.m[idx("blocks.0.v")]!.some((x) => x !== 0)).toBe(true);
    expect(log.owned).toEqual([1, 2, 3, 4, 5, 6]);
    expect(log.lrs[1]! / log.lrs[0]!).toBeLessThan(0.6); // step 1 is halved
    expect(ck.scheme?.meta).toEqual({ updates: 6 });
  });

  it("checkpoints the scheme's state: stopped and resumed equals uninterrupted", async () => {
    const logA = { lrs: [] as number[], owned: [] as number[] };
    const a = await run({ ...base, scheme: () => sgdScheme(logA) }, options({ outDir: tempDir() }));
    const dir = tempDir();
    const logB = { lrs: [] as number[], owned: [] as number[] };
    const model = { ...base, scheme: () => sgdScheme(logB) };
    const stop = new AbortController();
    const b1 = await run(
      model,
      options({ outDir: dir, signal: stop.signal, progress: quiet((s) => s === 3 && stop.abort()) }),
    );
    expect(b1.stopped).toBe(true);
    const b2 = await run(model, options({ outDir: dir, resume: true }));
    expect(b2.losses).toEqual(a.losses);
    expect(b2.final.loss).toBe(a.final.loss);
    // the resumed scheme continued counting from 3, so its state was restored, not restarted
    expect(logB.owned).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("refuses a checkpoint without the scheme's state", async () => {
    const dir = tempDir();
    await run(base, options({ outDir: dir }));
    const r = await train(
      { ...base, scheme: () => sgdScheme({ lrs: [], owned: [] }) },
      backend,
      data,
      options({ outDir: dir, resume: true }),
    );
    expect(E.isLeft(r) && r.left.message).toMatch(/no state for full's training scheme/);
  });
});
