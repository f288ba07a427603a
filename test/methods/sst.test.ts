import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { AdamMoments } from "../../train/adamMoments.ts";
import { TrainState } from "../../train/trainState.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeSst } from "../../methods/sst/model.ts";
import { sstRoundSteps, sstScheme } from "../../methods/sst/scheme.ts";
import { composeW, sampleWeighted, sstGroups } from "../../methods/sst/ops.ts";
import { Rng } from "../../util/rng.ts";
import type { SchemeContext, TrainableModel, TrainingScheme } from "../../train/scheme.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { allcloseViolation } from "../../testing/allclose.ts";

const cfg = unwrap(
  resolveConfig("tiny", { d: 16, heads: 2, layers: 1, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }),
);
const model = unwrap(makeSst(cfg));
const layout = model.layout;
const groups = sstGroups(layout);
const shapes = layout.shapes.map((s) => [...s]);
const gaussian = (n: number, rng: Rng) => Float32Array.from({ length: n }, () => rng.normal());
const randomGrads = (rng: Rng) =>
  shapes.map((s) =>
    gaussian(
      s.reduce((a, b) => a * b, 1),
      rng,
    ),
  );
const ctxOf = (params: Float32Array[], step: number, adam = AdamMoments.zeros(shapes)): SchemeContext => ({
  step,
  totalSteps: 100,
  params,
  adam,
  layout,
});
/** Which columns of a rows×k matrix differ between a and b. */
const changedColumns = (a: Float32Array, b: Float32Array, rows: number, k: number) =>
  [...Array(k).keys()].filter((c) => [...Array(rows).keys()].some((i) => a[i * k + c] !== b[i * k + c]));

describe("sampleWeighted", () => {
  it("draws distinct indices, and the first draw follows the weights", () => {
    const rng = Rng.fromSeed(1);
    const w = [6, 0, 3, 1];
    const first = [0, 0, 0, 0];
    for (let n = 0; n < 4000; n++) {
      const s = sampleWeighted(w, 2, rng);
      expect(new Set(s).size).toBe(2);
      expect(s).not.toContain(1); // zero weight, never drawn while others remain
      const solo = sampleWeighted(w, 1, rng)[0]!;
      first[solo]++;
    }
    [0.6, 0, 0.3, 0.1].forEach((p, i) => expect(Math.abs(first[i]! / 4000 - p)).toBeLessThan(0.03));
    expect(sampleWeighted([0, 0, 0], 3, rng)).toEqual([0, 1, 2]); // all zero: uniform, still distinct
  });
});

describe("SST scheme", () => {
  it("AdamW skips U and V (the scheme owns them) and trains Σ", () => {
    const frozen = sstScheme({ layout, sampled: 4, seed: 1, totalSteps: 100 }).frozen!(0);
    layout.names.forEach((n, i) => expect(frozen[i], n).toBe(/\.(U|V)$/.test(n)));
  });

  it("within a round only the sampled singular vectors change; the others stay bit-identical", () => {
    const scheme = sstScheme({ layout, sampled: 4, seed: 2, totalSteps: 100, roundSteps: 3 });
    const rng = Rng.fromSeed(3);
    const params = model.init(1);
    const before = params.map((p) => p.slice());
    for (let step = 0; step < 3; step++) scheme.update!(ctxOf(params, step), randomGrads(rng), 0.01);
    const sampled = (scheme.state().meta as { sampled: number[][] }).sampled;
    groups.forEach((g, gi) => {
      expect(sampled[gi]!.length).toBe(4);
      expect(changedColumns(before[g.u]!, params[g.u]!, g.dIn, g.k), g.name).toEqual(sampled[gi]);
      expect(changedColumns(before[g.v]!, params[g.v]!, g.dOut, g.k), g.name).toEqual(sampled[gi]);
      expect(params[g.s]).toEqual(before[g.s]); // Σ is AdamW's
    });
    // the next round draws again
    scheme.update!(ctxOf(params, 3), randomGrads(rng), 0.01);
    const next = (scheme.state().meta as { sampled: number[][] }).sampled;
    expect(next).not.toEqual(sampled);
  });

  it("re-SVD (in training) preserves W, makes U and V orthonormal again and resets Σ's AdamW moments", async () => {
    const inner = sstScheme({ layout, sampled: 4, seed: 2, totalSteps: 100, roundSteps: 2, resvdRounds: 2 });
    /** What the re-SVD did, seen from around the scheme's own afterStep. */
    const seen: { step: number; sigmaMoments: boolean; wKept: (string | null)[] }[] = [];
    const watched: TrainingScheme = {
      ...inner,
      afterStep(ctx) {
        const { params } = ctx;
        const w = groups.map((g) => composeW(g, params[g.u]!, params[g.s]!, params[g.v]!));
        const sigmaMoments = groups.every((g) => ctx.adam.views().m[g.s]!.some((x) => x !== 0));
        inner.afterStep!(ctx);
        const wKept = groups.map((g, gi) =>
          allcloseViolation(composeW(g, params[g.u]!, params[g.s]!, params[g.v]!), w[gi]!, 1e-4, 1e-6),
        );
        seen.push({ step: ctx.step, sigmaMoments, wKept });
      },
    };
    const trained: TrainableModel = { ...model, scheme: () => watched };
    const o = { lr: 0.05, warmupSteps: 0, minLrRatio: 1, weightDecay: 0, clip: 0, totalSteps: 100, seed: 0 };
    const state = unwrap(
      TrainState.create(
        trained,
        referenceBackend(),
        { ...o, batch: cfg.batch, seq: cfg.seq },
        { params: model.init(2) },
      ),
    );
    const rng = Rng.fromSeed(4);
    const n = cfg.batch * cfg.seq;
    for (let step = 0; step < 4; step++) {
      const ids = Int32Array.from({ length: n }, () => rng.nextInt(cfg.vocab));
      unwrap(
        await state.step(
          step,
          ids,
          ids.map((t) => (t + 1) % cfg.vocab),
        ),
      );
    }
    // step 3 ended the 2nd round: the only re-SVD, the only step the scheme asked for the host state
    expect(seen.map((s) => s.step)).toEqual([3]);
    expect(seen[0]!.sigmaMoments).toBe(true); // AdamW trained Σ: there were moments to reset
    groups.forEach((g, gi) => expect(seen[0]!.wKept[gi], g.name).toBeNull());
    const host = await state.read();
    for (const g of groups) {
      const U = host.params[g.u]!;
      for (let a = 0; a < g.k; a++) {
        let s = 0;
        for (let i = 0; i < g.dIn; i++) s += U[i * g.k + a]! ** 2;
        expect(Math.abs(s - 1)).toBeLessThan(1e-5);
      }
      // the reset reached the backend's moments
      expect(host.adam.m[g.s]!.every((x) => x === 0)).toBe(true);
      expect(host.adam.v[g.s]!.every((x) => x === 0)).toBe(true);
    }
    state.dispose();
  });

  it("state() then restore() resumes bit-identically across rounds and a re-SVD", () => {
    const make = () => sstScheme({ layout, sampled: 4, seed: 9, totalSteps: 100, roundSteps: 2, resvdRounds: 2 });
    const rng = Rng.fromSeed(5);
    const grads = Array.from({ length: 8 }, () => randomGrads(rng));
    const runSteps = (s: ReturnType<typeof make>, params: Float32Array[], from: number, to: number) => {
      for (let step = from; step < to; step++) {
        s.update!(ctxOf(params, step), grads[step]!, 0.01);
        s.afterStep!(ctxOf(params, step));
      }
    };
    const a = make(),
      params = model.init(3);
    runSteps(a, params, 0, 3);
    const saved = a.state(),
      savedParams = params.map((p) => p.slice());
    runSteps(a, params, 3, 8);
    const b = make();
    expect(E.isRight(b.restore(saved))).toBe(true);
    runSteps(b, savedParams, 3, 8);
    savedParams.forEach((p, i) => expect(p).toEqual(params[i]));
    expect(b.state()).toEqual(a.state());
    const other = sstScheme({ layout, sampled: 2, seed: 9, totalSteps: 100, roundSteps: 2, resvdRounds: 2 });
    const r = other.restore(saved);
    expect(E.isLeft(r) && r.left).toMatch(/SST settings/);
  });

  it("scales the round with the run, between 5 and 200 steps", () => {
    expect([sstRoundSteps(30), sstRoundSteps(1000), sstRoundSteps(1e6)]).toEqual([5, 20, 200]);
  });
});
