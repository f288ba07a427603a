import { describe, expect, it } from "vitest";
import { makeSst } from "../../models/sst.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { unwrap } from "../helpers/gradcheck.ts";
import { bits, quiet, tinyRun } from "./tinyRun.ts";
import { tempDir } from "./tempDir.ts";

/** SST through the real training loop on a tiny model and a learnable repeated sequence. */

const { cfg, options, run } = tinyRun();

// rounds of 2 steps and a re-SVD every 4, so short runs cross several of both
const model = unwrap(makeSst(cfg, { roundSteps: 2, resvdRounds: 2 }));

describe("SST in the training loop", () => {
  it("30 steps: the loss stays finite and falls well below ln(vocab)", async () => {
    const r = await run(model, options({ steps: 30, warmupSteps: 3 }));
    expect(r.losses.every((l) => Number.isFinite(l.loss))).toBe(true);
    expect(r.final.loss).toBeLessThan(Math.log(cfg.vocab) - 0.4);
    const avg = (xs: readonly { loss: number }[]) => xs.reduce((s, l) => s + l.loss, 0) / xs.length;
    expect(avg(r.losses.slice(-5))).toBeLessThan(avg(r.losses.slice(0, 5)) - 0.3);
  });

  it("stopped after step 7 and resumed equals an uninterrupted run across rounds and re-SVDs, bit for bit", async () => {
    const o = { steps: 12 };
    const [dirA, dirB] = [tempDir(), tempDir()];
    const a = await run(model, options({ ...o, outDir: dirA }));
    const stop = new AbortController();
    const b1 = await run(model, options({ ...o, outDir: dirB, signal: stop.signal, progress: quiet((s) => s === 7 && stop.abort()) }));
    expect(b1.stopped).toBe(true);
    const b2 = await run(model, options({ ...o, outDir: dirB, resume: true }));
    expect(b2.resumedFrom).toBe(7);
    expect(b2.losses).toEqual(a.losses);
    const [ca, cb] = [unwrap(loadCheckpoint(dirA)), unwrap(loadCheckpoint(dirB))];
    expect(cb.params.values.map(bits)).toEqual(ca.params.values.map(bits));
    expect(cb.adam.m.map(bits)).toEqual(ca.adam.m.map(bits));
    expect(cb.scheme).toEqual(ca.scheme);
  });
});
