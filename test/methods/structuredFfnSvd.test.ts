import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { matmul, svd, truncatedSvd, type Svd } from "../../util/linalg/jacobiSvd.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";

const randomMatrix = (m: number, n: number, seed: number) => {
  const rng = Rng.fromSeed(seed);
  return Float64Array.from({ length: m * n }, () => rng.normal());
};
const transpose = (a: Float64Array, m: number, n: number) =>
  Float64Array.from({ length: m * n }, (_, k) => a[(k % m) * n + Math.floor(k / m)]!);
/** U·diag(S)·Vᵀ. */
const rebuild = (s: Svd, m: number, n: number) =>
  matmul(
    Float64Array.from(s.U, (u, k) => u * s.S[k % s.k]!),
    transpose(s.V, n, s.k),
    m,
    s.k,
    n,
  );
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a, (x, i) => Math.abs(x - b[i]!)).reduce((p, q) => Math.max(p, q), 0);
const gram = (a: Float64Array, rows: number, k: number) => matmul(transpose(a, rows, k), a, k, rows, k);
const identity = (k: number) => Float64Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? 1 : 0));

describe("svd (one-sided Jacobi, float64)", () => {
  it("factors A = U·diag(S)·Vᵀ with orthonormal U, V and descending S, wide or tall", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 1e6 }),
        (m, n, seed) => {
          const a = randomMatrix(m, n, seed);
          const s = svd(a, m, n);
          expect(s.k).toBe(Math.min(m, n));
          expect(maxDiff(rebuild(s, m, n), a)).toBeLessThan(1e-12);
          expect(maxDiff(gram(s.U, m, s.k), identity(s.k))).toBeLessThan(1e-12);
          expect(maxDiff(gram(s.V, n, s.k), identity(s.k))).toBeLessThan(1e-12);
          s.S.slice(1).forEach((x, i) => expect(x).toBeLessThanOrEqual(s.S[i]!));
        },
      ),
      { numRuns: runs(40) },
    );
  });

  it("truncated (randomized range finder) finds the top-r singular values and the best rank-r approximation", () => {
    for (const [m, n, r] of [
      [60, 40, 4],
      [30, 70, 6],
    ] as const) {
      // a decaying spectrum, as in trained weights: the top r are well separated from the rest
      const base = svd(randomMatrix(m, n, m + n), m, n);
      const a = rebuild({ ...base, S: base.S.map((_, i) => 0.7 ** i) }, m, n);
      const exact = svd(a, m, n),
        top = truncatedSvd(a, m, n, r, 3);
      expect(top.k).toBe(r);
      top.S.forEach((x, i) => expect(Math.abs(x - exact.S[i]!)).toBeLessThan(1e-9));
      // Eckart–Young: ‖A − A_r‖_F² is the sum of the squared values left out
      const residual = rebuild(top, m, n).reduce((s, x, k) => s + (a[k]! - x) ** 2, 0);
      expect(Math.abs(residual - exact.S.slice(r).reduce((s, x) => s + x * x, 0))).toBeLessThan(1e-9);
    }
  });
});

describe("lowrankFfn SVD init", () => {
  const factors = (cfgRank: number) => {
    const cfg = unwrap(
      resolveConfig("tiny", { d: 8, heads: 2, dFF: 12, rank: cfgRank, vocab: 16, seq: 4, batch: 2, layers: 2 }),
    );
    const model = unwrap(makeModel("lowrankFfnGuided", cfg));
    const p = model.init(5);
    const at = (n: string) => p[model.layout.names.indexOf(n)]!;
    return ["gate", "up", "down"].flatMap((k) =>
      [0, 1].map((l) => {
        const [m, n] = model.layout.shapes[model.layout.names.indexOf(`blocks.${l}.${k}.guide`)]! as [number, number];
        return {
          G: Float64Array.from(at(`blocks.${l}.${k}.guide`)),
          UV: matmul(
            Float64Array.from(at(`blocks.${l}.${k}.U`)),
            Float64Array.from(at(`blocks.${l}.${k}.V`)),
            m,
            cfgRank,
            n,
          ),
          m,
          n,
        };
      }),
    );
  };

  it("at full rank reproduces the random dense guide (U·V = G)", () => {
    for (const { G, UV } of factors(8)) {
      expect(maxDiff(UV, G)).toBeLessThan(1e-7); // float32 storage of the factors
      expect(maxDiff(G, new Float64Array(G.length))).toBeGreaterThan(0.01); // a real N(0, 0.02²) matrix
    }
  });

  it("below full rank is the guide's best rank-r approximation", () => {
    for (const { G, UV, m, n } of factors(3)) {
      const tail = svd(G, m, n)
        .S.slice(3)
        .reduce((s, x) => s + x * x, 0);
      expect(Math.abs(UV.reduce((s, x, k) => s + (G[k]! - x) ** 2, 0) - tail)).toBeLessThan(1e-6 * tail + 1e-12);
    }
  });
});
