import { describe, expect, it } from "vitest";
import { makeDynamic } from "../../methods/dynamic/model.ts";
import type { TrainOptions } from "../../train/loop.ts";
import { loadCheckpoint, type Checkpoint } from "../../train/checkpoint.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { bits, tinyRun } from "../train/tinyRun.ts";
import { expectResumeEqualsUninterrupted } from "../train/resumeEquality.ts";
import { tempDir } from "../train/tempDir.ts";

/**
 * Dynamic parameter adjustment through the real training loop (2 blocks, phases of 4 steps): what is
 * frozen in a phase really does not change (values and Adam moments bit-identical), what trains does,
 * the run learns, and stopped+resumed equals uninterrupted.
 */

const fixture = tinyRun({ layers: 2 });
const { cfg, run } = fixture;
// a constant lr (minLrRatio 1, no warmup), so a shorter run is exactly the prefix of a longer one
const options = (o: Partial<TrainOptions> = {}): TrainOptions =>
  fixture.options({ warmupSteps: 0, minLrRatio: 1, ...o });

const INTERVAL = 4;
const model = unwrap(makeDynamic(cfg, { interval: INTERVAL, rewarmup: 1 }));
const names = model.layout.names;
const checkpointAfter = async (steps: number): Promise<Checkpoint> => {
  const dir = tempDir();
  await run(model, options({ steps, outDir: dir }));
  return unwrap(loadCheckpoint(dir));
};

/** Compares two states over the params frozen in the phase of `step`: frozen ones identical, the rest moved. */
function expectOnlyTrainableMoved(from: Pick<Checkpoint, "params" | "adam">, to: Checkpoint, step: number) {
  const frozen = model.scheme!({ seed: 3, totalSteps: 100, layout: model.layout }).frozen!(step);
  expect(frozen.some((f) => f) && frozen.some((f) => !f)).toBe(true);
  names.forEach((n, i) => {
    const same = (a: Float32Array, b: Float32Array) => bits(a).join() === bits(b).join();
    if (frozen[i]) {
      expect(same(to.params.values[i]!, from.params.values[i]!), `${n} value`).toBe(true);
      expect(same(to.adam.m[i]!, from.adam.m[i]!) && same(to.adam.v[i]!, from.adam.v[i]!), `${n} moments`).toBe(true);
    } else {
      expect(same(to.params.values[i]!, from.params.values[i]!), `${n} value`).toBe(false);
    }
  });
}

describe("dynamic adjustment in the training loop", () => {
  it("phase 0 (steps 0-3): block 0 trains W, block 1 its adapters; the frozen part keeps its init values and zero moments", async () => {
    const init = model.init(3);
    const zeros = model.layout.shapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
    const c3 = await checkpointAfter(INTERVAL - 1);
    expectOnlyTrainableMoved(
      { params: { names: [...names], shapes: [], values: init }, adam: { step: 0, m: zeros, v: zeros } },
      c3,
      0,
    );
    expect(
      names
        .filter((_, i) => !model.scheme!({ seed: 3, totalSteps: 100, layout: model.layout }).frozen!(0)[i])
        .filter((n) => /^blocks/.test(n) && !/Norm$/.test(n)),
    ).toEqual([
      "blocks.0.q.W",
      "blocks.0.k.W",
      "blocks.0.v.W",
      "blocks.0.o.W",
      "blocks.0.gate.W",
      "blocks.0.up.W",
      "blocks.0.down.W",
      "blocks.1.q.A",
      "blocks.1.q.B",
      "blocks.1.k.A",
      "blocks.1.k.B",
      "blocks.1.v.A",
      "blocks.1.v.B",
      "blocks.1.o.A",
      "blocks.1.o.B",
      "blocks.1.gate.A",
      "blocks.1.gate.B",
      "blocks.1.up.A",
      "blocks.1.up.B",
      "blocks.1.down.A",
      "blocks.1.down.B",
    ]);
  });

  it("phase 1 (steps 4-7): the roles swap, and again only the trainable part moves (from the state right after the switch)", async () => {
    const [c4, c7] = [await checkpointAfter(INTERVAL), await checkpointAfter(2 * INTERVAL - 1)];
    expectOnlyTrainableMoved(c4, c7, INTERVAL);
    // the switch at step 4 merged block 1's adapters: B restarted at 0
    expect(names.filter((n, i) => /^blocks\.\d\.\w+\.B$/.test(n) && c4.params.values[i]!.some((x) => x !== 0))).toEqual(
      [],
    );
  });

  it("24 steps: the loss stays finite and falls well below ln(vocab)", async () => {
    const r = await run(model, options({ steps: 24 }));
    expect(r.losses.every((l) => Number.isFinite(l.loss))).toBe(true);
    expect(r.final.loss).toBeLessThan(Math.log(cfg.vocab) - 0.4);
  });

  it("stopped after step 6 and resumed equals an uninterrupted run across switches, bit for bit", async () => {
    await expectResumeEqualsUninterrupted({ options, run }, model, 10, 6);
  });
});
