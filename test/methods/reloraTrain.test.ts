import { describe, expect, it } from "vitest";
import { makeRelora } from "../../methods/relora/model.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { loraSlots } from "../../methods/relora/ops.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { bits, expectLearned, tinyRun } from "../train/tinyRun.ts";
import { expectResumeEqualsUninterrupted, expectResumeRefused } from "../train/resumeEquality.ts";
import { tempDir } from "../train/tempDir.ts";

/**
 * ReLoRA through the real training loop on a tiny model and a learnable repeated sequence: it learns
 * across restarts, W moves only at merges, and a run stopped and resumed equals an uninterrupted one.
 */

const fixture = tinyRun();
const { cfg, options, run } = fixture;

const model = unwrap(makeRelora(cfg, { cycle: 5, rewarmup: 1 }));
const slots = loraSlots(model.layout);

describe("ReLoRA in the training loop", () => {
  it("30 steps with a restart every 5: the loss stays finite and falls well below ln(vocab)", async () => {
    // about 3.47 -> 2.9 (full rank: 2.67); the embeddings and head train fully, the blocks through adapters
    expectLearned(await run(model, options({ steps: 30, warmupSteps: 3 })), cfg.vocab);
  });

  it("W stays bit-identical (and its moments zero) until the first merge, then absorbs the adapter while B restarts at zero", async () => {
    const init = model.init(3);
    const [before, after] = [tempDir(), tempDir()];
    await run(model, options({ steps: 4, outDir: before }));
    await run(model, options({ steps: 5, outDir: after }));
    const [c4, c5] = [unwrap(loadCheckpoint(before)), unwrap(loadCheckpoint(after))];
    for (const s of slots) {
      expect(bits(c4.params.values[s.W]!), s.name).toEqual(bits(init[s.W]!));
      expect(
        c4.adam.m[s.W]!.every((x) => x === 0),
        s.name,
      ).toBe(true);
      expect(
        c4.params.values[s.B]!.some((x) => x !== 0),
        s.name,
      ).toBe(true); // the adapter trained
      expect(bits(c5.params.values[s.W]!), s.name).not.toEqual(bits(init[s.W]!)); // merged
      expect(
        c5.params.values[s.B]!.every((x) => x === 0),
        s.name,
      ).toBe(true); // restarted
    }
    expect(c5.scheme?.meta).toMatchObject({ scheme: "relora", cycle: 5 });
  });

  it("stopped after step 7 and resumed equals an uninterrupted run across restarts, bit for bit", async () => {
    await expectResumeEqualsUninterrupted({ options, run }, model, 12, 7);
  });

  it("refuses to resume under different ReLoRA settings", async () => {
    await expectResumeRefused(fixture, model, unwrap(makeRelora(cfg, { cycle: 6, rewarmup: 1 })), /ReLoRA settings/);
  });
});
