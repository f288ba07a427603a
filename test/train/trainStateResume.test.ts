import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { loadBackend } from "../../backends/index.ts";
import type { Backend } from "../../ir/backend.ts";
import { makeRelora } from "../../methods/relora/model.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { readMetrics } from "../../train/metricsLog.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import { TrainState, type HostState, type TrainStateOptions } from "../../train/trainState.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { backendRequirement } from "../helpers/requirements.ts";
import { ALL_METHODS, STEPS, batches, stateOptions, tinyModel } from "../helpers/trainStateCases.ts";
import { bits, quiet, tinyRun } from "./tinyRun.ts";
import { tempDir } from "./tempDir.ts";

/**
 * Resuming on the new path is exact: a TrainState made from another's `read()` and its scheme's
 * `state()` after K steps, run to the end, gives the same losses, gradient norms, params, both moments
 * and scheme state bit for bit as one state run uninterrupted, for every method (each scheme's intervals
 * shortened so boundaries fall on both sides of the split). On native where the addon builds (skipped
 * with the reason printed otherwise, unless RANKFUSE_REQUIRE_NATIVE is set) and on wasm, which always
 * loads. Then the same through the real loop: train() with checkpoints every few steps, "crashed" after
 * a checkpoint (its folder copied mid-run) and resumed, equals the run it was copied from.
 */
const native = await backendRequirement("native");
const wasm = unwrap(await loadBackend("wasm"));

/** Where a run is split: mid-cycle for every scheme (ReLoRA merged after 4, dynamic switched after 3, an SST round began at 4). */
const SPLIT = 5;

interface Run {
  readonly losses: number[];
  readonly norms: number[];
  readonly state: HostState;
  readonly scheme: unknown;
}

async function steps(state: TrainState, from: number, to: number, run: { losses: number[]; norms: number[] }) {
  const data = batches(STEPS);
  for (let s = from; s < to; s++) {
    const r = unwrap(await state.step(s, data[s]!.ids, data[s]!.targets));
    run.losses.push(r.loss);
    run.norms.push(r.gradNorm);
  }
}

async function finish(state: TrainState, run: { losses: number[]; norms: number[] }): Promise<Run> {
  const host = await state.read();
  const scheme = state.scheme?.state();
  state.dispose();
  return { ...run, state: host, scheme };
}

async function uninterrupted(model: TrainableModel, backend: Backend<any>, o: TrainStateOptions): Promise<Run> {
  const state = unwrap(TrainState.create(model, backend, o, { params: model.init(3) }));
  const run = { losses: [] as number[], norms: [] as number[] };
  await steps(state, 0, STEPS, run);
  return finish(state, run);
}

async function resumed(
  model: TrainableModel,
  backend: Backend<any>,
  o: TrainStateOptions,
  split: number = SPLIT,
): Promise<Run> {
  const first = unwrap(TrainState.create(model, backend, o, { params: model.init(3) }));
  const run = { losses: [] as number[], norms: [] as number[] };
  await steps(first, 0, split, run);
  const host = await first.read();
  const scheme = first.scheme?.state();
  first.dispose();
  expect(host.adam.step).toBe(split);
  const second = unwrap(TrainState.create(model, backend, o, { params: host.params, adam: host.adam, scheme }));
  expect(second.updates).toBe(split);
  await steps(second, split, STEPS, run);
  return finish(second, run);
}

function expectSameRun(a: Run, b: Run) {
  expect(b.losses).toEqual(a.losses);
  expect(b.norms).toEqual(a.norms);
  expect(b.state.adam.step).toBe(STEPS);
  expect(b.state.params.map(bits)).toEqual(a.state.params.map(bits));
  expect(b.state.adam.m.map(bits)).toEqual(a.state.adam.m.map(bits));
  expect(b.state.adam.v.map(bits)).toEqual(a.state.adam.v.map(bits));
  expect(b.scheme).toEqual(a.scheme);
}

async function expectResumeExact(method: string, backend: Backend<any>) {
  const model = tinyModel(method);
  const o = stateOptions(STEPS);
  const [a, b] = [await uninterrupted(model, backend, o), await resumed(model, backend, o)];
  expectSameRun(a, b);
  // and the runs trained: a resumed run that never moved would pass the rest trivially
  expect(a.losses[STEPS - 1]).not.toBe(a.losses[0]);
}

describe.skipIf(native.skip)(native.title("TrainState on native: a resumed run equals an uninterrupted one"), () => {
  it.each(ALL_METHODS)("%s", (method) => expectResumeExact(method, native.get()));
});

describe("TrainState on wasm: a resumed run equals an uninterrupted one", () => {
  it.each(ALL_METHODS)("%s", (method) => expectResumeExact(method, wasm));
});

describe("TrainState on wasm: any split point", () => {
  it.each(["relora", "dynamic", "sst"])("%s: resumed after any step equals uninterrupted", async (method) => {
    const model = tinyModel(method);
    const o = stateOptions(STEPS);
    const a = await uninterrupted(model, wasm, o);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: STEPS - 1 }), async (split) =>
        expectSameRun(a, await resumed(model, wasm, o, split)),
      ),
      { numRuns: 4 },
    );
  });
});

describe("train() resumes from a periodic checkpoint exactly", () => {
  it("relora on wasm: checkpoints every 4 steps, a copy taken after step 6 resumes from 4 to the same run", async () => {
    const t = tinyRun({}, wasm);
    const model = unwrap(makeRelora(t.cfg, { cycle: 4, rewarmup: 2 }));
    const [dirA, dirB] = [tempDir(), tempDir()];
    // the copy is the folder as a crash after step 6 would leave it: the checkpoint of step 4, metrics to 6
    const copy = quiet((s) => s === 6 && fs.cpSync(dirA, dirB, { recursive: true }));
    const a = await t.run(model, t.options({ steps: 12, outDir: dirA, checkpointEvery: 4, progress: copy }));
    expect(unwrap(loadCheckpoint(dirB)).step).toBe(4);
    const b = await t.run(model, t.options({ steps: 12, outDir: dirB, checkpointEvery: 4, resume: true }));
    expect(b.resumedFrom).toBe(4);
    expect(b.losses).toEqual(a.losses);
    expect(b.final).toEqual(a.final);
    expect(b.stepTransfers).toEqual(a.stepTransfers);
    // metrics.jsonl: the same records step for step (timings aside), the crashed run's 5 and 6 replaced
    const records = (dir: string) =>
      unwrap(readMetrics(path.join(dir, "metrics.jsonl"))).map(({ ms: _ms, tokPerSec: _tps, ...r }) => r);
    expect(records(dirB)).toEqual(records(dirA));
    expect(records(dirA).filter((r) => "loss" in r)).toHaveLength(12);
    const [ca, cb] = [unwrap(loadCheckpoint(dirA)), unwrap(loadCheckpoint(dirB))];
    expect(cb.step).toBe(12);
    expect(cb.params.values.map(bits)).toEqual(ca.params.values.map(bits));
    expect(cb.adam.m.map(bits)).toEqual(ca.adam.m.map(bits));
    expect(cb.adam.v.map(bits)).toEqual(ca.adam.v.map(bits));
    expect(cb.scheme).toEqual(ca.scheme);
  });
});
