import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { unflatten } from "../../ir/tree.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import { type LanguageModel } from "../../models/model.ts";
import { makeModel } from "../../methods/index.ts";
import { linear } from "../../models/layers.ts";
import { decoderLoss, type DecoderOptions, type DecoderParams } from "../../models/transformer.ts";
import type { ColaWeights, DenseWeights, Projection, WeightKind } from "../../models/projection.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";

/**
 * "CoLA with identity activation and r = d equals a dense model with W = A·B": the same decoder, once
 * with every projection x ↦ (x·A)·B and once with x ↦ x·W where W = A·B is multiplied on the host.
 * Since the identity CoLA layer is linear, the two compute the same function; on the float64 reference
 * they differ only by summation order.
 */

const backend = referenceBackend();
const cfgWith = (onlyLrAct: boolean): ModelConfig =>
  unwrap(
    resolveConfig("tiny", { d: 16, heads: 2, layers: 2, dFF: 24, rank: 16, vocab: 32, seq: 8, batch: 2, onlyLrAct }),
  );
const cfg = cfgWith(true);
const cola: LanguageModel = unwrap(makeModel("cola", cfg));
const full: LanguageModel = unwrap(makeModel("full", cfg));

const identityCola: Projection<ColaWeights> = { apply: (x, w) => linear(linear(x, w.A), w.B) };
const siluCola: Projection<ColaWeights> = { apply: (x, w) => linear(op.silu(linear(x, w.A)), w.B) };
const dense: Projection<DenseWeights> = { apply: (x, w) => linear(x, w) };

const [b, t] = [dim("b", cfg.batch), dim("t", cfg.seq)];
const batchSpecs = [spec([b, t], "int32"), spec([b, t], "int32")] as const;

/** A compiled decoder loss over a model's param layout, with a custom projection. */
function decoderLossFn<K extends WeightKind>(model: LanguageModel, opts: DecoderOptions<K>) {
  const c = unwrap(
    compile((p: unknown, x, y) => decoderLoss(model.config, p as DecoderParams<K>, x, y, opts), {
      args: [model.layout.specs, ...batchSpecs] as const,
      backend,
    }),
  );
  return async (params: Float64Array[], x: Int32Array, y: Int32Array) =>
    (
      unwrap(await c.run(unflatten(model.layout.def, params) as never, x as never, y as never))
        .out as unknown as Float64Array
    )[0]!;
}
/** The model's own loss, compiled. */
function modelLossFn(model: LanguageModel) {
  const c = unwrap(
    compile((p: unknown, x: Tensor, y: Tensor) => model.loss(p, x, y), {
      args: [model.layout.specs, ...batchSpecs] as const,
      backend,
    }),
  );
  return async (params: Float64Array[], x: Int32Array, y: Int32Array) =>
    (
      unwrap(await c.run(unflatten(model.layout.def, params) as never, x as never, y as never))
        .out as unknown as Float64Array
    )[0]!;
}

/** Row-major [m, k] · [k, n] in float64. */
function hostMatmul(a: Float64Array, bm: Float64Array, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p]!;
      for (let j = 0; j < n; j++) out[i * n + j]! += aip * bm[p * n + j]!;
    }
  return out;
}

/**
 * Random CoLA params (factors of a scale that keeps activations O(1), norm gains around 1, so every
 * part of the network matters), and the dense params with W = A·B, in the full model's layout order.
 */
function paramsFor(seed: number): { cola: Float64Array[]; dense: Float64Array[] } {
  const rng = Rng.fromSeed(seed);
  const colaVals = cola.layout.names.map((name, i) => {
    const shape = cola.layout.shapes[i]!;
    const n = shape.reduce((x, y) => x * y, 1);
    if (/Norm$/.test(name)) return Float64Array.from({ length: n }, () => 1 + 0.2 * rng.normal());
    const std = name === "embed" || name === "head" ? 0.5 : 1 / Math.sqrt(shape[0]!);
    return Float64Array.from({ length: n }, () => std * rng.normal());
  });
  const byName = new Map(cola.layout.names.map((n, i) => [n, i]));
  const denseVals = full.layout.names.map((name, i) => {
    const same = byName.get(name);
    if (same !== undefined) return colaVals[same]!;
    const ia = byName.get(`${name}.A`)!,
      ib = byName.get(`${name}.B`)!;
    const [dIn, r] = cola.layout.shapes[ia]!,
      [, dOut] = cola.layout.shapes[ib]!;
    expect(full.layout.shapes[i]).toEqual([dIn, dOut]);
    return hostMatmul(colaVals[ia]!, colaVals[ib]!, dIn!, r!, dOut!);
  });
  return { cola: colaVals, dense: denseVals };
}

const tokens = (rng: Rng) => Int32Array.from({ length: cfg.batch * cfg.seq }, () => rng.nextInt(cfg.vocab));
const relDiff = (a: number, c: number) => Math.abs(a - c) / Math.max(Math.abs(c), 1e-300);

describe("CoLA with identity activation and r = d equals a dense model with W = A·B", () => {
  it("the configs really are r = d, and the two layouts differ exactly by the factorisation", () => {
    expect(cfg.rank).toBe(cfg.d);
    const factored = full.layout.names.filter((n) => !cola.layout.names.includes(n));
    expect(factored.every((n) => cola.layout.names.includes(`${n}.A`) && cola.layout.names.includes(`${n}.B`))).toBe(
      true,
    );
    expect(factored).toHaveLength(7 * cfg.layers);
  });

  const denseFns = {
    true: decoderLossFn(full, { proj: dense, gateSilu: true }),
    false: decoderLossFn(full, { proj: dense, gateSilu: false }),
  };
  const colaFns = {
    true: decoderLossFn(cola, { proj: identityCola, gateSilu: true }),
    false: decoderLossFn(cola, { proj: identityCola, gateSilu: false }),
  };

  it("at the decoder level, with the same gate SiLU setting on both sides, losses agree to 1e-9 relative", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1e6 }), fc.boolean(), async (seed, gateSilu) => {
        const p = paramsFor(seed);
        const rng = Rng.fromSeed(seed + 1);
        const [x, y] = [tokens(rng), tokens(rng)];
        const key = String(gateSilu) as "true" | "false";
        const lc = await colaFns[key](p.cola, x, y);
        const ld = await denseFns[key](p.dense, x, y);
        expect(Number.isFinite(lc)).toBe(true);
        expect(relDiff(lc, ld)).toBeLessThan(1e-9);
      }),
      { numRuns: runs(6) },
    );
  });

  it("the full model's own loss (SwiGLU) equals the identity-CoLA decoder with a gate SiLU", async () => {
    const fullLoss = modelLossFn(full);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1e6 }), async (seed) => {
        const p = paramsFor(seed);
        const rng = Rng.fromSeed(seed + 1);
        const [x, y] = [tokens(rng), tokens(rng)];
        expect(relDiff(await colaFns.true(p.cola, x, y), await fullLoss(p.dense, x, y))).toBeLessThan(1e-9);
      }),
      { numRuns: runs(4) },
    );
  });

  it("the CoLA model's own loss is the SiLU-CoLA decoder (gate SiLU iff !onlyLrAct), and differs from the dense one", async () => {
    for (const onlyLrAct of [true, false]) {
      const m: LanguageModel = unwrap(makeModel("cola", cfgWith(onlyLrAct)));
      const own = modelLossFn(m);
      const explicit = decoderLossFn(m, { proj: siluCola, gateSilu: !onlyLrAct });
      const wrongGate = decoderLossFn(m, { proj: siluCola, gateSilu: onlyLrAct });
      for (const seed of [3, 4]) {
        const p = paramsFor(seed);
        const rng = Rng.fromSeed(seed + 1);
        const [x, y] = [tokens(rng), tokens(rng)];
        const l = await own(p.cola, x, y);
        expect(relDiff(l, await explicit(p.cola, x, y))).toBeLessThan(1e-12);
        // non-vacuity: the activations inside CoLA and on the gate both change the function
        expect(relDiff(l, await wrongGate(p.cola, x, y))).toBeGreaterThan(1e-6);
        expect(relDiff(l, await denseFns[String(!onlyLrAct) as "true" | "false"](p.dense, x, y))).toBeGreaterThan(1e-6);
      }
    }
  });

  it("non-vacuity: a wrong W (B·A order, i.e. Wᵀ for square blocks) breaks the equality", async () => {
    const p = paramsFor(11);
    const rng = Rng.fromSeed(12);
    const [x, y] = [tokens(rng), tokens(rng)];
    const q = full.layout.names.indexOf("blocks.0.q");
    const w = p.dense[q]!;
    const d = cfg.d;
    const wT = Float64Array.from({ length: d * d }, (_, k) => w[(k % d) * d + Math.floor(k / d)]!);
    const broken = p.dense.map((a, i) => (i === q ? wT : a));
    expect(relDiff(await denseFns.true(broken, x, y), await colaFns.true(p.cola, x, y))).toBeGreaterThan(1e-6);
  });
});
