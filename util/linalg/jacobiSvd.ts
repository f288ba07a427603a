import { Rng } from "../rng.ts";

/**
 * A small float64 SVD for inits (the low-rank FFN's `U·√S`, `√S·Vᵀ`): one-sided Jacobi, exact to
 * rounding, and a randomized range finder in front of it when only the top r of a large matrix are
 * wanted. Matrices are row-major Float64Arrays. Kept local and tiny on purpose (inits run once).
 */
export interface Svd {
  /** [m, k], orthonormal columns. */
  readonly U: Float64Array;
  /** k singular values, descending. */
  readonly S: Float64Array;
  /** [n, k], orthonormal columns (A = U·diag(S)·Vᵀ). */
  readonly V: Float64Array;
  readonly k: number;
}

const transpose = (a: Float64Array, m: number, n: number): Float64Array => {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j]!;
  return t;
};

/** C [m, p] = A [m, n] · B [n, p]. */
export function matmul(a: Float64Array, b: Float64Array, m: number, n: number, p: number): Float64Array {
  const c = new Float64Array(m * p);
  for (let i = 0; i < m; i++)
    for (let k = 0; k < n; k++) {
      const x = a[i * n + k]!;
      if (x !== 0) for (let j = 0; j < p; j++) c[i * p + j]! += x * b[k * p + j]!;
    }
  return c;
}

/**
 * Full thin SVD, k = min(m, n), by one-sided Jacobi: rotate pairs of columns of A until all are
 * orthogonal; their norms are the singular values, the accumulated rotations V.
 */
export function svd(a: Float64Array, m: number, n: number): Svd {
  if (m < n) {
    const t = svd(transpose(a, m, n), n, m);
    return { U: t.V, S: t.S, V: t.U, k: t.k };
  }
  const w = transpose(a, m, n); // column j of A is row j of w: contiguous for the rotations
  const v = new Float64Array(n * n); // row j of v is column j of V
  for (let j = 0; j < n; j++) v[j * n + j] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        let [alpha, beta, gamma] = [0, 0, 0];
        for (let i = 0; i < m; i++) {
          const [x, y] = [w[p * m + i]!, w[q * m + i]!];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta) || gamma === 0) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t),
          s = c * t;
        for (const [mat, len] of [
          [w, m],
          [v, n],
        ] as const)
          for (let i = 0; i < len; i++) {
            const [x, y] = [mat[p * len + i]!, mat[q * len + i]!];
            mat[p * len + i] = c * x - s * y;
            mat[q * len + i] = s * x + c * y;
          }
      }
    if (!rotated) break;
  }
  const norms = Array.from({ length: n }, (_, j) => Math.hypot(...w.subarray(j * m, (j + 1) * m)));
  const order = norms.map((_, j) => j).sort((x, y) => norms[y]! - norms[x]!);
  const U = new Float64Array(m * n),
    S = new Float64Array(n),
    V = new Float64Array(n * n);
  order.forEach((j, c) => {
    S[c] = norms[j]!;
    for (let i = 0; i < m; i++) U[i * n + c] = norms[j]! > 0 ? w[j * m + i]! / norms[j]! : 0;
    for (let i = 0; i < n; i++) V[i * n + c] = v[j * n + i]!;
  });
  return { U, S, V, k: n };
}

/** Orthonormalizes the columns of Y [m, k] in place (modified Gram–Schmidt, twice for stability). */
function orthonormalize(y: Float64Array, m: number, k: number): void {
  for (let pass = 0; pass < 2; pass++)
    for (let j = 0; j < k; j++) {
      for (let c = 0; c < j; c++) {
        let d = 0;
        for (let i = 0; i < m; i++) d += y[i * k + c]! * y[i * k + j]!;
        for (let i = 0; i < m; i++) y[i * k + j]! -= d * y[i * k + c]!;
      }
      let norm = 0;
      for (let i = 0; i < m; i++) norm += y[i * k + j]! ** 2;
      norm = Math.sqrt(norm) || 1;
      for (let i = 0; i < m; i++) y[i * k + j]! /= norm;
    }
}

/**
 * The top-r SVD of A [m, n]. At or near full rank it is the exact Jacobi SVD; otherwise a randomized
 * range finder (Halko et al.: r + 10 Gaussian probes, 2 power iterations) shrinks A to [k, n] first,
 * which is accurate for the leading values and costs O(m·n·k) instead of O(m·n²).
 */
export function truncatedSvd(a: Float64Array, m: number, n: number, r: number, seed = 0): Svd {
  const full = Math.min(m, n);
  const k = Math.min(full, r + 10);
  const take = (s: Svd, rows: number): Svd => {
    const kk = Math.min(r, s.k);
    const cut = (x: Float64Array, len: number) =>
      Float64Array.from({ length: len * kk }, (_, idx) => x[Math.floor(idx / kk) * s.k + (idx % kk)]!);
    return { U: cut(s.U, rows), S: s.S.slice(0, kk), V: cut(s.V, n), k: kk };
  };
  if (k === full) return take(svd(a, m, n), m);
  const rng = Rng.fromSeed(seed, 0x5fd);
  const omega = Float64Array.from({ length: n * k }, () => rng.normal());
  const at = transpose(a, m, n);
  let y = matmul(a, omega, m, n, k);
  for (let it = 0; it < 2; it++) {
    orthonormalize(y, m, k);
    const z = matmul(at, y, n, m, k);
    orthonormalize(z, n, k);
    y = matmul(a, z, m, n, k);
  }
  orthonormalize(y, m, k); // Q [m, k]
  const small = matmul(transpose(y, m, k), a, k, m, n); // Qᵀ·A [k, n]
  const s = svd(small, k, n);
  return take({ U: matmul(y, s.U, m, k, s.k), S: s.S, V: s.V, k: s.k }, m);
}
