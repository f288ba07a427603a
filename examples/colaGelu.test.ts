/**
 * Tests of a method of your own, in the style of rankfuse's: properties over random shapes and values
 * (fast-check), gradients against float64 central differences (checkGrads from rankfuse/testing), the
 * method's size, and a few steps through rankfuse/train's loop.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { compile, dim, loadBackend, mean, square, spec, type Dim, type Tensor } from "rankfuse";
import { CONFIGS, resolveConfig, type ColaParams } from "rankfuse/models";
import { makeModel } from "rankfuse/methods";
import { train, type TrainOptions } from "rankfuse/train";
import { assertAllclose, checkGrads, unwrap } from "rankfuse/testing";
import colaGelu, { colaGeluLinear } from "./colaGelu.ts";
import { gelu, matmul } from "./hostMath.ts";

type P = ColaParams<Dim<"d">, Dim<"r">, Dim<"o">>;
type X = Tensor<readonly [Dim<"n">, Dim<"d">]>;

/** Sizes n (rows), d (in), r (rank), o (out), and values for A [d, r], B [r, o], x [n, d]. */
const size = fc.integer({ min: 1, max: 6 });
const values = (k: number) => fc.float64Array({ minLength: k, maxLength: k, min: -2, max: 2, noNaN: true });
const layers = fc
  .record({ n: size, d: size, r: fc.integer({ min: 1, max: 4 }), o: size })
  .chain((s) => fc.record({ s: fc.constant(s), A: values(s.d * s.r), B: values(s.r * s.o), x: values(s.n * s.d) }));
const shapes = (s: { n: number; d: number; r: number; o: number }) => {
  const [n, d, r, o] = [dim("n", s.n), dim("d", s.d), dim("r", s.r), dim("o", s.o)];
  return [{ A: spec([d, r]), B: spec([r, o]) }, spec([n, d])] as const;
};

describe("colaGelu, CoLA with GELU", () => {
  it("computes gelu(x·A)·B, as plain float64 arithmetic does", async () => {
    const backend = unwrap(await loadBackend("reference"));
    await fc.assert(
      fc.asyncProperty(layers, async ({ s, A, B, x }) => {
        const layer = unwrap(compile((p: P, x: X) => colaGeluLinear(x, p), { args: shapes(s), backend }));
        const out = unwrap(await layer.run({ A, B }, x)).out;
        const expected = matmul(matmul(x, A, s.n, s.d, s.r).map(gelu), B, s.n, s.r, s.o);
        assertAllclose(out, expected, { rtol: 1e-9, atol: 1e-12 });
      }),
      { numRuns: 25 },
    );
  });

  it("has gradients that match float64 central differences", async () => {
    await fc.assert(
      fc.asyncProperty(layers, async ({ s, A, B, x }) => {
        const loss = (p: P, x: X) => mean(square(colaGeluLinear(x, p)));
        await checkGrads(loss, shapes(s), [{ A, B }, x]);
      }),
      { numRuns: 25 },
    );
  });

  it("has CoLA's parameter count, below full rank's, at every paper size", () => {
    for (const name of ["60m", "130m", "350m", "1b"]) {
      const cfg = CONFIGS[name]!;
      const model = colaGelu.build(cfg);
      expect(model.counts.total).toBe(unwrap(makeModel("cola", cfg)).counts.total);
      expect(model.counts.nonEmbedding).toBeLessThan(unwrap(makeModel("full", cfg)).counts.nonEmbedding);
    }
  });

  it("learns a repeated sequence in a few steps of rankfuse/train's loop", async () => {
    const cfg = unwrap(resolveConfig("tiny", { d: 16, heads: 2, layers: 1, dFF: 32, rank: 4, vocab: 16 }));
    const pattern = Int32Array.from({ length: 32 }, (_, i) => (i * 7 + 3) % 16);
    const tokens = (k: number) => Int32Array.from({ length: k }, (_, i) => pattern[i % 32]!);
    const options: TrainOptions = {
      ...{ steps: 30, batch: 4, seq: 8, seed: 0, lr: 1e-2, warmupSteps: 3, minLrRatio: 0.1 },
      ...{ weightDecay: 0, clip: 1, evalEvery: 0, evalBatches: 2, checkpointEvery: 0, resume: false },
      fingerprint: {},
    };
    const backend = unwrap(await loadBackend("reference"));
    const run = unwrap(
      await train(colaGelu.build(cfg), backend, { train: tokens(2048), val: tokens(512), bytesPerToken: 1 }, options),
    );
    expect(run.final.loss).toBeLessThan(0.5 * Math.log(16));
  });
});
