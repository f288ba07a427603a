import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { AdamMoments } from "../../train/adamMoments.ts";
import { Rng } from "../../util/rng.ts";
import { kaimingUniformA, mergeAdapter, pruneMoments, quantile } from "../../methods/relora/ops.ts";
import { runs } from "../helpers/runs.ts";
import { warmMoments } from "../helpers/textbookAdamw.ts";

/** The between-step operations of LoRA schemes: merge, A's init, and the pruning of adapter moments. */

const randoms = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** Optimizer moments with every entry nonzero, as after a few steps. */
function warmedAdam(shapes: number[][], seed: number): { adam: AdamMoments } {
  return { adam: warmMoments(shapes, Rng.fromSeed(seed)) };
}

describe("mergeAdapter", () => {
  it("adds scale·A·B to W (against a float64 triple loop)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: -2, max: 2, noNaN: true }),
        fc.integer(),
        (i, r, o, scale, seed) => {
          const rng = Rng.fromSeed(seed >>> 0);
          const [w, a, b] = [randoms(rng, i * o), randoms(rng, i * r), randoms(rng, r * o)];
          const merged = w.slice();
          mergeAdapter(merged, a, b, scale, i);
          for (let p = 0; p < i; p++)
            for (let q = 0; q < o; q++) {
              let s = 0;
              for (let k = 0; k < r; k++) s += a[p * r + k]! * b[k * o + q]!;
              expect(merged[p * o + q]).toBe(Math.fround(w[p * o + q]! + scale * s));
            }
        },
      ),
      { numRuns: runs(50) },
    );
  });

  it("with B = 0 leaves W bit-identical", () => {
    const rng = Rng.fromSeed(1);
    const w = randoms(rng, 12),
      before = w.slice();
    mergeAdapter(w, randoms(rng, 6), new Float32Array(8), 0.5, 3);
    expect(w).toEqual(before);
  });
});

describe("kaimingUniformA", () => {
  it("draws every entry inside ±1/√fan_in, filling the range (kaiming_uniform_ with a = √5)", () => {
    const a = new Float32Array(4000);
    kaimingUniformA(a, 64, Rng.fromSeed(2));
    const bound = 1 / 8;
    expect(a.every((x) => Math.abs(x) <= bound)).toBe(true);
    expect(Math.max(...a)).toBeGreaterThan(0.95 * bound);
    expect(Math.min(...a)).toBeLessThan(-0.95 * bound);
    const variance = a.reduce((s, x) => s + x * x, 0) / a.length;
    expect(variance).toBeCloseTo((bound * bound) / 3, 3); // U(-b, b) has variance b²/3
  });
});

describe("quantile", () => {
  it("interpolates linearly between sorted values like torch.quantile", () => {
    expect(quantile([3, 1, 2, 4], 0)).toBe(1);
    expect(quantile([3, 1, 2, 4], 1)).toBe(4);
    expect(quantile([3, 1, 2, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 0], 0.9)).toBeCloseTo(9, 12);
  });
});

describe("pruneMoments", () => {
  const shapes = [
    [40, 50],
    [30, 20],
    [10, 10],
  ];
  const zeroed = (before: Float32Array, after: Float32Array) =>
    after.reduce((n, x, j) => n + (x === 0 && before[j] !== 0 ? 1 : 0), 0);

  for (const ratio of [0.5, 0.9, 0.999]) {
    it(`random ${ratio}: zeroes about that fraction of the listed params' entries, m and v together, and touches nothing else`, () => {
      const { adam } = warmedAdam(shapes, 3);
      const before = adam.state();
      pruneMoments(adam, [0, 1], { kind: "random", ratio }, Rng.fromSeed(4));
      const after = adam.state();
      const n = 2000 + 600;
      const pruned = zeroed(before.m[0]!, after.m[0]!) + zeroed(before.m[1]!, after.m[1]!);
      // binomial(n, ratio): 5 standard deviations
      expect(Math.abs(pruned - ratio * n)).toBeLessThan(5 * Math.sqrt(n * ratio * (1 - ratio)) + 1);
      for (const i of [0, 1]) {
        after.m[i]!.forEach((x, j) => {
          expect(x === 0).toBe(after.v[i]![j] === 0); // kept or zeroed together
          if (x !== 0) expect([x, after.v[i]![j]]).toEqual([before.m[i]![j], before.v[i]![j]]); // survivors unchanged
        });
      }
      expect(after.m[2]).toEqual(before.m[2]);
      expect(after.v[2]).toEqual(before.v[2]);
      expect(after.step).toBe(before.step);
    });
  }

  it("magnitude 0.9: keeps exactly the entries with |m| above the 0.9 quantile of each tensor", () => {
    const { adam } = warmedAdam(shapes, 5);
    const before = adam.state();
    pruneMoments(adam, [0, 1], { kind: "magnitude", ratio: 0.9 }, Rng.fromSeed(6));
    const after = adam.state();
    for (const i of [0, 1]) {
      const mags = before.m[i]!.map(Math.abs);
      const sorted = Float64Array.from(mags).sort();
      const kept = after.m[i]!.reduce((n, x) => n + (x !== 0 ? 1 : 0), 0);
      expect(Math.abs(kept - 0.1 * mags.length)).toBeLessThanOrEqual(1);
      const smallestKept = Math.min(...after.m[i]!.filter((x) => x !== 0).map(Math.abs));
      const largestPruned = Math.max(...before.m[i]!.filter((_, j) => after.m[i]![j] === 0).map(Math.abs));
      expect(smallestKept).toBeGreaterThan(largestPruned);
      expect(smallestKept).toBeGreaterThanOrEqual(sorted[Math.floor(0.9 * (mags.length - 1))]!);
    }
    expect(after.m[2]).toEqual(before.m[2]);
  });
});
