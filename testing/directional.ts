import type { Rng } from "../util/rng.ts";

/**
 * Gradient checks along random directions (JAX's check_grads), shared by the model tests: one direction
 * through many params tests every component at once, and differences stay cheap at any model size.
 */

/**
 * A random direction with each tensor's entries at that tensor's own scale (RMS), so h is a relative
 * step; zero on the tensors `along` leaves out, which draw no random numbers.
 */
export function rmsDirection(
  p: readonly Float64Array[],
  rng: Rng,
  along: (i: number) => boolean = () => true,
): Float64Array[] {
  return p.map((a, i) => {
    if (!along(i)) return new Float64Array(a.length);
    const rms = Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    return Float64Array.from(a, () => rms * rng.normal());
  });
}

/** p + h·v, tensor by tensor. */
export const shifted = (p: readonly Float64Array[], v: readonly Float64Array[], h: number): Float64Array[] =>
  p.map((a, i) => a.map((x, j) => x + h * v[i]![j]!));

/** Fourth-order central difference of f(s) = loss(p + s·h·v) at s = 0 (error O(h⁴)). */
export async function centralDifference4(f: (s: number) => Promise<number>, h: number): Promise<number> {
  return (8 * ((await f(1)) - (await f(-1))) - ((await f(2)) - (await f(-2)))) / (12 * h);
}

/** ⟨g, v⟩ over all tensors: the analytic directional derivative. */
export const dot = (g: readonly Float64Array[], v: readonly Float64Array[]) =>
  g.reduce((s, gi, i) => s + gi.reduce((u, x, j) => u + x * v[i]![j]!, 0), 0);
/** Σ|g·v|: the size of the directional derivative before cancellation, the scale its error is relative to. */
export const absDot = (g: readonly Float64Array[], v: readonly Float64Array[]) =>
  g.reduce((s, gi, i) => s + gi.reduce((u, x, j) => u + Math.abs(x * v[i]![j]!), 0), 0);
