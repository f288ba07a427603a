import { describe, it } from "vitest";
import { makeSst } from "../../methods/sst/model.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { expectLearned, tinyRun } from "../train/tinyRun.ts";
import { expectResumeEqualsUninterrupted } from "../train/resumeEquality.ts";

/** SST through the real training loop on a tiny model and a learnable repeated sequence. */

const { cfg, options, run } = tinyRun();

// rounds of 2 steps and a re-SVD every 4, so short runs cross several of both
const model = unwrap(makeSst(cfg, { roundSteps: 2, resvdRounds: 2 }));

describe("SST in the training loop", () => {
  it("30 steps: the loss stays finite and falls well below ln(vocab)", async () => {
    expectLearned(await run(model, options({ steps: 30, warmupSteps: 3 })), cfg.vocab);
  });

  it("stopped after step 7 and resumed equals an uninterrupted run across rounds and re-SVDs, bit for bit", async () => {
    await expectResumeEqualsUninterrupted({ options, run }, model, 12, 7);
  });
});
