import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { svd, svdTop, type Svd } from "../../../util/linalg/svd.ts";
import { Rng } from "../../../util/rng.ts";
import { runs } from "../../helpers/runs.ts";

/** A random m×n matrix of rank ≤ rank (a product of Gaussian m×rank and rank×n factors), row-major. */
function lowRank(m: number, n: number, rank: number, seed: number): Float32Array {
  const rng = Rng.fromSeed(seed);
  const L = Array.from({ length: m * rank }, () => rng.normal()),
    R = Array.from({ length: rank * n }, () => rng.normal());
  const a = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < rank; k++) s += L[i * rank + k]! * R[k * n + j]!;
      a[i * n + j] = s;
    }
  return a;
}

/** max |A − U·diag(S)·Vᵀ| relative to max |A|. */
function reconstructionError(a: Float32Array, r: Svd): number {
  let err = 0,
    scale = 1e-30;
  for (let i = 0; i < r.m; i++)
    for (let j = 0; j < r.n; j++) {
      let s = 0;
      for (let k = 0; k < r.k; k++) s += r.U[i * r.k + k]! * r.S[k]! * r.V[j * r.k + k]!;
      err = Math.max(err, Math.abs(s - a[i * r.n + j]!));
      scale = Math.max(scale, Math.abs(a[i * r.n + j]!));
    }
  return err / scale;
}

/** max |QᵀQ − I| for the rows×k matrix Q (row-major). */
function orthonormalityError(q: Float32Array, rows: number, k: number): number {
  let worst = 0;
  for (let a = 0; a < k; a++)
    for (let b = 0; b < k; b++) {
      let s = 0;
      for (let i = 0; i < rows; i++) s += q[i * k + a]! * q[i * k + b]!;
      worst = Math.max(worst, Math.abs(s - (a === b ? 1 : 0)));
    }
  return worst;
}

const nonIncreasingAndNonNegative = (s: Float32Array) => s.every((x, i) => x >= 0 && (i === 0 || x <= s[i - 1]!));

describe("svd (exact, float64 inside)", () => {
  it("reconstructs A with orthonormal U, V and sorted singular values: tall, wide, square, rank-deficient", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 0, max: 24 }),
        fc.integer(),
        (m, n, rank0, seed) => {
          const rank = Math.min(rank0, m, n);
          const a = lowRank(m, n, rank, seed);
          const r = svd(a, m, n);
          expect(r.k).toBe(Math.min(m, n));
          expect(reconstructionError(a, r)).toBeLessThan(1e-5);
          expect(orthonormalityError(r.U, m, r.k)).toBeLessThan(1e-5);
          expect(orthonormalityError(r.V, n, r.k)).toBeLessThan(1e-5);
          expect(nonIncreasingAndNonNegative(r.S)).toBe(true);
          // a rank-ρ matrix has ρ nonzero singular values (up to float32 rounding of A)
          for (let k = rank; k < r.k; k++) expect(r.S[k]!).toBeLessThan(1e-4 * Math.max(r.S[0]!, 1e-30));
        },
      ),
      { numRuns: runs(60) },
    );
  });

  it("gives the known singular values of a diagonal matrix, and of the zero matrix", () => {
    const d = Float32Array.of(0, 0, 0, 0, -3, 0, 0, 0, 0, 0, 0, 5); // 3x4 with entries 0@(0,0), -3@(1,1), 5@(2,3)
    const r = svd(d, 3, 4);
    expect([...r.S]).toEqual([5, 3, 0]);
    expect(reconstructionError(d, r)).toBeLessThan(1e-7);
    const z = svd(new Float32Array(12), 4, 3);
    expect([...z.S]).toEqual([0, 0, 0]);
    expect(orthonormalityError(z.U, 4, 3)).toBeLessThan(1e-6);
    expect(orthonormalityError(z.V, 3, 3)).toBeLessThan(1e-6);
  });

  it("equals the singular values of the transpose (σ(A) = σ(Aᵀ))", () => {
    const a = lowRank(9, 5, 5, 4);
    const t = new Float32Array(45);
    for (let i = 0; i < 9; i++) for (let j = 0; j < 5; j++) t[j * 9 + i] = a[i * 5 + j]!;
    const [x, y] = [svd(a, 9, 5).S, svd(t, 5, 9).S];
    x.forEach((s, i) => expect(Math.abs(s - y[i]!)).toBeLessThan(1e-5 * x[0]!));
  });

  it("refuses a buffer that does not match the shape", () => {
    expect(() => svd(new Float32Array(5), 2, 3)).toThrow(/needs 6 values/);
  });
});

describe("svdTop (randomized range finder)", () => {
  it("recovers the top r triplets exactly when A has rank ≤ r", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 12, max: 40 }),
        fc.integer({ min: 12, max: 40 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer(),
        (m, n, r, seed) => {
          const a = lowRank(m, n, r, seed);
          const top = svdTop(a, m, n, r, Rng.fromSeed(seed, 1));
          const exact = svd(a, m, n);
          expect(top.k).toBe(r);
          expect(reconstructionError(a, top)).toBeLessThan(1e-5);
          expect(orthonormalityError(top.U, m, r)).toBeLessThan(1e-5);
          expect(orthonormalityError(top.V, n, r)).toBeLessThan(1e-5);
          for (let k = 0; k < r; k++) expect(Math.abs(top.S[k]! - exact.S[k]!)).toBeLessThan(1e-5 * exact.S[0]!);
        },
      ),
      { numRuns: runs(25) },
    );
  });

  it("finds the dominant subspace of a matrix with a decaying spectrum (as gradients have)", () => {
    // A = Σ_k 2^-k · u_k v_kᵀ plus small noise; the top 4 of 60x50 must match the exact SVD closely
    const [m, n, r] = [60, 50, 4];
    const rng = Rng.fromSeed(8);
    const a = new Float32Array(m * n);
    for (let k = 0; k < 12; k++) {
      const u = Array.from({ length: m }, () => rng.normal()),
        v = Array.from({ length: n }, () => rng.normal());
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) a[i * n + j] += 2 ** -k * u[i]! * v[j]!;
    }
    const top = svdTop(a, m, n, r, Rng.fromSeed(1));
    const exact = svd(a, m, n);
    for (let k = 0; k < r; k++) {
      expect(Math.abs(top.S[k]! - exact.S[k]!)).toBeLessThan(1e-3 * exact.S[0]!);
      // same singular vector up to sign: |<u_top, u_exact>| ≈ 1
      let c = 0;
      for (let i = 0; i < m; i++) c += top.U[i * r + k]! * exact.U[i * exact.k + k]!;
      expect(Math.abs(c)).toBeGreaterThan(0.999);
    }
  });

  it("falls back to the exact SVD when r + oversampling covers the small side", () => {
    const a = lowRank(10, 7, 7, 2);
    const top = svdTop(a, 10, 7, 7, Rng.fromSeed(0));
    expect(reconstructionError(a, top)).toBeLessThan(1e-5);
  });

  it("rejects a rank outside [1, min(m, n)]", () => {
    expect(() => svdTop(new Float32Array(6), 2, 3, 3, Rng.fromSeed(0))).toThrow(/rank must be in \[1, 2\]/);
  });
});
