import { expect, it } from "vitest";
import type { NativeAddon } from "../../backends/native/build.ts";
import { Rng } from "../../util/rng.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { nativeAddonRequirement } from "../helpers/requirements.ts";

/**
 * What the native addon's kernel tests share: the addon (or a skip with the reason printed, unless
 * RANKFUSE_REQUIRE_NATIVE is set), random inputs, shapes, and a float64 matmul reference.
 */
export const native = await nativeAddonRequirement();
/** The loaded addon; only used inside tests that `nit` skips when it is missing. */
export const addon = (native.available ? native.get() : undefined) as NativeAddon;
/** `it`, skipped where the addon is unavailable. */
export const nit = it.skipIf(!native.available);

/** n normal values times `scale`, from a seeded stream. */

export const f32 = (n: number, seed: number, scale = 1): Float32Array => {
  const rng = Rng.fromSeed(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
};
export const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
export const stridesOf = (shape: readonly number[]): number[] => {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, acc = 1; i >= 0; i--) ((s[i] = acc), (acc *= shape[i]!));
  return s;
};
/** Row-major multi-indices of a shape, in order. */
export function* indices(shape: readonly number[]): Generator<number[]> {
  const n = prod(shape),
    idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    yield idx.slice();
    for (let a = shape.length - 1; a >= 0; a--)
      if (++idx[a]! < shape[a]!) break;
      else idx[a] = 0;
  }
}
export const close = (got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void =>
  expect(allcloseViolation(got, want, rtol, atol)).toBeNull();

/** The float64 product of a[t] (M×K) and b[t] (K×N), or one shared b. */
export function refMatmul(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  M: number,
  K: number,
  N: number,
  shared: boolean,
): Float64Array {
  const c = new Float64Array(batch * M * N);
  for (let t = 0; t < batch; t++) {
    const ao = t * M * K,
      bo = shared ? 0 : t * K * N,
      co = t * M * N;
    for (let i = 0; i < M; i++)
      for (let k = 0; k < K; k++) {
        const av = a[ao + i * K + k]!;
        for (let j = 0; j < N; j++) c[co + i * N + j]! += av * b[bo + k * N + j]!;
      }
  }
  return c;
}
