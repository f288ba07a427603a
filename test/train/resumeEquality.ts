import { expect } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../../ir/backend.ts";
import type { LanguageModel } from "../../models/model.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { train, type TrainData, type TrainOptions, type TrainResult } from "../../train/loop.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { bits, quiet } from "./tinyRun.ts";
import { tempDir } from "./tempDir.ts";

/** How a method test trains: its options (over the fixture's defaults) and its runner. */
export interface Trainer {
  readonly options: (o?: Partial<TrainOptions>) => TrainOptions;
  readonly run: (m: LanguageModel, o: TrainOptions) => Promise<TrainResult>;
}

/**
 * Trains `steps` steps uninterrupted, and again in another folder stopped after step `stopAt` and resumed,
 * then asserts the two runs are the same bit for bit: the step losses, the final evaluation, and the last
 * checkpoints' params, both Adam moments and the scheme's own state. Determinism is what makes resuming
 * trustworthy, so every method with state of its own (projections, rounds, restarts, phases) checks it.
 */
export async function expectResumeEqualsUninterrupted(
  t: Trainer,
  model: LanguageModel,
  steps: number,
  stopAt: number,
): Promise<void> {
  const [dirA, dirB] = [tempDir(), tempDir()];
  const a = await t.run(model, t.options({ steps, outDir: dirA }));
  const stop = new AbortController();
  const b1 = await t.run(
    model,
    t.options({ steps, outDir: dirB, signal: stop.signal, progress: quiet((s) => s === stopAt && stop.abort()) }),
  );
  expect(b1.stopped).toBe(true);
  const b2 = await t.run(model, t.options({ steps, outDir: dirB, resume: true }));
  expect(b2.resumedFrom).toBe(stopAt);
  expect(b2.losses).toEqual(a.losses);
  expect(b2.final).toEqual(a.final);
  const [ca, cb] = [unwrap(loadCheckpoint(dirA)), unwrap(loadCheckpoint(dirB))];
  expect(cb.params.values.map(bits)).toEqual(ca.params.values.map(bits));
  expect(cb.adam.m.map(bits)).toEqual(ca.adam.m.map(bits));
  expect(cb.adam.v.map(bits)).toEqual(ca.adam.v.map(bits));
  expect(cb.scheme).toEqual(ca.scheme);
}

/**
 * Trains `model` 3 steps, then tries to resume that run with `changed` (the same method under other
 * settings) and asserts the loop refuses with `message`: resuming under other settings would silently
 * mix two schedules.
 */
export async function expectResumeRefused(
  t: Trainer & { backend: Backend<any>; data: TrainData },
  model: LanguageModel,
  changed: LanguageModel,
  message: RegExp,
): Promise<void> {
  const dir = tempDir();
  await t.run(model, t.options({ steps: 3, outDir: dir }));
  const r = await train(changed, t.backend, t.data, t.options({ steps: 6, outDir: dir, resume: true }));
  expect(E.isLeft(r) && r.left.message).toMatch(message);
}
