import { axpy, dot, mat, row, type Mat } from "./mat.ts";

/**
 * Eigen-decomposition of a symmetric matrix in float64: Householder reduction to tridiagonal form,
 * then implicit QL iterations with Wilkinson-style shifts, rotating the eigenvector rows as it goes.
 * About 10n³ flops, which is what lets a d = 512 SVD run in about a second in JavaScript where a
 * one-sided Jacobi SVD needs several (each of its sweeps alone costs ~7n³).
 *
 * Returns the eigenvalues in descending order and the eigenvectors as the ROWS of `vectors`
 * (row i belongs to values[i]); rows are kept contiguous so every rotation touches two rows.
 */
export function symEig(a: Mat): { values: Float64Array; vectors: Mat } {
  if (a.rows !== a.cols) throw new RangeError(`symEig needs a square matrix, got ${a.rows}x${a.cols}`);
  const n = a.rows;
  const work = mat(n, n, a.data.slice());
  const qt = identity(n);
  const { d, e } = tridiagonalize(work, qt);
  diagonalizeTridiagonal(d, e, qt);
  return sortDescending(d, qt);
}

function identity(n: number): Mat {
  const m = mat(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

/**
 * Reduces A (in place) to T = QᵀAQ, tridiagonal, one Householder reflection H = I − 2vvᵀ per column;
 * accumulates Qᵀ = …H₁H₀ into `qt`. Returns T's diagonal d and off-diagonal e (e[i] links i and i+1).
 */
function tridiagonalize(a: Mat, qt: Mat): { d: Float64Array; e: Float64Array } {
  const n = a.rows,
    A = a.data;
  const d = new Float64Array(n),
    e = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const len = n - k - 1;
    const v = new Float64Array(len);
    for (let i = 0; i < len; i++) v[i] = A[(k + 1 + i) * n + k]!;
    const xnorm = Math.sqrt(dot(v, v));
    if (xnorm === 0) continue;
    const alpha = v[0]! > 0 ? -xnorm : xnorm;
    v[0] -= alpha;
    const vnorm = Math.sqrt(dot(v, v));
    if (vnorm === 0) continue;
    for (let i = 0; i < len; i++) v[i] /= vnorm;
    // A22 ← H·A22·H = A22 − 2v·wᵀ − 2w·vᵀ with p = A22·v, w = p − (vᵀp)·v
    const p = new Float64Array(len);
    for (let i = 0; i < len; i++) p[i] = dot(A.subarray((k + 1 + i) * n + k + 1, (k + 2 + i) * n), v);
    axpy(-dot(v, p), v, p);
    for (let i = 0; i < len; i++) {
      const ri = (k + 1 + i) * n + k + 1,
        vi = 2 * v[i]!,
        wi = 2 * p[i]!;
      for (let j = 0; j < len; j++) A[ri + j] -= vi * p[j]! + wi * v[j]!;
    }
    A[(k + 1) * n + k] = A[k * n + k + 1] = alpha;
    for (let i = 2; i <= len; i++) A[(k + i) * n + k] = A[k * n + k + i] = 0;
    // Qᵀ ← H·Qᵀ on rows k+1..n-1
    const s = new Float64Array(n);
    for (let i = 0; i < len; i++) axpy(v[i]!, row(qt, k + 1 + i), s);
    for (let i = 0; i < len; i++) axpy(-2 * v[i]!, s, row(qt, k + 1 + i));
  }
  for (let i = 0; i < n; i++) d[i] = A[i * n + i]!;
  for (let i = 0; i < n - 1; i++) e[i] = A[(i + 1) * n + i]!;
  return { d, e };
}

/**
 * Implicit QL on the tridiagonal (d, e), in place: d becomes the eigenvalues; every plane rotation is
 * also applied to the rows of `vt`, which therefore become the eigenvectors.
 */
function diagonalizeTridiagonal(d: Float64Array, e: Float64Array, vt: Mat): void {
  const n = d.length;
  for (let l = 0; l < n; l++) {
    for (let iter = 0; ; iter++) {
      let m = l;
      while (m < n - 1) {
        const dd = Math.abs(d[m]!) + Math.abs(d[m + 1]!);
        if (Math.abs(e[m]!) <= Number.EPSILON * dd) break;
        m++;
      }
      if (m === l) break;
      if (iter > 60) throw new Error(`symEig: no convergence for eigenvalue ${l} after 60 iterations`);
      // shift from the leading 2x2 block, then chase the bulge from m up to l
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1,
        c = 1,
        p = 0;
      let i = m - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i]!,
          b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        rotateRows(vt, i, i + 1, c, s);
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** (row i, row j) ← (c·row i − s·row j, s·row i + c·row j). */
function rotateRows(a: Mat, i: number, j: number, c: number, s: number): void {
  const x = row(a, i),
    y = row(a, j);
  for (let k = 0; k < x.length; k++) {
    const xi = x[k]!,
      yj = y[k]!;
    x[k] = c * xi - s * yj;
    y[k] = s * xi + c * yj;
  }
}

function sortDescending(d: Float64Array, vt: Mat): { values: Float64Array; vectors: Mat } {
  const n = d.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y]! - d[x]!);
  const vectors = mat(n, vt.cols);
  order.forEach((src, dst) => row(vectors, dst).set(row(vt, src)));
  return { values: Float64Array.from(order, (i) => d[i]!), vectors };
}
