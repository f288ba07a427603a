import type { Rng } from "../../util/rng.ts";
import type { Gemm } from "../../util/linalg/gemm.ts";
import { svdTop } from "../../util/linalg/svd.ts";

/**
 * Fira's update of one weight matrix (Chen et al. 2024; authors' optimizer_torch/fira_adamw.py), with
 * the matrix seen "wide": a×b with a ≤ b (a tall gradient is transposed first, which is the authors'
 * right projection). Every `gap` steps P (a×r) = the top-r left singular vectors of the gradient G.
 *
 *   R = Pᵀ·G (r×b)                    Adam runs here: m, v of R, N = m / (√v + ε)
 *   S = G − P·R                       the residual Adam never sees
 *   φⱼ = ‖N₍:,ⱼ₎‖ / (‖R₍:,ⱼ₎‖ + 1e-8)    per column of the un-projected side (norm-based scaling)
 *   Ŝ = φ ⊙ S, limited: if ‖Ŝ‖ > γ·(previous ‖Ŝ‖), Ŝ is rescaled to γ·previous (the limited norm is kept)
 *   W ← W − lr·(√(1−β₂ᵗ)/(1−β₁ᵗ))·(α·P·N + Ŝ),  then W ← W − lr·wd·W
 *
 * As in the authors' code: bias correction is folded into the step size (so ε meets the raw √v), the
 * moments carry over unchanged when P is refreshed, and weight decay comes after the update.
 * One deliberate difference: S = G − P·R is the paper's (and PAPERS.md's) residual; the authors' code
 * subtracts α·P·R (its project_back scales by α), which leaves (1−α)·G in S even at full rank.
 */
export interface FiraHyper {
  readonly rank: number;
  readonly alpha: number;
  readonly gap: number;
  readonly gamma: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

/** One matrix's optimizer state: projection, moments of R, the last limited residual norm. */
export interface FiraMatrixState {
  /** a×r, row-major; computed at the first step (zeros before). */
  p: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** ‖Ŝ‖ of the previous step after limiting; null before the first. */
  prevNorm: number | null;
}

/** The wide view of an m×n weight: a = min side (projected), b = the other; transposed when m ≥ n (the authors' choice). */
export interface WideShape {
  readonly rows: number;
  readonly cols: number;
  readonly transposed: boolean;
  readonly a: number;
  readonly b: number;
  readonly r: number;
}

export function wideShape(rows: number, cols: number, rank: number): WideShape {
  const transposed = rows >= cols;
  const [a, b] = transposed ? [cols, rows] : [rows, cols];
  return { rows, cols, transposed, a, b, r: Math.min(rank, a) };
}

export const newMatrixState = (w: WideShape): FiraMatrixState => ({
  p: new Float32Array(w.a * w.r),
  m: new Float32Array(w.r * w.b),
  v: new Float32Array(w.r * w.b),
  prevNorm: null,
});

/** What one step computed, for tests: the limited residual's norm and the update direction (a×b, wide). */
export interface FiraStepInfo {
  readonly residualNorm: number;
  readonly direction: Float32Array;
}

/**
 * One Fira step of `param` (rows×cols, in place) with gradient `grad`. `t` is the 1-based step count
 * for bias correction; the projection is refreshed when t − 1 is a multiple of `gap`.
 */
export function firaMatrixStep(
  param: Float32Array,
  grad: Float32Array,
  w: WideShape,
  st: FiraMatrixState,
  h: FiraHyper,
  t: number,
  lr: number,
  rng: Rng,
  gemm: Gemm,
): FiraStepInfo {
  const { a, b, r } = w;
  const g = w.transposed ? transpose32(grad, w.rows, w.cols) : grad;
  if ((t - 1) % h.gap === 0) st.p = svdTop(g, a, b, r, rng).U;
  const R = gemm(st.p, g, r, a, b, true, false);
  const N = new Float32Array(r * b);
  const { beta1: b1, beta2: b2, eps } = h;
  for (let i = 0; i < R.length; i++) {
    const x = R[i]!;
    const mi = b1 * st.m[i]! + (1 - b1) * x;
    const vi = b2 * st.v[i]! + (1 - b2) * x * x;
    st.m[i] = mi;
    st.v[i] = vi;
    N[i] = mi / (Math.sqrt(vi) + eps);
  }
  const PR = gemm(st.p, R, a, r, b);
  const phi = columnNormRatio(N, R, r, b);
  const S = new Float64Array(a * b);
  let sq = 0;
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      const s = (g[i * b + j]! - PR[i * b + j]!) * phi[j]!;
      S[i * b + j] = s;
      sq += s * s;
    }
  }
  const norm = Math.sqrt(sq);
  let scale = 1;
  if (st.prevNorm === null) st.prevNorm = norm;
  else {
    scale = h.gamma / Math.max(norm / (st.prevNorm + 1e-8), h.gamma);
    st.prevNorm = norm * scale;
  }
  const PN = gemm(st.p, N, a, r, b);
  const direction = new Float32Array(a * b);
  for (let i = 0; i < direction.length; i++) direction[i] = h.alpha * PN[i]! + scale * S[i]!;
  const stepSize = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
  const decay = 1 - lr * h.weightDecay;
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      const k = w.transposed ? j * a + i : i * b + j; // index in the rows×cols param
      param[k] = (param[k]! - stepSize * direction[i * b + j]!) * decay;
    }
  }
  return { residualNorm: norm * scale, direction };
}

/** ‖N₍:,ⱼ₎‖ / (‖R₍:,ⱼ₎‖ + 1e-8) for each of the b columns (r×b matrices). */
function columnNormRatio(N: Float32Array, R: Float32Array, r: number, b: number): Float64Array {
  const nn = new Float64Array(b),
    rr = new Float64Array(b);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < b; j++) {
      nn[j] += N[i * b + j]! ** 2;
      rr[j] += R[i * b + j]! ** 2;
    }
  }
  return nn.map((x, j) => Math.sqrt(x) / (Math.sqrt(rr[j]!) + 1e-8));
}

export function transpose32(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j]!;
  return out;
}
