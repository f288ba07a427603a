import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { firaMatrixStep, newMatrixState, wideShape, type FiraHyper } from "../../methods/fira/matrix.ts";
import { firaGap, firaOwned, firaScheme } from "../../methods/fira/optimizer.ts";
import { jsGemm } from "../../util/linalg/gemm.ts";
import { nativeHostKernels } from "../../backends/native/hostKernels.ts";
import { Rng } from "../../util/rng.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeFira } from "../../methods/fira/model.ts";
import type { SchemeUpdateContext } from "../../train/scheme.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { runs } from "../helpers/runs.ts";
import { nativeAddonRequirement } from "../helpers/requirements.ts";
import { TextbookAdamW } from "../helpers/textbookAdamw.ts";

const native = await nativeAddonRequirement();

const hyper = (o: Partial<FiraHyper> = {}): FiraHyper => ({
  rank: 4,
  alpha: 1,
  gap: 1000,
  gamma: 1.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: EPS,
  weightDecay: 0,
  ...o,
});
/**
 * Comparisons with AdamW (the float64 textbook one) use a negligible ε: Fira (like its authors' code) adds ε to √v and folds bias
 * correction into the step size, AdamW adds it to √v̂, so they differ where an entry's |g| nears ε.
 */
const EPS = 1e-30;
const gaussian = (n: number, rng: Rng, scale = 1) => Float32Array.from({ length: n }, () => scale * rng.normal());

/** An m×n matrix with distinct nonzero entries on its diagonal only: its singular vectors are signed unit vectors. */
const diagonal = (m: number, n: number) => {
  const g = new Float32Array(m * n);
  for (let i = 0; i < Math.min(m, n); i++) g[i * n + i] = (i % 2 ? -1 : 1) * (1 + i);
  return g;
};

describe("Fira on one matrix", () => {
  it("at full rank with a signed-permutation projection, equals AdamW on the same gradients (α = 1)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), fc.integer(), (m, n, seed) => {
        const rng = Rng.fromSeed(seed);
        const w0 = gaussian(m * n, rng);
        const fira = w0.slice(),
          adam = [w0.slice()];
        const shape = wideShape(m, n, Math.min(m, n));
        const st = newMatrixState(shape);
        const opt = new TextbookAdamW([[m, n]], { eps: EPS });
        // the first gradient fixes P (no refresh later); Adam's elementwise moments commute only with signed permutations
        const grads = [diagonal(m, n), ...Array.from({ length: 4 }, () => gaussian(m * n, rng))];
        grads.forEach((g, t) => {
          firaMatrixStep(fira, g, shape, st, hyper({ rank: shape.r }), t + 1, 0.01, rng, jsGemm);
          opt.step(adam, [g], 0.01);
        });
        expect(allcloseViolation(fira, adam[0]!, 1e-5, 1e-6)).toBeNull();
      }),
      { numRuns: runs(30) },
    );
  });

  it("at full rank in any basis, is Adam on the projected gradient R = Pᵀ·G mapped back by P (the residual vanishes)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: 0.1, max: 1, noNaN: true }),
        fc.integer(),
        (m, n, alpha, seed) => {
          const rng = Rng.fromSeed(seed);
          const shape = wideShape(m, n, Math.min(m, n));
          const { a, b, r } = shape;
          const w = new Float32Array(m * n);
          const st = newMatrixState(shape);
          const projected = [new Float32Array(r * b)];
          const opt = new TextbookAdamW([[r, b]], { eps: EPS });
          for (let t = 1; t <= 4; t++) {
            const g = gaussian(m * n, rng);
            firaMatrixStep(w, g, shape, st, hyper({ rank: r, alpha }), t, 0.01, rng, jsGemm);
            const gw = shape.transposed ? transpose(g, m, n) : g;
            opt.step(projected, [jsGemm(st.p, gw, r, a, b, true, false)], 0.01);
          }
          // W (wide) = α·P·(Adam's R), as W started at 0
          const back = jsGemm(st.p, projected[0]!, a, r, b).map((x) => alpha * x);
          const wide = shape.transposed ? transpose(w, m, n) : w;
          expect(allcloseViolation(wide, back, 1e-4, 1e-6)).toBeNull();
        },
      ),
      { numRuns: runs(30) },
    );
  });

  /**
   * Gradients G₀ + c·E: G₀ (rank 2) fixes P, E is mostly outside P. Ŝ = φ ⊙ S with φ ≈ ‖N‖/‖R‖ grows
   * with the residual's share of the gradient, i.e. with c.
   */
  const residualNorms = (scales: readonly number[], gamma: number) => {
    const [m, n] = [6, 9];
    const rng = Rng.fromSeed(5);
    const u = gaussian(m * 2, rng, 10),
      v = gaussian(2 * n, rng),
      e = gaussian(m * n, rng);
    const g0 = jsGemm(u, v, m, 2, n);
    const shape = wideShape(m, n, 2),
      st = newMatrixState(shape);
    const w = new Float32Array(m * n);
    return scales.map(
      (c, t) =>
        firaMatrixStep(
          w,
          g0.map((x, i) => x + c * e[i]!),
          shape,
          st,
          hyper({ rank: 2, gamma }),
          t + 1,
          0.01,
          rng,
          jsGemm,
        ).residualNorm,
    );
  };

  it("the limiter caps the residual's norm growth at γ: ‖Ŝₜ‖ = min(raw, γ·‖Ŝₜ₋₁‖)", () => {
    const scales = [1e-2, 1e-1, 1, 10, 100];
    const raw = residualNorms(scales, 1e300); // a limiter that never triggers
    const limited = residualNorms(scales, 1.01);
    expect(limited[0]).toBe(raw[0]);
    for (let t = 1; t < raw.length; t++) {
      expect(raw[t]! / limited[t - 1]!).toBeGreaterThan(1.01); // the limiter had work to do
      expect(limited[t]! / limited[t - 1]!).toBeCloseTo(1.01, 5);
      expect(limited[t]).toBeCloseTo(Math.min(raw[t]!, 1.01 * (limited[t - 1]! + 1e-8)), 8);
    }
  });

  it("leaves a residual that grows less than γ untouched", () => {
    const scales = [1, 0.5, 0.25, 0.125];
    const [raw, limited] = [residualNorms(scales, 1e300), residualNorms(scales, 1.01)];
    for (let t = 1; t < raw.length; t++) {
      expect(raw[t]! / raw[t - 1]!).toBeLessThan(1.01);
      expect(limited[t]).toBe(raw[t]);
    }
  });

  it("applies decoupled weight decay after the update: W ← (W − step)·(1 − lr·wd)", () => {
    const [m, n] = [4, 6];
    const rng = Rng.fromSeed(7);
    const w0 = gaussian(m * n, rng),
      g = gaussian(m * n, rng);
    const step = (wd: number) => {
      const w = w0.slice(),
        shape = wideShape(m, n, 2);
      firaMatrixStep(
        w,
        g,
        shape,
        newMatrixState(shape),
        hyper({ rank: 2, weightDecay: wd, alpha: 0.25 }),
        1,
        0.1,
        Rng.fromSeed(1),
        jsGemm,
      );
      return w;
    };
    const [plain, decayed] = [step(0), step(0.5)];
    expect(
      allcloseViolation(
        decayed,
        plain.map((x) => x * (1 - 0.1 * 0.5)),
        1e-6,
        1e-7,
      ),
    ).toBeNull();
    expect(allcloseViolation(plain, w0, 0, 1e-4)).not.toBeNull(); // the step did move W
  });

  it.skipIf(native.skip)("the native GEMM and the JavaScript one give the same step to float32 rounding", () => {
    native.get();
    const host = nativeHostKernels();
    if (E.isLeft(host) || !host.right.gemm)
      throw new Error(`the addon loaded but offers no GEMM: ${E.isLeft(host) ? host.left : "gemm missing"}`);
    const [m, n] = [12, 20];
    const rng = Rng.fromSeed(9);
    const g = gaussian(m * n, rng);
    const step = (gemm: typeof jsGemm) => {
      const w = new Float32Array(m * n),
        shape = wideShape(m, n, 4);
      firaMatrixStep(w, g, shape, newMatrixState(shape), hyper({ alpha: 0.25 }), 1, 0.01, Rng.fromSeed(2), gemm);
      return w;
    };
    expect(allcloseViolation(step(host.right.gemm), step(jsGemm), 1e-4, 1e-7)).toBeNull();
  });
});

describe("Fira as a training scheme", () => {
  const cfg = unwrap(
    resolveConfig("tiny", { d: 16, heads: 2, layers: 2, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }),
  );
  const model = unwrap(makeFira(cfg));
  const layout = model.layout;

  it("owns exactly the seven projection matrices of each block; AdamW keeps embeddings, norms and head", () => {
    const owned = firaOwned(layout);
    expect(layout.names.filter((_, i) => owned[i])).toEqual(
      [0, 1].flatMap((l) => ["q", "k", "v", "o", "gate", "up", "down"].map((p) => `blocks.${l}.${p}`)),
    );
    expect(model.scheme!({ seed: 1, totalSteps: 10, layout }).frozen!(0)).toEqual(owned);
  });

  it("scales the projection refresh interval with the run, between 20 and 200 steps", () => {
    expect([firaGap(30), firaGap(5000), firaGap(100_000)]).toEqual([20, 100, 200]);
  });

  it("state() then restore() resumes bit-identically, across projection refreshes", () => {
    const rng = Rng.fromSeed(3);
    const grads = Array.from({ length: 6 }, () =>
      layout.shapes.map((s) =>
        gaussian(
          s.reduce((x, y) => x * y, 1),
          rng,
        ),
      ),
    );
    const ctx = (params: Float32Array[], step: number): SchemeUpdateContext => ({
      step,
      totalSteps: 6,
      params,
      layout,
    });
    const make = () => firaScheme({ layout, rank: 4, seed: 11, totalSteps: 6, gap: 2 });
    const a = make(),
      params = model.init(1);
    for (let t = 0; t < 3; t++) a.update!(ctx(params, t), grads[t]!, 0.01);
    const saved = a.state(),
      savedParams = params.map((p) => p.slice());
    for (let t = 3; t < 6; t++) a.update!(ctx(params, t), grads[t]!, 0.01);

    const b = make();
    expect(E.isRight(b.restore(saved))).toBe(true);
    for (let t = 3; t < 6; t++) b.update!(ctx(savedParams, t), grads[t]!, 0.01);
    savedParams.forEach((p, i) => expect(p).toEqual(params[i]));
    expect(b.state()).toEqual(a.state());
  });

  it("restore refuses state from another model or rank", () => {
    const s = firaScheme({ layout, rank: 4, seed: 1, totalSteps: 6 }).state();
    const other = firaScheme({ layout, rank: 2, seed: 1, totalSteps: 6 });
    const r = other.restore(s);
    expect(E.isLeft(r) && r.left).toMatch(/Fira settings .*"rank":4.* differ .*"rank":2/);
    expect(E.isLeft(other.restore({ tensors: {}, meta: null }))).toBe(true);
  });
});

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j]!;
  return out;
}
