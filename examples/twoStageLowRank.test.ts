/** Tests of the two-stage low-rank method: the layer against plain arithmetic, its gradients, its size. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { compile, dim, loadBackend, mean, square, spec, type Dim, type Tensor } from "rankfuse";
import { CONFIGS } from "rankfuse/models";
import { makeModel } from "rankfuse/methods";
import { assertAllclose, checkGrads, unwrap } from "rankfuse/testing";
import twoStageLowRank, { twoStageLinear, type TwoStageParams } from "./twoStageLowRank.ts";
import { matmul, silu } from "./hostMath.ts";

type P = TwoStageParams<Dim<"d">, Dim<"r">, Dim<"o">>;
type X = Tensor<readonly [Dim<"n">, Dim<"d">]>;

/** Sizes n (rows), d (in), r (rank), o (out), and values for A [d, r], B [r, r], C [r, o], x [n, d]. */
const size = fc.integer({ min: 1, max: 6 });
const values = (k: number) => fc.float64Array({ minLength: k, maxLength: k, min: -2, max: 2, noNaN: true });
const layers = fc.record({ n: size, d: size, r: fc.integer({ min: 1, max: 4 }), o: size }).chain((s) =>
  fc.record({
    s: fc.constant(s),
    p: fc.record({ A: values(s.d * s.r), B: values(s.r * s.r), C: values(s.r * s.o) }),
    x: values(s.n * s.d),
  }),
);
const shapes = (s: { n: number; d: number; r: number; o: number }) => {
  const [n, d, r, o] = [dim("n", s.n), dim("d", s.d), dim("r", s.r), dim("o", s.o)];
  return [{ A: spec([d, r]), B: spec([r, r]), C: spec([r, o]) }, spec([n, d])] as const;
};

describe("twoStageLowRank, C·silu(B·silu(A·x))", () => {
  it("computes silu(silu(x·A)·B)·C, as plain float64 arithmetic does", async () => {
    const backend = unwrap(await loadBackend("reference"));
    await fc.assert(
      fc.asyncProperty(layers, async ({ s, p, x }) => {
        const layer = unwrap(compile((p: P, x: X) => twoStageLinear(x, p), { args: shapes(s), backend }));
        const out = unwrap(await layer.run(p, x)).out;
        const h = matmul(matmul(x, p.A, s.n, s.d, s.r).map(silu), p.B, s.n, s.r, s.r).map(silu);
        assertAllclose(out, matmul(h, p.C, s.n, s.r, s.o), { rtol: 1e-9, atol: 1e-12 });
      }),
      { numRuns: 25 },
    );
  });

  it("has gradients that match float64 central differences", async () => {
    await fc.assert(
      fc.asyncProperty(layers, async ({ s, p, x }) => {
        await checkGrads((p: P, x: X) => mean(square(twoStageLinear(x, p))), shapes(s), [p, x]);
      }),
      { numRuns: 25 },
    );
  });

  it("has d_in·r + r² + r·d_out params per projection, below full rank's, at every paper size", () => {
    for (const name of ["60m", "130m", "350m", "1b"]) {
      const cfg = CONFIGS[name]!;
      const [d, f, r] = [cfg.d, cfg.dFF, cfg.rank];
      const perBlock = 4 * (2 * d * r + r * r) + 3 * ((d + f) * r + r * r) + 2 * d;
      const model = twoStageLowRank.build(cfg);
      expect(model.counts.nonEmbedding).toBe(cfg.layers * perBlock + d);
      expect(model.counts.nonEmbedding).toBeLessThan(unwrap(makeModel("full", cfg)).counts.nonEmbedding);
    }
  });
});
