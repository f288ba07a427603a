import { describe, it, expect } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { AdamW } from "../../train/adamMoments.ts";
import { Rng } from "../../util/rng.ts";

describe("AdamW", () => {
  it("matches a hand-computed two-step example (decayed matrix, undecayed vector)", () => {
    // lr 0.1, wd 0.1, default betas/eps. Matrix [1x1] p=1, grads 0.5 then -1:
    //  t=1: p=1·0.99=0.99; m=0.05, v=0.00025; m̂=0.5, v̂=0.25 → p = 0.99 − 0.1·0.5/0.5 = 0.89
    //  t=2: p=0.89·0.99=0.8811; m=−0.055, v=0.00124975; m̂=−0.28947, v̂=0.62519 → p ≈ 0.9177104
    // Vector [1] p=−2 (no decay by default), grads 0.25, 0.25: each step moves by lr·1 → −2.1, −2.2.
    const opt = new AdamW([[1, 1], [1]], { weightDecay: 0.1 });
    const params = [Float32Array.of(1), Float32Array.of(-2)];
    opt.step(params, [Float32Array.of(0.5), Float32Array.of(0.25)], 0.1);
    expect(params[0][0]).toBeCloseTo(0.89, 6);
    expect(params[1][0]).toBeCloseTo(-2.1, 6);
    opt.step(params, [Float32Array.of(-1), Float32Array.of(0.25)], 0.1);
    expect(params[0][0]).toBeCloseTo(0.9177104, 6);
    expect(params[1][0]).toBeCloseTo(-2.2, 6);
    const st = opt.state();
    expect(st.step).toBe(2);
    expect(st.m[0][0]).toBeCloseTo(-0.055, 7);
    expect(st.v[0][0]).toBeCloseTo(0.00124975, 9);
  });

  it("agrees with a float64 textbook AdamW on random data", () => {
    const rng = Rng.fromSeed(11);
    const shapes = [[4, 3], [5], [2, 2, 2]];
    const [lr, wd, b1, b2, eps] = [0.01, 0.05, 0.8, 0.99, 1e-6];
    const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    const ref = sizes.map((n) => Float64Array.from({ length: n }, () => rng.normal()));
    const params = ref.map((r) => Float32Array.from(r));
    for (let i = 0; i < ref.length; i++) ref[i] = Float64Array.from(params[i]); // same start after f32 rounding
    const m = sizes.map((n) => new Float64Array(n)),
      v = sizes.map((n) => new Float64Array(n));
    const opt = new AdamW(shapes, { betas: [b1, b2], eps, weightDecay: wd, decayMask: [true, false, true] });
    for (let t = 1; t <= 25; t++) {
      const grads = sizes.map((n) => Float32Array.from({ length: n }, () => rng.normal(0, t % 5 === 0 ? 10 : 1)));
      opt.step(params, grads, lr);
      ref.forEach((p, i) => {
        for (let j = 0; j < p.length; j++) {
          const g = grads[i][j];
          if (i !== 1) p[j] -= lr * wd * p[j];
          m[i][j] = b1 * m[i][j] + (1 - b1) * g;
          v[i][j] = b2 * v[i][j] + (1 - b2) * g * g;
          p[j] -= (lr * m[i][j]) / (1 - b1 ** t) / (Math.sqrt(v[i][j] / (1 - b2 ** t)) + eps);
        }
      });
    }
    ref.forEach((p, i) => p.forEach((x, j) => expect(params[i][j]).toBeCloseTo(x, 5)));
  });

  it("continues identically after state() → restore()", () => {
    const shapes = [[3, 2], [2]];
    const grads = (k: number) => [
      Float32Array.from({ length: 6 }, (_, j) => Math.sin(k + j)),
      Float32Array.from([k, -k]),
    ];
    const a = new AdamW(shapes, { weightDecay: 0.1 });
    const pa = [new Float32Array(6).fill(1), new Float32Array(2).fill(1)];
    for (let k = 0; k < 3; k++) a.step(pa, grads(k), 0.01);
    const restored = AdamW.restore(shapes, a.state(), { weightDecay: 0.1 });
    if (E.isLeft(restored)) throw new Error(restored.left.message);
    const pb = pa.map((p) => p.slice());
    for (let k = 3; k < 6; k++) {
      a.step(pa, grads(k), 0.01);
      restored.right.step(pb, grads(k), 0.01);
    }
    expect(pb).toEqual(pa);
  });

  it("refuses to restore a state that does not fit the model", () => {
    const st = new AdamW([[2, 2]]).state();
    const r = AdamW.restore([[2, 3]], st);
    expect(E.isLeft(r) && r.left.message).toMatch(/param 0 has 6 elements/);
    expect(E.isLeft(AdamW.restore([[2, 2], [1]], st))).toBe(true);
  });

  it("applies weight decay only to rank >= 2 params by default", () => {
    const opt = new AdamW([[2, 2], [4], []], { weightDecay: 0.5 });
    const params = [new Float32Array(4).fill(1), new Float32Array(4).fill(1), Float32Array.of(1)];
    opt.step(params, [new Float32Array(4), new Float32Array(4), new Float32Array(1)], 0.1); // zero grads: only decay moves p
    expect([params[0][0], params[1][0], params[2][0]]).toEqual([Math.fround(0.95), 1, 1]);
  });

  it("resetState zeroes moments of chosen params, optionally keeping some entries", () => {
    const opt = new AdamW([[2, 2], [3]]);
    opt.step([new Float32Array(4), new Float32Array(3)], [Float32Array.of(1, 2, 3, 4), Float32Array.of(1, 1, 1)], 0.1);
    opt.resetState([0], (_i, j) => j === 3);
    let st = opt.state();
    expect([...st.m[0]].map((x) => x !== 0)).toEqual([false, false, false, true]);
    expect([...st.v[0]].map((x) => x !== 0)).toEqual([false, false, false, true]);
    expect(st.m[1].every((x) => x !== 0)).toBe(true);
    opt.resetState([1]);
    st = opt.state();
    expect(st.m[1].every((x) => x === 0) && st.v[1].every((x) => x === 0)).toBe(true);
    expect(st.step).toBe(1);
  });

  it("state() is a copy, not a view of the live moments", () => {
    const opt = new AdamW([[1]]);
    const st = opt.state();
    opt.step([Float32Array.of(0)], [Float32Array.of(1)], 0.1);
    expect(st.m[0][0]).toBe(0);
  });
});
