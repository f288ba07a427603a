import type { ParamLayout } from "../../models/params.ts";
import { svd } from "../../util/linalg/svd.ts";
import type { Rng } from "../../util/rng.ts";

/**
 * The pieces of Sparse Spectral Training (Zhao et al. 2024) that act on plain arrays: finding each
 * projection's factors W = U·diag(Σ)·Vᵀ in the layout, drawing which singular vectors train this round,
 * and re-decomposing W to make U and V orthonormal again.
 */
export interface SstGroup {
  /** The projection's path, e.g. "blocks.0.q". */
  readonly name: string;
  /** Param indices of U [dIn, k], Σ [k] and V [dOut, k]. */
  readonly u: number;
  readonly s: number;
  readonly v: number;
  readonly dIn: number;
  readonly dOut: number;
  readonly k: number;
}

/** Every projection with factors named <path>.U, <path>.S, <path>.V, in layout order. */
export function sstGroups(layout: ParamLayout): SstGroup[] {
  const at = new Map(layout.names.map((n, i) => [n, i]));
  return layout.names.flatMap((n) => {
    if (!n.endsWith(".U")) return [];
    const base = n.slice(0, -2);
    const [u, s, v] = [at.get(`${base}.U`)!, at.get(`${base}.S`), at.get(`${base}.V`)];
    if (s === undefined || v === undefined) return [];
    const [dIn, k] = layout.shapes[u]!,
      dOut = layout.shapes[v]![0]!;
    return [{ name: base, u, s, v, dIn: dIn!, dOut, k: k! }];
  });
}

/**
 * `count` distinct indices drawn one after another with probability proportional to the remaining
 * weights (multinomial sampling without replacement, as torch.multinomial(w, count) does); |w| is used,
 * and all-zero weights fall back to uniform. Returned in ascending order.
 */
export function sampleWeighted(weights: ArrayLike<number>, count: number, rng: Rng): number[] {
  const w = Float64Array.from(weights, Math.abs);
  if (count > w.length) throw new RangeError(`cannot draw ${count} distinct indices from ${w.length}`);
  const picked: number[] = [];
  for (let q = 0; q < count; q++) {
    let total = 0;
    for (const x of w) total += x;
    let pick = -1;
    if (total > 0) {
      let u = rng.nextFloat() * total;
      for (let i = 0; i < w.length; i++) {
        if (w[i]! <= 0) continue;
        pick = i;
        u -= w[i]!;
        if (u < 0) break;
      }
    } else {
      const free = [...w.keys()].filter((i) => !picked.includes(i));
      pick = free[rng.nextInt(free.length)]!;
    }
    picked.push(pick);
    w[pick] = 0;
  }
  return picked.sort((a, b) => a - b);
}

/** W = U·diag(Σ)·Vᵀ as a dIn×dOut float64 matrix. */
export function composeW(g: SstGroup, U: Float32Array, S: Float32Array, V: Float32Array): Float64Array {
  const w = new Float64Array(g.dIn * g.dOut);
  for (let i = 0; i < g.dIn; i++) {
    for (let c = 0; c < g.k; c++) {
      const us = U[i * g.k + c]! * S[c]!;
      if (us === 0) continue;
      for (let j = 0, o = i * g.dOut; j < g.dOut; j++) w[o + j] += us * V[j * g.k + c]!;
    }
  }
  return w;
}

/**
 * Writes the top-k SVD of the dIn×dOut matrix `w` into U, Σ, V (in place). When rank(W) ≤ k — always
 * the case for a W composed from k triplets — this reproduces W to rounding.
 */
export function decomposeInto(
  g: SstGroup,
  w: ArrayLike<number>,
  U: Float32Array,
  S: Float32Array,
  V: Float32Array,
): void {
  const d = svd(w, g.dIn, g.dOut);
  for (let c = 0; c < g.k; c++) S[c] = d.S[c]!;
  for (let i = 0; i < g.dIn; i++) for (let c = 0; c < g.k; c++) U[i * g.k + c] = d.U[i * d.k + c]!;
  for (let j = 0; j < g.dOut; j++) for (let c = 0; c < g.k; c++) V[j * g.k + c] = d.V[j * d.k + c]!;
}
