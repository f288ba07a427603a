import { describe, expect, it } from "vitest";
import { type LanguageModel } from "../../models/model.ts";
import { makeModel } from "../../methods/index.ts";
import type { TrainOptions } from "../../train/loop.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { guideAlphaAt, guideSteps, selfGuidedScheme } from "../../methods/structuredFfn/selfGuided.ts";
import { AdamMoments } from "../../train/adamMoments.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { tempDir } from "../train/tempDir.ts";
import { bits, quiet, tinyRun } from "../train/tinyRun.ts";

const fixture = tinyRun();
const { cfg } = fixture;
const model: LanguageModel = unwrap(makeModel("lowrankFfnGuided", cfg));
const idx = (name: string) => model.layout.names.indexOf(name);

describe("self-guided scheme", () => {
  it("α follows ½(1 + cos(π·s/S)) over the first half, then stays 0", () => {
    expect(guideSteps(100, 0.5)).toBe(50);
    expect(guideSteps(1, 0.5)).toBe(1);
    expect(guideAlphaAt(0, 50)).toBe(1);
    expect(guideAlphaAt(25, 50)).toBeCloseTo(0.5, 12);
    expect(guideAlphaAt(10, 50)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 5)), 12);
    expect(guideAlphaAt(50, 50)).toBe(0);
    expect(guideAlphaAt(80, 50)).toBe(0);
    for (let s = 1; s < 50; s++) expect(guideAlphaAt(s, 50)).toBeLessThan(guideAlphaAt(s - 1, 50));
  });

  it("writes α after each step, and freezes the guides (only) once α is 0", () => {
    const scheme = selfGuidedScheme({ seed: 0, totalSteps: 10, layout: model.layout });
    expect(model.init(0)[idx("guideAlpha")]![0]).toBe(1);
    for (let step = 0; step < 10; step++) {
      const frozen = scheme.frozen!(step);
      model.layout.names.forEach((n, i) => expect(frozen[i], n).toBe(step >= 5 && /\.guide$/.test(n)));
      // it asks only to write α, during the guide phase: the host gives it zeroed α and empty others
      const need = scheme.hostAfterStep!(step);
      expect(need, `step ${step}`).toEqual(step < 5 ? { writes: [idx("guideAlpha")] } : "none");
      if (need === "none") continue;
      const writes = typeof need === "object" ? need.writes : [];
      const params = model.layout.shapes.map((s, i) =>
        writes.includes(i) ? new Float32Array(s.reduce((a, b) => a * b, 1)) : new Float32Array(0),
      );
      scheme.afterStep!({ step, totalSteps: 10, params, adam: AdamMoments.zeros([]), layout: model.layout });
      expect(params[idx("guideAlpha")]![0]).toBe(Math.fround(guideAlphaAt(step + 1, 5)));
    }
  });
});

const options = (o: Partial<TrainOptions>): TrainOptions =>
  fixture.options({ steps: 12, evalBatches: 2, ...o, fingerprint: { model: cfg, steps: o.steps ?? 12 } });
const run = (o: TrainOptions) => fixture.run(model, o);

describe("lowrankFfn training", () => {
  it("learns, ends with α = 0, leaves the guide untouched after α reaches 0, and resumes bit for bit", async () => {
    const [dirA, dirB, dirHalf] = [tempDir(), tempDir(), tempDir()];
    const a = await run(options({ outDir: dirA }));
    expect(a.losses.every((l) => Number.isFinite(l.loss))).toBe(true);
    const avg = (xs: readonly { loss: number }[]) => xs.reduce((s, l) => s + l.loss, 0) / xs.length;
    expect(avg(a.losses.slice(-3))).toBeLessThan(avg(a.losses.slice(0, 3)) - 0.2);
    const end = unwrap(loadCheckpoint(dirA));
    expect(end.params.values[idx("guideAlpha")]![0]).toBe(0);

    // the guide phase is the first 6 steps: a run stopped at step 6 has the guide the full run ends with
    const c1 = new AbortController();
    await run(options({ outDir: dirHalf, signal: c1.signal, progress: quiet((s) => s === 6 && c1.abort()) }));
    const half = unwrap(loadCheckpoint(dirHalf));
    expect(half.step).toBe(6);
    expect(half.params.values[idx("guideAlpha")]![0]).toBe(0);
    const guides = model.layout.names.flatMap((n, i) => (/\.guide$/.test(n) ? [i] : []));
    const structured = model.layout.names.flatMap((n, i) => (/\.(U|V)$/.test(n) ? [i] : []));
    guides.forEach((i) => expect(bits(end.params.values[i]!)).toEqual(bits(half.params.values[i]!)));
    structured.forEach((i) => expect(bits(end.params.values[i]!)).not.toEqual(bits(half.params.values[i]!))); // while the structured maps keep training

    // stopped inside the guide phase (α between 0 and 1) and resumed: equal to the uninterrupted run
    const c2 = new AbortController();
    await run(options({ outDir: dirB, signal: c2.signal, progress: quiet((s) => s === 3 && c2.abort()) }));
    expect(unwrap(loadCheckpoint(dirB)).params.values[idx("guideAlpha")]![0]).toBe(Math.fround(guideAlphaAt(3, 6)));
    await run(options({ outDir: dirB, resume: true }));
    const resumed = unwrap(loadCheckpoint(dirB));
    expect(resumed.params.values.map(bits)).toEqual(end.params.values.map(bits));
  });
});
