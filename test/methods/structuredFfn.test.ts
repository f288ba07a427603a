import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { anon, dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import { flatten, unflatten } from "../../ir/tree.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { layoutOf } from "../../models/params.ts";
import {
  applyStructured,
  declareStructured,
  type StructuredKind,
  type StructuredParams,
} from "../../methods/structuredFfn/layers.ts";
import { matmul } from "../../util/linalg/jacobiSvd.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { absDot, centralDifference4, dot, rmsDirection, shifted } from "../../testing/directional.ts";
import { batchSpecs, lossOf, tokens } from "../models/referenceLoss.ts";

const reference = referenceBackend();
const KINDS: StructuredKind[] = ["lowRank", "blockShuffle", "blockDense"];

/** The block-diagonal matrix [nb·ki, nb·ko] of blocks w [nb, ki, ko]. */
function blockDiag(w: Float64Array, nb: number, ki: number, ko: number): Float64Array {
  const m = new Float64Array(nb * ki * nb * ko);
  for (let b = 0; b < nb; b++)
    for (let i = 0; i < ki; i++)
      for (let o = 0; o < ko; o++) m[(b * ki + i) * nb * ko + b * ko + o] = w[(b * ki + i) * ko + o]!;
  return m;
}
/** The dense M with map(x) = x·M, built on the host from the definitions (independently of the DSL code). */
function denseEquivalent(
  kind: StructuredKind,
  shapes: readonly (readonly number[])[],
  w: Float64Array[],
  i: number,
  o: number,
): Float64Array {
  if (kind === "lowRank") return matmul(w[0]!, w[1]!, i, shapes[0]![1]!, o);
  const [nb, ki, kh] = shapes[0]! as [number, number, number];
  const first = blockDiag(w[0]!, nb, ki, kh);
  const h = nb * kh;
  if (kind === "blockDense") return matmul(first, w[1]!, i, h, o);
  // the shuffle: hidden unit j·kh + c (block j, unit c) moves to c·nb + j
  const perm = new Float64Array(h * h);
  for (let j = 0; j < nb; j++) for (let c = 0; c < kh; c++) perm[(j * kh + c) * h + c * nb + j] = 1;
  if (nb === 1) expect(perm).toEqual(Float64Array.from({ length: h * h }, (_, k) => (k % (h + 1) === 0 ? 1 : 0))); // one block: no shuffle
  return matmul(matmul(first, perm, i, h, h), blockDiag(w[1]!, nb, kh, o / nb), i, h, o);
}

describe("structured FFN maps", () => {
  it.each(KINDS)("%s equals the dense map x·M its definition gives (random sizes, 1..4 blocks)", async (kind) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 1e6 }),
        async (nb, a, b, r, seed) => {
          const [i, o, rank] = [nb * a, nb * b, kind === "blockDense" ? nb * r : r];
          const decl = declareStructured(kind, dim("i", i), dim("o", o), rank, nb);
          const layout = layoutOf(decl);
          if (kind !== "lowRank") expect(layout.shapes[0]![0]).toBe(nb); // the block count asked for fits these sizes
          const rng = Rng.fromSeed(seed);
          const w = layout.shapes.map((s) =>
            Float64Array.from({ length: s.reduce((p, q) => p * q, 1) }, () => rng.normal()),
          );
          const n = 3;
          const x = Float64Array.from({ length: 2 * n * i }, () => rng.normal());
          const f = unwrap(
            compile((xs, ps: unknown) => applyStructured(xs, ps as StructuredParams<Dim<"i">, Dim<"o">>), {
              args: [spec([dim("b", 2), dim("t", n), dim("i", i)]), layout.specs] as const,
              backend: reference,
            }),
          );
          const got = unwrap(await f.run(x as never, unflatten(layout.def, w) as never)).out as unknown as Float64Array;
          const want = matmul(x, denseEquivalent(kind, layout.shapes, w, i, o), 2 * n, i, o);
          expect(got.length).toBe(want.length);
          got.forEach((g, k) => expect(Math.abs(g - want[k]!)).toBeLessThan(1e-12 * (1 + Math.abs(want[k]!))));
        },
      ),
      { numRuns: runs(12) },
    );
  });

  it("with one block, BlockShuffle and BlockDense are the plain product x·W₁·W₂ (a dense map)", async () => {
    for (const kind of ["blockShuffle", "blockDense"] as const) {
      const decl = declareStructured(kind, dim("i", 6), dim("o", 5), 4, 1);
      const layout = layoutOf(decl);
      expect(layout.shapes[0]![0]).toBe(1);
      const rng = Rng.fromSeed(2);
      const w = layout.shapes.map((s) =>
        Float64Array.from({ length: s.reduce((p, q) => p * q, 1) }, () => rng.normal()),
      );
      const x = Float64Array.from({ length: 6 }, () => rng.normal());
      const f = unwrap(
        compile((xs, ps: unknown) => applyStructured(xs, ps as StructuredParams<Dim<"i">, Dim<"o">>), {
          args: [spec([anon(1), dim("i", 6)]), layout.specs] as const,
          backend: reference,
        }),
      );
      const got = unwrap(await f.run(x as never, unflatten(layout.def, w) as never)).out as unknown as Float64Array;
      const want = matmul(x, matmul(w[0]!, w[1]!, 6, 4, 5), 1, 6, 5);
      got.forEach((g, k) => expect(Math.abs(g - want[k]!)).toBeLessThan(1e-12));
    }
  });
});

const cfgFor = (over: object = {}): ModelConfig =>
  unwrap(resolveConfig("tiny", { d: 8, heads: 2, dFF: 12, rank: 4, vocab: 16, seq: 4, batch: 2, layers: 2, ...over }));
const METHOD: Record<StructuredKind, string> = {
  lowRank: "lowrankFfnGuided",
  blockShuffle: "blockShuffleFfnGuided",
  blockDense: "blockDenseFfnGuided",
};

describe.each(KINDS)("%s self-guided model", (kind) => {
  const cfg = cfgFor();
  const model = unwrap(makeModel(METHOD[kind], cfg));
  /** Init with norms off 1, every weight scaled up to carry a signal, and α set. */
  const point = (seed: number, alpha: number) => {
    const rng = Rng.fromSeed(seed + 100);
    return model.init(seed).map((a, i) => {
      const n = model.layout.names[i]!;
      return Float64Array.from(a, (x) =>
        n === "guideAlpha" ? alpha : /Norm$/.test(n) ? x + 0.3 * rng.normal() : 4 * x,
      );
    });
  };

  it("attention is dense and only the MLP maps carry a guide; α is the one frozen param", () => {
    expect(model.layout.names.filter((n) => /\.guide$/.test(n))).toHaveLength(3 * cfg.layers);
    expect(model.layout.names.filter((n) => /\.(q|k|v|o)$/.test(n))).toHaveLength(4 * cfg.layers);
    expect(model.layout.names.filter((_, i) => model.frozen![i])).toEqual(["guideAlpha"]);
  });

  it("with α = 1 equals the full-rank model whose MLP weights are the guides (bit for bit)", async () => {
    const full = unwrap(makeModel("full", cfg));
    const p = point(1, 1);
    const byName = new Map(model.layout.names.map((n, i) => [n, p[i]!]));
    const fullParams = full.layout.names.map((n) => byName.get(n) ?? byName.get(`${n}.guide`)!);
    const rng = Rng.fromSeed(2);
    const [x, y] = [tokens(cfg, rng), tokens(cfg, rng)];
    expect(await lossOf(model, p, x, y)).toBe(await lossOf(full, fullParams, x, y));
    expect(await lossOf(model, point(1, 0.5), x, y)).not.toBe(await lossOf(full, fullParams, x, y)); // the structured part is really there
  });

  it("gradients match fourth-order central differences in float64 (α = 0.4: guide and structured both live)", async () => {
    const both = unwrap(
      compile((p: unknown, x: Tensor, y: Tensor) => valueAndGrad((q: unknown) => model.loss(q, x, y))(p), {
        args: [model.layout.specs, ...batchSpecs(cfg)] as const,
        backend: reference,
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1e6 }), async (seed) => {
        const p = point(seed, 0.4);
        const rng = Rng.fromSeed(seed);
        const [x, y] = [tokens(cfg, rng), tokens(cfg, rng)];
        const [, gt] = unwrap(await both.run(unflatten(model.layout.def, p) as never, x as never, y as never))
          .out as unknown as [Float64Array, unknown];
        const g = flatten(gt, (a): a is Float64Array => a instanceof Float64Array).leaves;
        // one direction through everything, then one through each MLP map's params alone (a wrong small one cannot hide)
        const groups = [
          () => true,
          (n: string) => /\.gate\./.test(n),
          (n: string) => /\.up\./.test(n),
          (n: string) => /\.down\./.test(n),
          (n: string) => n === "guideAlpha",
        ];
        for (const only of groups) {
          const v = rmsDirection(p, rng, (i) => only(model.layout.names[i]!));
          const h = 2e-5;
          const numeric = await centralDifference4((k) => lossOf(model, shifted(p, v, k * h), x, y), h);
          const [analytic, scale] = [dot(g, v), absDot(g, v)];
          expect(scale).toBeGreaterThan(1e-5);
          expect(Math.abs(analytic - numeric)).toBeLessThan(1e-6 * scale);
        }
      }),
      { numRuns: runs(2) },
    );
  });
});

describe.each(KINDS)("%s without a guide", (kind) => {
  const cfg = cfgFor();
  const plain = unwrap(makeModel(METHOD[kind].replace(/Guided$/, ""), cfg));
  const guided = unwrap(makeModel(METHOD[kind], cfg));

  it("has no guide, no α and nothing frozen, and fewer params than full", () => {
    expect(plain.layout.names.some((n) => /\.guide$|guideAlpha/.test(n))).toBe(false);
    expect(plain.frozen).toBeUndefined();
    expect(plain.scheme).toBeUndefined();
    expect(plain.counts.total).toBeLessThan(unwrap(makeModel("full", cfg)).counts.total);
    expect(plain.forwardFlopsPerToken).toBeLessThan(guided.forwardFlopsPerToken);
  });

  it("equals the guided model at α = 0 with the same structured params (bit for bit)", async () => {
    const p = plain.init(3).map((a) => Float64Array.from(a, (x) => 4 * x));
    const byName = new Map(plain.layout.names.map((n, i) => [n, p[i]!]));
    const g = guided.init(9).map((a, i) => {
      const n = guided.layout.names[i]!;
      return n === "guideAlpha" ? Float64Array.of(0) : (byName.get(n) ?? Float64Array.from(a));
    });
    const rng = Rng.fromSeed(4);
    const [x, y] = [tokens(cfg, rng), tokens(cfg, rng)];
    expect(await lossOf(plain, p, x, y)).toBe(await lossOf(guided, g, x, y));
  });
});
