import { describe, expect, it } from "vitest";
import { makeFira } from "../../methods/fira/model.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { firaOwned } from "../../methods/fira/optimizer.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { bits, expectLearned, tinyRun } from "../train/tinyRun.ts";
import { expectResumeEqualsUninterrupted, expectResumeRefused } from "../train/resumeEquality.ts";
import { tempDir } from "../train/tempDir.ts";

/** Fira through the real training loop on a tiny model and a learnable repeated sequence. */

const fixture = tinyRun();
const { cfg, options, run } = fixture;

// a refresh every 3 steps, so short runs cross several projections
const model = unwrap(makeFira(cfg, { gap: 3 }));

describe("Fira in the training loop", () => {
  it("30 steps: the loss stays finite and falls well below ln(vocab)", async () => {
    expectLearned(await run(model, options({ steps: 30, warmupSteps: 3 })), cfg.vocab);
  });

  it("AdamW never touches the matrices Fira owns (zero moments), while Fira moves them", async () => {
    const dir = tempDir();
    await run(model, options({ steps: 4, outDir: dir }));
    const ck = unwrap(loadCheckpoint(dir));
    const init = model.init(3);
    firaOwned(model.layout).forEach((own, i) => {
      if (!own) return;
      expect(
        ck.adam.m[i]!.every((x) => x === 0),
        model.layout.names[i],
      ).toBe(true);
      expect(bits(ck.params.values[i]!), model.layout.names[i]).not.toEqual(bits(init[i]!));
    });
    expect(ck.scheme?.meta).toMatchObject({ scheme: "fira", t: 4 });
  });

  it("stopped after step 7 and resumed equals an uninterrupted run across projection refreshes, bit for bit", async () => {
    await expectResumeEqualsUninterrupted({ options, run }, model, 12, 7);
  });

  it("refuses to resume under different Fira settings", async () => {
    await expectResumeRefused(fixture, model, unwrap(makeFira(cfg, { gap: 5 })), /Fira settings/);
  });
});
