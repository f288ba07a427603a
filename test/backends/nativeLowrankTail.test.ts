import { describe, expect, it } from "vitest";
import { BinaryOp, UnaryOp, type NativeAddon } from "../../backends/native/build.ts";
import * as act from "../../ir/activations.ts";
import { Rng } from "../../util/rng.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { nativeAddonRequirement } from "../helpers/requirements.ts";

/**
 * The addon's tail link of a longer chain, `out = act(x)·B [+ e | ⊙ e]` with h = act(x) written where
 * asked, against a plain JavaScript loop: every activation and epilogue, sizes from one row to many
 * row tiles (which threads share), and arguments it must refuse.
 */
const native = await nativeAddonRequirement();
const addon = (native.skip ? undefined : native.get()) as NativeAddon; // throws where RANKFUSE_REQUIRE_NATIVE demands it

const f32 = (n: number, seed: number, scale = 1) => {
  const rng = Rng.fromSeed(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
};
const ACTS: [number, (x: number) => number][] = [
  [0, (x) => x],
  [UnaryOp.silu, act.silu],
  [UnaryOp.gelu, act.gelu],
  [UnaryOp.relu, act.relu],
];
const NONE = new Float32Array(0);

describe.skipIf(native.skip)(native.title("native lowrankTailForward"), () => {
  it("equals activation then product, with each epilogue, and writes h = act(x) where asked", () => {
    for (const [n, r, dOut] of [
      [1, 1, 1],
      [5, 3, 7],
      [1200, 6, 16],
      [2048, 64, 130],
    ] as const) {
      const x = f32(n * r, n),
        B = f32(r * dOut, dOut, 1 / Math.sqrt(r)),
        e = f32(n * dOut, 7);
      for (const [code, f] of ACTS) {
        const h = Float32Array.from(x, f);
        const y = new Float32Array(n * dOut);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < dOut; j++) {
            let s = 0;
            for (let k = 0; k < r; k++) s += h[i * r + k]! * B[k * dOut + j]!;
            y[i * dOut + j] = s;
          }
        for (const [epi, eBuf, want] of [
          [BinaryOp.add, NONE, y],
          [BinaryOp.add, e, y.map((v, i) => v + e[i]!)],
          [BinaryOp.mul, e, y.map((v, i) => v * e[i]!)],
        ] as const) {
          const out = new Float32Array(n * dOut),
            hOut = new Float32Array(n * r);
          addon.lowrankTailForward(x, B, eBuf, out, hOut, Int32Array.of(n, r, dOut, code, epi));
          const what = `act ${code} epilogue ${eBuf.length ? epi : "none"} ${n}x${r}x${dOut}`;
          expect(allcloseViolation(out, want, 1e-4, 1e-5), what).toBeNull();
          expect(allcloseViolation(hOut, h, 1e-6, 1e-6), `h, ${what}`).toBeNull();
        }
      }
    }
  });

  it("refuses short buffers, unknown activations and epilogues with a RangeError", () => {
    const x = new Float32Array(6),
      B = new Float32Array(6),
      out = new Float32Array(6);
    const call =
      (sizes: number[], xs = x) =>
      () =>
        addon.lowrankTailForward(xs, B, NONE, out, NONE, Int32Array.from(sizes));
    expect(call([3, 2, 2, 0, 0])).not.toThrow();
    expect(call([3, 2, 2, 0, 0], new Float32Array(5))).toThrow(RangeError);
    expect(call([3, 2, 3, 0, 0])).toThrow(RangeError); // out is 3 x 2, not 3 x 3
    expect(call([3, 2, 2, 4, 0])).toThrow(RangeError); // 4 is no activation
    expect(call([3, 2, 2])).toThrow(RangeError);
    expect(() => addon.lowrankTailForward(x, B, out, out, NONE, Int32Array.of(3, 2, 2, 0, 5))).toThrow(RangeError);
  });
});
