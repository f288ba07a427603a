import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mat, mulNN, mulNT, row, type Mat } from "../../../util/linalg/mat.ts";
import { symEig } from "../../../util/linalg/symEig.ts";
import { Rng } from "../../../util/rng.ts";
import { runs } from "../../helpers/runs.ts";

const symmetric = (n: number, seed: number, repeats: boolean): Mat => {
  const rng = Rng.fromSeed(seed);
  const a = mat(n, n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++)
      a.data[i * n + j] = a.data[j * n + i] = repeats ? Math.round(rng.normal()) : rng.normal();
  return a;
};

describe("symEig", () => {
  it("A·v = λ·v for every pair, orthonormal vectors, values descending (including repeated and zero eigenvalues)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer(), fc.boolean(), (n, seed, repeats) => {
        const a = symmetric(n, seed, repeats);
        const { values, vectors } = symEig(a);
        const av = mulNT(vectors, a); // row i = (A·vᵢ)ᵀ, A symmetric
        const scale = Math.max(1, ...values.map(Math.abs));
        for (let i = 0; i < n; i++) {
          for (let k = 0; k < n; k++)
            expect(Math.abs(av.data[i * n + k]! - values[i]! * vectors.data[i * n + k]!)).toBeLessThan(1e-10 * scale);
          if (i > 0) expect(values[i]!).toBeLessThanOrEqual(values[i - 1]!);
        }
        const vvt = mulNT(vectors, vectors);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) expect(Math.abs(vvt.data[i * n + j]! - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }),
      { numRuns: runs(40) },
    );
  });

  it("finds the eigenvalues of a matrix built from known ones", () => {
    // Q·diag(3, 1, 1, -2)·Qᵀ with Q a rotation in the (0, 3) and (1, 2) planes
    const c = Math.cos(0.7),
      s = Math.sin(0.7);
    const q = mat(4, 4, Float64Array.of(c, 0, 0, -s, 0, c, -s, 0, 0, s, c, 0, s, 0, 0, c));
    const d = mat(4, 4, Float64Array.of(3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -2));
    const a = mulNT(mulNN(q, d), q);
    const { values } = symEig(a);
    [3, 1, 1, -2].forEach((x, i) => expect(values[i]).toBeCloseTo(x, 12));
    expect(row(a, 0).length).toBe(4);
  });
});
