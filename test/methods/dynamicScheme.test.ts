import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { makeDynamic } from "../../methods/dynamic/model.ts";
import { dynamicPlan, dynamicScheme, fullRankGroup } from "../../methods/dynamic/scheme.ts";
import { mergeAdapter } from "../../methods/relora/ops.ts";
import { runs } from "../helpers/runs.ts";
import { schemeFixture } from "../train/schemeState.ts";

/** Dynamic parameter adjustment's scheme, hook by hook: which params train when, and the switch. */

const { cfg, model, layout, slots, SCALE, trainedState, ctxAt } = schemeFixture((c) => makeDynamic(c), 3);
const roleOf = (i: number): { block: number; part: "W" | "A" | "B" } | undefined => {
  const s = slots.find((x) => x.W === i || x.A === i || x.B === i);
  return s && { block: s.block, part: s.W === i ? "W" : s.A === i ? "A" : "B" };
};

describe("dynamic adjustment settings", () => {
  it("default: groups = max(2, layers), about 4 full-rank turns per group, re-warmup a tenth of a phase (at least 2)", () => {
    expect(dynamicPlan(480, 3)).toEqual({ interval: 40, groups: 3, rewarmup: 4 });
    expect(dynamicPlan(480, 1)).toMatchObject({ groups: 2, interval: 60 });
    expect(dynamicPlan(30, 4)).toMatchObject({ interval: 10, rewarmup: 2 });
    expect(E.isLeft(makeDynamic(cfg, { interval: 0 }))).toBe(true);
    expect(E.isLeft(makeDynamic(cfg, { groups: 1.5 }))).toBe(true);
  });

  it("freezes nothing statically: every param's gradient is computed, the scheme masks per step", () => {
    expect(model.frozen).toBeUndefined();
    expect(model.scheme).toBeDefined();
  });
});

describe("dynamic adjustment: the trainable set", () => {
  it("in phase p (interval steps each), blocks of group p mod groups train W only, the others A and B only; the rest always trains", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 200 }),
        (interval, groups, step) => {
          const mask = dynamicScheme({ seed: 1, totalSteps: 200, layout }, SCALE, cfg.layers, { interval, groups })
            .frozen!(step);
          const g = Math.floor(step / interval) % groups;
          layout.names.forEach((n, i) => {
            const r = roleOf(i);
            const fullRank = r !== undefined && r.block % groups === g;
            const want = r === undefined ? false : r.part === "W" ? !fullRank : fullRank;
            expect(mask[i], `${n} at step ${step}`).toBe(want);
          });
        },
      ),
      { numRuns: runs(100) },
    );
  });

  it("changes exactly at the phase boundaries (interval 5: steps 5, 10, 15), cycling through the groups", () => {
    const sc = dynamicScheme({ seed: 1, totalSteps: 40, layout }, SCALE, cfg.layers, { interval: 5 });
    const masks = Array.from({ length: 20 }, (_, s) => JSON.stringify(sc.frozen!(s)));
    const changes = masks.flatMap((m, s) => (s > 0 && m !== masks[s - 1] ? [s] : []));
    expect(changes).toEqual([5, 10, 15]);
    expect(masks[15]).toBe(masks[0]); // 3 groups: back to group 0
    expect([0, 4, 5, 14, 15].map((s) => fullRankGroup(s, dynamicPlan(40, 3, { interval: 5 })))).toEqual([
      0, 0, 1, 2, 0,
    ]);
    // each phase trains some W and some adapter
    for (const m of masks.slice(0, 15)) {
      const frozen = JSON.parse(m) as boolean[];
      expect(slots.some((x) => !frozen[x.W]) && slots.some((x) => !frozen[x.A])).toBe(true);
    }
  });

  it("lr re-warms after each switch: factor (step mod interval) / rewarmup, 1 in the first phase", () => {
    const sc = dynamicScheme({ seed: 1, totalSteps: 40, layout }, SCALE, cfg.layers, { interval: 6, rewarmup: 3 });
    expect(Array.from({ length: 14 }, (_, s) => sc.lrFactor!(s))).toEqual([
      1,
      1,
      1,
      1,
      1,
      1,
      0,
      1 / 3,
      2 / 3,
      1,
      1,
      1,
      0,
      1 / 3,
    ]);
  });
});

describe("dynamic adjustment: the switch (afterStep)", () => {
  const interval = 4;
  const scheme = () => dynamicScheme({ seed: 2, totalSteps: 100, layout }, SCALE, cfg.layers, { interval });

  it("does nothing inside a phase", () => {
    const s = trainedState(1);
    const [p0, m0] = [s.params.map((a) => a.slice()), s.adam.state()];
    for (const step of [0, 1, 2, 4, 6]) scheme().afterStep!(ctxAt(step, s));
    expect(s.params).toEqual(p0);
    expect(s.adam.state()).toEqual(m0);
  });

  it("at a switch: merges every adapter into W and restarts it; zeroes the adapters' moments and those of the W leaving full rank; nothing else", () => {
    const s = trainedState(3);
    const [p0, m0] = [s.params.map((a) => a.slice()), s.adam.state()];
    scheme().afterStep!(ctxAt(2 * interval - 1, s)); // end of phase 1: group 1 leaves full rank
    const m1 = s.adam.state();
    layout.names.forEach((n, i) => {
      const r = roleOf(i);
      if (!r) {
        expect(s.params[i], n).toEqual(p0[i]);
        expect([m1.m[i], m1.v[i]], n).toEqual([m0.m[i], m0.v[i]]);
        return;
      }
      const slot = slots.find((x) => x[r.part] === i)!;
      if (r.part === "W") {
        const want = p0[i]!.slice();
        mergeAdapter(want, p0[slot.A]!, p0[slot.B]!, SCALE, slot.fanIn);
        expect(s.params[i], n).toEqual(want);
        const reset = r.block % 3 === 1;
        expect(
          m1.m[i]!.every((x) => x === 0),
          n,
        ).toBe(reset);
        if (!reset) expect([m1.m[i], m1.v[i]], n).toEqual([m0.m[i], m0.v[i]]);
      } else {
        expect(m1.m[i]!.every((x) => x === 0) && m1.v[i]!.every((x) => x === 0), n).toBe(true);
        if (r.part === "B")
          expect(
            s.params[i]!.every((x) => x === 0),
            n,
          ).toBe(true);
        else expect(s.params[i], n).not.toEqual(p0[i]);
      }
    });
  });

  it("checkpoints its settings and refuses different ones", () => {
    const a = scheme();
    expect(E.isRight(scheme().restore(a.state()))).toBe(true);
    expect(
      E.isLeft(
        dynamicScheme({ seed: 2, totalSteps: 100, layout }, SCALE, cfg.layers, { interval: 5 }).restore(a.state()),
      ),
    ).toBe(true);
  });
});
