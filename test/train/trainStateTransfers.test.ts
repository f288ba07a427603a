import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadBackend } from "../../backends/index.ts";
import type { Backend } from "../../ir/backend.ts";
import { firaOwned } from "../../methods/fira/optimizer.ts";
import { makeModel } from "../../methods/index.ts";
import { readMetrics } from "../../train/metricsLog.ts";
import { elementCount } from "../../train/params.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import { frozenMask } from "../../train/step.ts";
import { TrainState, type StepReport } from "../../train/trainState.ts";
import { GUIDE_ALPHA, guideSteps } from "../../methods/structuredFfn/selfGuided.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { backendRequirement } from "../helpers/requirements.ts";
import { TINY, batches, stateOptions, tinyModel } from "../helpers/trainStateCases.ts";
import { tinyRun } from "./tinyRun.ts";
import { tempDir } from "./tempDir.ts";

/**
 * What crosses between host and backend per step on the new path (TrainState's `transfers`, the loop's
 * metrics.jsonl): for a method without host work exactly the batch (ids and targets, int32) plus three
 * float32 scalars in, and the loss and gradient norm (two float32) out. A scheme with host work adds
 * exactly what its hooks move: Fira reads every param before the step (its update sees them) and the
 * clipped gradients of the matrices it owns, and writes those matrices back; a self-guided method writes
 * its α (4 bytes) while the guide decays; ReLoRA reads and writes every param and the trainable params'
 * moments at a merge. On native (skipped with the reason printed where the addon does not build, unless
 * RANKFUSE_REQUIRE_NATIVE is set) and on wasm, which always loads.
 */
const native = await backendRequirement("native");
const wasm = unwrap(await loadBackend("wasm"));

const STEPS = 8;
/** ids and targets (int32) and the three float32 scalars of the update. */
const BATCH_IN = 2 * 4 * TINY.batch * TINY.seq + 3 * 4;
/** The loss and the gradient norm. */
const SCALARS_OUT = 3 * 4; // the loss, the gradient norm and the params check

const bytesOf = (model: TrainableModel, which: (i: number) => boolean = () => true) =>
  model.layout.shapes.reduce((s, shape, i) => s + (which(i) ? 4 * elementCount(shape) : 0), 0);

async function run(model: TrainableModel, backend: Backend<any>, steps = STEPS) {
  const state = unwrap(TrainState.create(model, backend, stateOptions(steps), { params: model.init(3) }));
  const reports: StepReport[] = [];
  try {
    const before = state.transfers;
    for (const [s, { ids, targets }] of batches(steps).entries())
      reports.push(unwrap(await state.step(s, ids, targets)));
    const total = state.transfers;
    return { reports, before, total, state };
  } finally {
    state.dispose();
  }
}

const backends = [
  { name: "native", skip: native.skip, title: native.title.bind(native), get: () => native.get() },
  { name: "wasm", skip: false, title: (t: string) => t, get: () => wasm },
];

describe.each(backends)("TrainState transfers on $name", ({ skip, title, get }) => {
  it.skipIf(skip).each(["full", "cola"])(
    title("%s: each step writes the batch and three scalars and reads two scalars, nothing else"),
    async (method) => {
      const model = tinyModel(method);
      const { reports, before, total } = await run(model, get());
      expect(BATCH_IN).toBe(140);
      for (const r of reports) {
        expect(r.transfers).toEqual({ written: BATCH_IN, read: SCALARS_OUT });
        expect([r.stats.bytesWritten, r.stats.bytesRead]).toEqual([BATCH_IN, SCALARS_OUT]);
      }
      // the state's running total is the first write and the steps' transfers
      expect(total.written - before.written).toBe(STEPS * BATCH_IN);
      expect(total.read - before.read).toBe(STEPS * SCALARS_OUT);
    },
  );

  it.skipIf(skip)(title("the state's first write is its params and the trainable params' moments"), async () => {
    const model = tinyModel("relora"); // W is frozen in the model: no moments for it
    const frozen = frozenMask(model);
    expect(frozen.some(Boolean)).toBe(true);
    const { before } = await run(model, get(), 1);
    expect(before).toEqual({ written: bytesOf(model) + 2 * bytesOf(model, (i) => !frozen[i]), read: 0 });
  });

  it.skipIf(skip)(
    title("fira: every param read before the step, the owned matrices' gradients read and their new values written"),
    async () => {
      const model = tinyModel("fira");
      const owned = firaOwned(model.layout);
      const [all, mine] = [bytesOf(model), bytesOf(model, (i) => owned[i]!)];
      expect(mine).toBeGreaterThan(0);
      const { reports } = await run(model, get());
      for (const r of reports) {
        expect(r.transfers).toEqual({ written: BATCH_IN + mine, read: SCALARS_OUT + all + mine });
        // of which the plan's own run moved the batch in, and the loss, norm and owned gradients out
        expect([r.stats.bytesWritten, r.stats.bytesRead]).toEqual([BATCH_IN, SCALARS_OUT + mine]);
      }
    },
  );

  it.skipIf(skip)(title("lowrankFfnGuided: α (4 bytes) written after each step while the guide decays"), async () => {
    const model = tinyModel("lowrankFfnGuided");
    expect(model.layout.names).toContain(GUIDE_ALPHA);
    const active = guideSteps(STEPS, 0.5);
    const { reports } = await run(model, get());
    reports.forEach((r, s) =>
      expect(r.transfers, `step ${s}`).toEqual({ written: BATCH_IN + (s < active ? 4 : 0), read: SCALARS_OUT }),
    );
  });

  it.skipIf(skip)(
    title("relora: every param and the trainable moments cross at a merge, only the batch otherwise"),
    async () => {
      const model = tinyModel("relora"); // merges after steps 4 and 8
      const frozen = frozenMask(model);
      const host = bytesOf(model) + 2 * bytesOf(model, (i) => !frozen[i]);
      const { reports } = await run(model, get());
      reports.forEach((r, s) => {
        const merge = (s + 1) % 4 === 0;
        expect(r.transfers, `step ${s}`).toEqual({
          written: BATCH_IN + (merge ? host : 0),
          read: SCALARS_OUT + (merge ? host : 0),
        });
      });
    },
  );
});

describe("train()'s metrics.jsonl", () => {
  it("has each step's bytesIn and bytesOut (full and fira on wasm), and the result the last step's", async () => {
    const t = tinyRun({}, wasm);
    const batchIn = 2 * 4 * t.cfg.batch * t.cfg.seq + 12;
    for (const method of ["full", "fira"]) {
      const model = unwrap(makeModel(method, t.cfg));
      const owned = firaOwned(model.layout);
      const extra =
        method === "fira"
          ? { in: bytesOf(model, (i) => owned[i]!), out: bytesOf(model) + bytesOf(model, (i) => owned[i]!) }
          : { in: 0, out: 0 };
      const dir = tempDir();
      const r = await t.run(model, t.options({ steps: 6, outDir: dir }));
      const steps = unwrap(readMetrics(path.join(dir, "metrics.jsonl"))).filter((x) => "loss" in x);
      expect(steps.map((x) => x.step)).toEqual([1, 2, 3, 4, 5, 6]);
      for (const x of steps) {
        expect(x.bytesIn, `${method} step ${x.step}`).toBe(batchIn + extra.in);
        expect(x.bytesOut, `${method} step ${x.step}`).toBe(12 + extra.out);
      }
      expect(r.stepTransfers).toEqual({ written: batchIn + extra.in, read: 12 + extra.out });
    }
  });
});
