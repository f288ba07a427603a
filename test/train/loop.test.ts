import { describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../../ir/backend.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { loadBackend } from "../../backends/index.ts";
import { type LanguageModel } from "../../models/model.ts";
import { makeModel } from "../../methods/index.ts";
import { train, type TrainOptions, type TrainResult } from "../../train/loop.ts";
import { checkpointPath, loadCheckpoint } from "../../train/checkpoint.ts";
import { readMetrics } from "../../train/metricsLog.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { tempDir } from "./tempDir.ts";
import { bits, quiet, tinyRun } from "./tinyRun.ts";

/**
 * The training loop end to end on a tiny model and synthetic data: a fixed random sequence of 64 tokens,
 * repeated, which a model with 8 tokens of context can learn. Both backends used here are deterministic
 * (reference: float64 kernels; wasm: single-threaded float32), so resumed and uninterrupted runs on
 * one backend must agree bit for bit.
 */

const reference: Backend<any> = referenceBackend();
const { cfg, data, options: tinyOptions } = tinyRun();

// tinyRun's options, with a fingerprint of the settings that matter here unless a test gives its own
const options = (o: Partial<TrainOptions> = {}): TrainOptions => {
  const base = tinyOptions(o);
  return { ...base, fingerprint: o.fingerprint ?? { model: cfg, lr: base.lr, steps: base.steps, seed: base.seed } };
};

const runOn = async (model: LanguageModel, o: TrainOptions, backend: Backend<any>): Promise<TrainResult> => {
  const r = await train(model, backend, data, o);
  if (E.isLeft(r)) throw new Error(`train failed: ${r.left.tag}: ${r.left.message}`);
  return r.right;
};
const run = (model: LanguageModel, o: TrainOptions) => runOn(model, o, reference);
const refused = async (model: LanguageModel, o: TrainOptions): Promise<{ tag: string; message: string }> => {
  const r = await train(model, reference, data, o);
  if (E.isRight(r)) throw new Error("train was expected to refuse, but it ran");
  return r.left;
};

const snapshot = (dir: string) =>
  Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => [f, fs.readFileSync(path.join(dir, f)).toString("hex")]),
  );
/** Metrics records without the wall-clock fields, which legitimately differ between runs. */
const metricsOf = (dir: string) =>
  unwrap(readMetrics(path.join(dir, "metrics.jsonl"))).map(({ ms: _ms, tokPerSec: _t, ...rest }) => rest);

describe.each(["full", "cola"] as const)("train (%s)", (method) => {
  const model: LanguageModel = unwrap(makeModel(method, cfg));

  it("30 steps at lr 1e-2 bring the validation loss well below its starting value", async () => {
    const initial = await run(model, options({ steps: 0 }));
    expect(initial.steps).toBe(0);
    expect(initial.losses).toEqual([]);
    expect(Math.abs(initial.final.loss - Math.log(cfg.vocab))).toBeLessThan(0.5);

    const r = await run(model, options({ steps: 30, warmupSteps: 3, evalEvery: 10 }));
    expect(r.steps).toBe(30);
    expect(r.stopped).toBe(false);
    expect(r.losses.map((l) => l.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(r.losses.every((l) => Number.isFinite(l.loss))).toBe(true);
    expect(r.evals.map((e) => e.step)).toEqual([10, 20, 30]);
    expect(r.evals[2]!.loss).toBe(r.final.loss);
    // the final metrics are consistent with each other (byte tokens: 1 byte per token)
    expect(r.final.ppl).toBeCloseTo(Math.exp(r.final.loss), 10);
    expect(r.final.bitsPerByte).toBeCloseTo(r.final.loss / Math.LN2, 10);
    // about 3.47 -> 2.7 with this seed (0.72 to 1.4 nats over seeds 3..8)
    expect(r.final.loss).toBeLessThan(initial.final.loss - 0.5);
    // validation improves over the run, and the training loss falls too
    expect(r.evals[2]!.loss).toBeLessThan(r.evals[0]!.loss);
    const avg = (xs: readonly { loss: number }[]) => xs.reduce((s, l) => s + l.loss, 0) / xs.length;
    expect(avg(r.losses.slice(-5))).toBeLessThan(avg(r.losses.slice(0, 5)) - 0.4);
  });

  it.each(["reference", "wasm"])(
    "on %s, a run stopped after step 4 and resumed equals an uninterrupted run, bit for bit",
    async (backendName) => {
      const backend = unwrap(await loadBackend(backendName));
      const run = (m: LanguageModel, o: TrainOptions) => runOn(m, o, backend);
      const [dirA, dirB] = [tempDir(), tempDir()];
      const o = { steps: 8, evalEvery: 2, checkpointEvery: 3 };
      const a = await run(model, options({ ...o, outDir: dirA }));
      expect(a.steps).toBe(8);
      expect(a.stopped).toBe(false);

      const controller = new AbortController();
      const seen: number[] = [];
      const b1 = await run(
        model,
        options({
          ...o,
          outDir: dirB,
          signal: controller.signal,
          progress: quiet((step) => (seen.push(step), step === 4 && controller.abort())),
        }),
      );
      expect(seen).toEqual([1, 2, 3, 4]);
      expect(b1.stopped).toBe(true);
      expect(b1.steps).toBe(4);
      expect(b1.resumedFrom).toBe(0);
      expect(b1.losses.map((l) => l.step)).toEqual([1, 2, 3, 4]);
      expect(unwrap(loadCheckpoint(dirB)).step).toBe(4);

      const b2 = await run(model, options({ ...o, outDir: dirB, resume: true }));
      expect(b2.stopped).toBe(false);
      expect(b2.resumedFrom).toBe(4);
      expect(b2.steps).toBe(8);

      // the losses of the two halves, concatenated, are A's losses exactly (and so is B's restored history)
      const concatenated = [...b1.losses, ...b2.losses.filter((l) => l.step > 4)];
      expect(concatenated).toEqual(a.losses);
      expect(b2.losses).toEqual(a.losses);
      expect(b2.evals).toEqual(a.evals);
      expect(b2.final).toEqual(a.final);

      // final params and optimizer state are identical
      const [ca, cb] = [unwrap(loadCheckpoint(dirA)), unwrap(loadCheckpoint(dirB))];
      expect(cb.step).toBe(8);
      expect(cb.params.names).toEqual(ca.params.names);
      expect(cb.params.values.map(bits)).toEqual(ca.params.values.map(bits));
      expect(cb.adam.step).toBe(ca.adam.step);
      expect(cb.adam.m.map(bits)).toEqual(ca.adam.m.map(bits));
      expect(cb.adam.v.map(bits)).toEqual(ca.adam.v.map(bits));
      expect(cb.sampler).toEqual(ca.sampler);
      expect(cb.rng).toEqual(ca.rng);
      // and training did move them away from init
      const init = model.init(3);
      expect(ca.params.values.some((v, i) => bits(v).join() !== bits(init[i]!).join())).toBe(true);

      // the metrics log of the resumed run has each step once, with the same values as A's
      expect(metricsOf(dirB)).toEqual(metricsOf(dirA));
    },
  );

  it("refuses a checkpoint with one corrupted byte, clearly, and leaves the files untouched", async () => {
    const dir = tempDir();
    await run(model, options({ steps: 2, outDir: dir }));
    const file = checkpointPath(dir);
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    fs.writeFileSync(file, bytes);
    const before = snapshot(dir);
    const err = await refused(model, options({ steps: 4, outDir: dir, resume: true }));
    expect(err.tag).toBe("CheckpointError");
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/is corrupt: checksum mismatch/);
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
    expect(snapshot(dir)).toEqual(before);
  });

  it("refuses to resume with a different config, naming the differing key", async () => {
    const dir = tempDir();
    await run(model, options({ steps: 2, outDir: dir, lr: 1e-2 }));
    const before = snapshot(dir);
    const err = await refused(model, options({ steps: 2, outDir: dir, resume: true, lr: 2e-2 }));
    expect(err.tag).toBe("CheckpointError");
    expect(err.message).toContain(checkpointPath(dir));
    expect(err.message).toContain("checkpoint was made with lr=0.01, this run has lr=0.02");
    // only the key that changed is named
    expect(err.message).not.toMatch(/\b(seed|model|steps)=/);
    expect(err.message).not.toContain(";");
    expect(snapshot(dir)).toEqual(before);
  });

  it("refuses a fresh run in a directory that has a checkpoint, and does not overwrite it", async () => {
    const dir = tempDir();
    await run(model, options({ steps: 2, outDir: dir }));
    const before = snapshot(dir);
    const err = await refused(model, options({ steps: 2, outDir: dir, resume: false, seed: 9 }));
    expect(err.tag).toBe("CheckpointError");
    expect(err.message).toContain(`${checkpointPath(dir)} exists`);
    // in the API's terms, not the command line's
    expect(err.message).toContain("set resume: true to continue it, or choose another outDir");
    expect(err.message).not.toMatch(/--/);
    expect(snapshot(dir)).toEqual(before);
    // the checkpoint still loads and is the first run's
    expect(unwrap(loadCheckpoint(dir)).step).toBe(2);
  });
});
