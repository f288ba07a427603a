import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { makeRelora } from "../../methods/relora/model.ts";
import { mergeAdapter } from "../../methods/relora/ops.ts";
import { reloraPlan, reloraScheme, stepsSinceRestart } from "../../methods/relora/scheme.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { schemeFixture } from "../train/schemeState.ts";

/** ReLoRA's scheme, hook by hook: the jagged lr factor, the merge-and-restart, the optimizer reset. */

const { cfg, model, layout, slots, SCALE, trainedState, ctxAt } = schemeFixture((c) => makeRelora(c), 2);

describe("ReLoRA settings", () => {
  it("default from the run length: a quarter of it per cycle (at least 20), a tenth of a cycle of re-warmup (at least 5), random pruning 0.999", () => {
    expect(reloraPlan(400)).toEqual({
      cycle: 100,
      rewarmup: 10,
      pruning: { kind: "random", ratio: 0.999 },
      warmStart: 0,
    });
    expect(reloraPlan(30)).toMatchObject({ cycle: 20, rewarmup: 5 });
    expect(reloraPlan(500, { warmStart: 100 })).toMatchObject({ cycle: 100, warmStart: 100 });
    expect(reloraPlan(100, { cycle: 3 })).toMatchObject({ cycle: 3, rewarmup: 3 }); // re-warmup never outlasts a cycle
  });

  it("options no run can use are one clear ConfigError", () => {
    for (const bad of [
      { cycle: 0 },
      { cycle: 2.5 },
      { rewarmup: -1 },
      { warmStart: -3 },
      { pruning: { kind: "random" as const, ratio: 1.5 } },
    ]) {
      const r = makeRelora(cfg, bad);
      expect(E.isLeft(r) && r.left.tag === "ConfigError" && r.left.message.startsWith("relora: ")).toBe(true);
    }
  });
});

describe("ReLoRA lrFactor", () => {
  it("is 1 until the first restart, then ramps 0 → 1 over rewarmup steps after each restart", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 400 }),
        (cycle, rw, warmStart, step) => {
          const scheme = reloraScheme({ seed: 1, totalSteps: 500, layout }, SCALE, { cycle, rewarmup: rw, warmStart });
          const rewarmup = Math.min(rw, cycle);
          const restarted = warmStart > 0 ? step >= warmStart : step >= cycle;
          const since = (step - warmStart) % cycle;
          const want = !restarted || since >= rewarmup ? 1 : since / rewarmup;
          expect(scheme.lrFactor!(step)).toBe(want);
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it("matches the jagged shape by hand for cycle 10, rewarmup 4", () => {
    const scheme = reloraScheme({ seed: 1, totalSteps: 40, layout }, SCALE, { cycle: 10, rewarmup: 4 });
    const f = Array.from({ length: 26 }, (_, s) => scheme.lrFactor!(s));
    expect(f).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 1, 0, 0.25, 0.5, 0.75, 1, 1]);
    expect(stepsSinceRestart(9, reloraPlan(40, { cycle: 10 }))).toBeNull();
  });
});

describe("ReLoRA restart (afterStep)", () => {
  const cycle = 3;
  const scheme = () => reloraScheme({ seed: 9, totalSteps: 100, layout }, SCALE, { cycle });

  it("does nothing between restarts", () => {
    const s = trainedState(1);
    const [p0, m0] = [s.params.map((a) => a.slice()), s.adam.state()];
    const sc = scheme();
    sc.afterStep!(ctxAt(0, s));
    sc.afterStep!(ctxAt(1, s));
    expect(s.params).toEqual(p0);
    expect(s.adam.state()).toEqual(m0);
  });

  it(`after every ${cycle} steps: W += (α/r)·A·B, B = 0, A fresh kaiming-uniform; norms, embeddings and head untouched`, () => {
    const s = trainedState(2);
    const before = s.params.map((a) => a.slice());
    scheme().afterStep!(ctxAt(cycle - 1, s));
    const adapterOrW = new Set(slots.flatMap((x) => [x.W, x.A, x.B]));
    for (const x of slots) {
      const want = before[x.W]!.slice();
      mergeAdapter(want, before[x.A]!, before[x.B]!, SCALE, x.fanIn);
      expect(s.params[x.W], x.name).toEqual(want);
      expect(
        s.params[x.B]!.every((v) => v === 0),
        x.name,
      ).toBe(true);
      const a = s.params[x.A]!;
      expect(
        a.every((v, j) => v !== before[x.A]![j]),
        x.name,
      ).toBe(true);
      expect(
        a.every((v) => Math.abs(v) <= 1 / Math.sqrt(x.fanIn)),
        x.name,
      ).toBe(true);
    }
    layout.names.forEach((n, i) => {
      if (!adapterOrW.has(i)) expect(s.params[i], n).toEqual(before[i]);
    });
  });

  it("resets the optimizer state of A and B (most entries zeroed) and leaves every other moment bit-identical", () => {
    const s = trainedState(3);
    const before = s.adam.state();
    scheme().afterStep!(ctxAt(2 * cycle - 1, s));
    const after = s.adam.state();
    const adapters = new Set(slots.flatMap((x) => [x.A, x.B]));
    let entries = 0,
      zeroed = 0;
    layout.names.forEach((n, i) => {
      if (adapters.has(i)) {
        entries += after.m[i]!.length;
        zeroed += after.m[i]!.reduce((k, x) => k + (x === 0 ? 1 : 0), 0);
        expect(after.m[i], n).not.toEqual(before.m[i]);
      } else {
        expect(after.m[i], n).toEqual(before.m[i]);
        expect(after.v[i], n).toEqual(before.v[i]);
      }
    });
    expect(zeroed / entries).toBeGreaterThan(0.99); // 0.999 of them, give or take sampling
    expect(after.step).toBe(before.step);
  });

  it("draws the same fresh A for the same seed and restart, a different one for the next restart", () => {
    const [s1, s2, s3] = [trainedState(4), trainedState(4), trainedState(4)];
    scheme().afterStep!(ctxAt(cycle - 1, s1));
    scheme().afterStep!(ctxAt(cycle - 1, s2));
    scheme().afterStep!(ctxAt(2 * cycle - 1, s3));
    const a = slots[0]!.A;
    expect(s1.params[a]).toEqual(s2.params[a]);
    expect(s1.params[a]).not.toEqual(s3.params[a]);
  });
});

describe("ReLoRA warm start and state", () => {
  it("with warmStart, trains W alone first (adapters frozen), then the adapters alone; the first restart is warmStart + cycle", () => {
    const m = unwrap(makeRelora(cfg, { warmStart: 5, cycle: 4 }));
    expect(m.frozen).toBeUndefined(); // W needs its gradient during the warm start
    const sc = m.scheme!({ seed: 1, totalSteps: 20, layout });
    const isW = new Set(slots.map((x) => x.W)),
      isAB = new Set(slots.flatMap((x) => [x.A, x.B]));
    for (const step of [0, 4]) expect(sc.frozen!(step)).toEqual(layout.names.map((_, i) => isAB.has(i)));
    for (const step of [5, 19]) expect(sc.frozen!(step)).toEqual(layout.names.map((_, i) => isW.has(i)));
    const s = trainedState(5);
    const p0 = s.params.map((a) => a.slice());
    for (const step of [3, 4, 7]) sc.afterStep!(ctxAt(step, s));
    expect(s.params).toEqual(p0);
    sc.afterStep!(ctxAt(8, s));
    expect(s.params[slots[0]!.B]!.every((x) => x === 0)).toBe(true);
  });

  it("without warm start, every W is frozen in the model (no gradient is computed for it) and nothing else is", () => {
    const isW = new Set(slots.map((x) => x.W));
    expect(model.frozen).toEqual(layout.names.map((_, i) => isW.has(i)));
    expect(slots.length).toBe(7 * cfg.layers);
  });

  it("checkpoints its settings and refuses to resume under different ones", () => {
    const a = reloraScheme({ seed: 1, totalSteps: 100, layout }, SCALE, { cycle: 10 });
    expect(E.isRight(reloraScheme({ seed: 1, totalSteps: 100, layout }, SCALE, { cycle: 10 }).restore(a.state()))).toBe(
      true,
    );
    const other = reloraScheme({ seed: 1, totalSteps: 100, layout }, SCALE, { cycle: 11 }).restore(a.state());
    expect(E.isLeft(other) && other.left).toContain("differ");
    expect(a.describe()).toContain("merge every 10 steps");
  });
});
