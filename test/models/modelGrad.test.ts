import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import { flatten, unflatten } from "../../ir/tree.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { loadBackend } from "../../backends/index.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import { type LanguageModel } from "../../models/model.ts";
import { METHODS, makeModel } from "../../methods/index.ts";
import { compileTrainStep } from "../../train/step.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { absDot, centralDifference4, dot, rmsDirection, shifted } from "../../testing/directional.ts";

/**
 * Whole-model gradients: central differences of the float64 loss along random directions (JAX's
 * check_grads), over all params at once and one param at a time; then float32 wasm against the reference.
 */

const reference = referenceBackend();
const cfg: ModelConfig = unwrap(
  resolveConfig("tiny", { d: 16, heads: 2, layers: 1, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }),
);
const [b, t] = [dim("b", cfg.batch), dim("t", cfg.seq)];
const batchSpecs = [spec([b, t], "int32"), spec([b, t], "int32")] as const;
const n = cfg.batch * cfg.seq;

type Runner = {
  loss(p: Float64Array[], x: Int32Array, y: Int32Array): Promise<number>;
  valueAndGrad(p: Float64Array[], x: Int32Array, y: Int32Array): Promise<{ value: number; grads: Float64Array[] }>;
};

function compileModel(model: LanguageModel): Runner {
  const args = [model.layout.specs, ...batchSpecs] as const;
  const fwd = unwrap(compile((p: unknown, x: Tensor, y: Tensor) => model.loss(p, x, y), { args, backend: reference }));
  const both = unwrap(
    compile((p: unknown, x: Tensor, y: Tensor) => valueAndGrad((q: unknown) => model.loss(q, x, y))(p), {
      args,
      backend: reference,
    }),
  );
  const tree = (p: Float64Array[]) => unflatten(model.layout.def, p) as never;
  return {
    loss: async (p, x, y) =>
      (unwrap(await fwd.run(tree(p), x as never, y as never)).out as unknown as Float64Array)[0]!,
    valueAndGrad: async (p, x, y) => {
      const [value, g] = unwrap(await both.run(tree(p), x as never, y as never)).out as unknown as [
        Float64Array,
        unknown,
      ];
      return { value: value[0]!, grads: flatten(g, (a): a is Float64Array => a instanceof Float64Array).leaves };
    },
  };
}

/**
 * Params to check at: the model's init with the norm gains moved off 1 (so their gradients are not
 * symmetric), and full rank's std-0.02 weights scaled up so the inner layers carry a real signal.
 */
function pointFor(model: LanguageModel, seed: number): Float64Array[] {
  const rng = Rng.fromSeed(seed + 1000);
  const scale = model.method === "full" ? 5 : 1;
  return model.init(seed).map((a, i) => {
    const isNorm = /Norm$/.test(model.layout.names[i]!);
    // a frozen scalar a scheme writes (the self-guided α, 1 at init) goes where both branches it mixes are live
    if (model.frozen?.[i] && a.length === 1) return Float64Array.of(0.4);
    // an all-zero init (LoRA's B) would hide its own and its partner's gradient: start it off zero
    if (a.every((x) => x === 0)) return Float64Array.from(a, () => 0.05 * rng.normal());
    return Float64Array.from(a, (x) => (isNorm ? x + 0.3 * rng.normal() : x * scale));
  });
}
/** Fourth-order central difference of the loss along v (error O(h⁴)). */
const numericDerivative = (
  run: Runner,
  p: readonly Float64Array[],
  v: readonly Float64Array[],
  x: Int32Array,
  y: Int32Array,
  h = 1e-4,
) => centralDifference4((s) => run.loss(shifted(p, v, s * h), x, y), h);
const tokens = (rng: Rng) => Int32Array.from({ length: n }, () => rng.nextInt(cfg.vocab));

describe.each(METHODS)("%s model gradients", (method) => {
  const model: LanguageModel = unwrap(makeModel(method, cfg));
  const run = compileModel(model);

  it("match central differences along random directions through all params (float64)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1e6 }), async (seed) => {
        const p = pointFor(model, seed);
        const rng = Rng.fromSeed(seed);
        const [x, y] = [tokens(rng), tokens(rng)];
        const v = rmsDirection(p, rng);
        const { value, grads } = await run.valueAndGrad(p, x, y);
        expect(value).toBe(await run.loss(p, x, y));
        expect(grads.map((g) => g.length)).toEqual(p.map((a) => a.length));
        const numeric = await numericDerivative(run, p, v, x, y);
        const analytic = dot(grads, v),
          scale = absDot(grads, v);
        expect(scale).toBeGreaterThan(1e-2); // a real signal, not two zeros agreeing
        expect(Math.abs(analytic - numeric)).toBeLessThan(1e-6 * scale);
      }),
      { numRuns: runs(4) },
    );
  });

  it("match central differences one param at a time (so a wrong small param cannot hide)", async () => {
    const p = pointFor(model, 7);
    const rng = Rng.fromSeed(8);
    const [x, y] = [tokens(rng), tokens(rng)];
    const { grads } = await run.valueAndGrad(p, x, y);
    const bad: string[] = [];
    for (let i = 0; i < p.length; i++) {
      const v = rmsDirection(p, rng, (k) => k === i);
      const numeric = await numericDerivative(run, p, v, x, y);
      const analytic = dot(grads, v),
        scale = absDot(grads, v);
      if (!(Math.abs(analytic - numeric) <= 1e-6 * scale))
        bad.push(`${model.layout.names[i]}: analytic ${analytic}, numeric ${numeric}`);
      if (!(scale > 1e-5)) bad.push(`${model.layout.names[i]}: no signal (Σ|g·v| = ${scale})`);
    }
    expect(bad).toEqual([]);
  });

  it("in float32 on wasm agree with the reference within 1e-3 relative norm", async () => {
    const loaded = await loadBackend("wasm");
    if (E.isLeft(loaded)) throw new Error(loaded.left.message);
    const step = unwrap(compileTrainStep(model, loaded.right, cfg.batch, cfg.seq));
    for (const seed of [1, 2]) {
      const p32 = pointFor(model, seed).map((a) => Float32Array.from(a));
      const p64 = p32.map((a) => Float64Array.from(a)); // the same point, exactly
      const rng = Rng.fromSeed(seed);
      const [x, y] = [tokens(rng), tokens(rng)];
      const full = await run.valueAndGrad(p64, x, y);
      // the training step computes no gradient for a model's frozen params (ReLoRA's W): an empty array
      const want = {
        value: full.value,
        grads: full.grads.map((g, i) => (model.frozen?.[i] ? new Float64Array(0) : g)),
      };
      const got = unwrap(await step.run(p32, x, y));
      expect(Math.abs(got.loss - want.value)).toBeLessThan(1e-3 * Math.abs(want.value));
      expect(got.grads.map((g) => g.length)).toEqual(want.grads.map((g) => g.length));
      let num = 0,
        den = 0;
      got.grads.forEach((g, i) => {
        let ni = 0,
          di = 0;
        g.forEach((gj, j) => {
          const w = want.grads[i]![j]!;
          ni += (gj - w) ** 2;
          di += w * w;
        });
        num += ni;
        den += di;
        // per param, loosely: catches a gradient wired to the wrong tensor even if it is small
        expect(Math.sqrt(ni), model.layout.names[i]).toBeLessThan(1e-2 * Math.sqrt(di) + 1e-7);
      });
      expect(Math.sqrt(num / den)).toBeLessThan(1e-3);
    }
  });
});
