import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { anon, dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { currentTrace, Tensor } from "../../dsl/trace.ts";
import { flatten, unflatten } from "../../ir/tree.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Backend } from "../../ir/backend.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { loadBackend } from "../../backends/index.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import { type LanguageModel } from "../../models/model.ts";
import { makeModel } from "../../methods/index.ts";
import { crnetScaleHost, PROJECTIONS } from "../../methods/crnet/decoder.ts";
import { invertCrnetStep } from "../../methods/crnet/invert.ts";
import { CRNET_XA } from "../../methods/crnet/remat.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { absDot, centralDifference4, dot, rmsDirection, shifted } from "../../testing/directional.ts";
import { batchSpecs, lossOf, tokens } from "../models/referenceLoss.ts";

/**
 * CR-Net's defining equivalences: layer 1 is a dense LLaMA layer, with β = 0 a later layer is a plain
 * (dense-equivalent) low-rank layer, every projection output follows Y_ℓ = s(β_ℓ)·Y_{ℓ−1} + X_ℓA_ℓB_ℓ,
 * and running the recurrence backwards recovers Y in float32.
 */

const reference = referenceBackend();
const cfgFor = (over: object): ModelConfig =>
  unwrap(resolveConfig("tiny", { d: 8, heads: 2, dFF: 12, rank: 3, vocab: 16, seq: 4, batch: 2, layers: 3, ...over }));
/** Params moved off init (norm gains off 1, β anywhere, std-0.02 weights scaled up to carry a signal) so no equivalence holds by accident. */
const perturbed = (m: LanguageModel, seed: number): Float64Array[] => {
  const rng = Rng.fromSeed(seed);
  return m
    .init(seed)
    .map((a, i) =>
      Float64Array.from(a, (x) =>
        /Norm$/.test(m.layout.names[i]!)
          ? x + 0.3 * rng.normal()
          : /beta$/.test(m.layout.names[i]!)
            ? 1.5 * rng.normal()
            : /\.[AB]$/.test(m.layout.names[i]!)
              ? x
              : 5 * x,
      ),
    );
};

describe("crnet model", () => {
  it("with one layer is exactly the full-rank model (layer 1 is a plain dense layer)", async () => {
    const cfg = cfgFor({ layers: 1 });
    const [crnet, full] = [unwrap(makeModel("crnet", cfg)), unwrap(makeModel("full", cfg))];
    expect(crnet.layout.names).toEqual(full.layout.names);
    const rng = Rng.fromSeed(1);
    const p = perturbed(full, 1);
    const [x, y] = [tokens(cfg, rng), tokens(cfg, rng)];
    expect(await lossOf(crnet, p, x, y)).toBe(await lossOf(full, p, x, y));
  });

  it("with β = 0 equals the full model whose layer-ℓ weights are A_ℓ·B_ℓ (to within s(0) = 1e-6)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 2, max: 3 }), async (seed, layers) => {
        const cfg = cfgFor({ layers });
        const [crnet, full] = [unwrap(makeModel("crnet", cfg)), unwrap(makeModel("full", cfg))];
        const p = perturbed(crnet, seed);
        const byName = new Map(crnet.layout.names.map((n, i) => [n, p[i]!]));
        byName.forEach((v, n) => /beta$/.test(n) && v.fill(0));
        const fullParams = full.layout.names.map((n, i) => {
          const m = /^blocks\.(\d+)\.(\w+)$/.exec(n);
          if (!m || m[1] === "0" || !byName.has(`${n}.A`)) return byName.get(n)!;
          const [A, B] = [byName.get(`${n}.A`)!, byName.get(`${n}.B`)!];
          const [rows, cols] = full.layout.shapes[i]! as [number, number];
          return Float64Array.from({ length: rows * cols }, (_, k) => {
            let s = 0;
            for (let j = 0; j < cfg.rank; j++) s += A[Math.floor(k / cols) * cfg.rank + j]! * B[j * cols + (k % cols)]!;
            return s;
          });
        });
        const rng = Rng.fromSeed(seed + 1);
        const [x, y] = [tokens(cfg, rng), tokens(cfg, rng)];
        const [a, b] = [await lossOf(crnet, p, x, y), await lossOf(full, fullParams, x, y)];
        expect(Math.abs(a - b)).toBeLessThan(1e-4 * Math.abs(b));
        expect(a).not.toBe(b); // the 1e-6·Y_{ℓ−1} term is really there
      }),
      { numRuns: runs(3) },
    );
  });
});

/** The model's forward, also returning every projection output Y (layer by layer, q..down) and every X·A. */
async function forwardValues(
  model: LanguageModel,
  backend: Backend<any>,
  params: Float32Array[] | Float64Array[],
  x: Int32Array,
) {
  const f = unwrap(
    compile(
      (p: unknown, ids: Tensor) => {
        const logits = model.logits(p, ids);
        const named = (test: (n: string) => boolean) =>
          currentTrace()
            .eqns.filter((e) => test(e.meta.name ?? ""))
            .map((e) => new Tensor(e.out, currentTrace()));
        return [logits, named((n) => n.startsWith("crnet_y:")), named((n) => n === CRNET_XA)];
      },
      { args: [model.layout.specs, batchSpecs(model.config)[0]] as const, backend },
    ),
  );
  const [, ys, xas] = unwrap(
    await f.run(unflatten<Float32Array | Float64Array>(model.layout.def, params) as never, x as never),
  ).out as unknown as [unknown, Float64Array[], Float64Array[]];
  return { ys, xas };
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a, Math.abs).reduce((m, v) => Math.max(m, v), 0);

describe("crnet recurrence", () => {
  const cfg = cfgFor({ layers: 4 });
  const model = unwrap(makeModel("crnet", cfg));
  const P = PROJECTIONS.length;
  const param = <T extends Float64Array | Float32Array>(p: readonly T[], name: string): T =>
    p[model.layout.names.indexOf(name)]!;

  it("every projection output is Y_ℓ = s(β_ℓ)·Y_{ℓ−1} + (X_ℓA_ℓ)·B_ℓ (float64)", async () => {
    const p = perturbed(model, 3);
    const { ys, xas } = await forwardValues(model, reference, p, tokens(cfg, Rng.fromSeed(4)));
    expect(ys).toHaveLength(cfg.layers * P);
    expect(xas).toHaveLength((cfg.layers - 1) * P);
    for (let l = 1; l < cfg.layers; l++) {
      PROJECTIONS.forEach((name, j) => {
        const [y, prev, xa] = [ys[l * P + j]!, ys[(l - 1) * P + j]!, xas[(l - 1) * P + j]!];
        const [B, s] = [param(p, `blocks.${l}.${name}.B`), crnetScaleHost(param(p, `blocks.${l}.${name}.beta`)[0]!)];
        const o = B.length / cfg.rank;
        for (let k = 0; k < y.length; k++) {
          let low = 0;
          for (let r = 0; r < cfg.rank; r++) low += xa[Math.floor(k / o) * cfg.rank + r]! * B[r * o + (k % o)]!;
          expect(Math.abs(y[k]! - (s * prev[k]! + low))).toBeLessThan(1e-12 * (1 + Math.abs(y[k]!)));
        }
      });
    }
  });

  it("run backwards from the last layer, recovers every earlier Y within float32 tolerance", async () => {
    const loaded = await loadBackend("wasm");
    if (E.isLeft(loaded)) throw new Error(loaded.left.message);
    const wasm = loaded.right;
    for (const seed of [5, 6]) {
      // |β| ≥ 0.5: each step divides the rounding error by |s(β)|, so tiny β would amplify it (see crnetInvert.ts)
      const p = perturbed(model, seed).map((a, i) =>
        /beta$/.test(model.layout.names[i]!) ? a.map((b) => (Math.abs(b) < 0.5 ? Math.sign(b || 1) * 0.5 : b)) : a,
      );
      const p32 = p.map((a) => Float32Array.from(a));
      const { ys, xas } = await forwardValues(model, wasm, p32, tokens(cfg, Rng.fromSeed(seed)));
      for (let j = 0; j < P; j++) {
        const name = PROJECTIONS[j]!;
        const B0 = param(p32, `blocks.1.${name}.B`);
        const [n, o, r] = [ys[j]!.length / (B0.length / cfg.rank), B0.length / cfg.rank, cfg.rank];
        const step = unwrap(
          compile((y, xa, B, beta) => invertCrnetStep(y, xa, B, beta), {
            args: [
              spec([dim("n", n), dim("o", o)]),
              spec([dim("n", n), dim("r", r)]),
              spec([dim("r", r), dim("o", o)]),
              spec([anon(1)]),
            ] as const,
            backend: wasm,
          }),
        );
        let y = ys[(cfg.layers - 1) * P + j]! as unknown as Float32Array; // the checkpoint: only the last Y is kept
        const top = maxAbs(y);
        let bound = 0; // float32 rounding carried down: each step adds a few ulps of its operands, then divides by |s|
        for (let l = cfg.layers - 1; l >= 1; l--) {
          const beta = param(p32, `blocks.${l}.${name}.beta`);
          const args = [
            y,
            xas[(l - 1) * P + j] as unknown as Float32Array,
            param(p32, `blocks.${l}.${name}.B`),
            beta,
          ] as const;
          y = unwrap(await step.run(...(args as unknown as [never, never, never, never])))
            .out as unknown as Float32Array;
          const [want, above, s] = [ys[(l - 1) * P + j]!, ys[l * P + j]!, Math.abs(crnetScaleHost(beta[0]!))];
          bound = (bound + 8 * 2 ** -23 * (2 * maxAbs(above) + s * maxAbs(want))) / s;
          let worst = 0;
          want.forEach((w, k) => (worst = Math.max(worst, Math.abs(y[k]! - w))));
          expect(worst, `${name} at layer ${l}`).toBeLessThanOrEqual(bound);
          // and float32-small next to the stored Y it came from (layer 1's own Y can be much smaller than the
          // low-rank terms above it, so relative to itself cancellation costs a few more digits: up to ~1e-3)
          expect(worst, `${name} at layer ${l}`).toBeLessThan(1e-5 * top);
        }
      }
    }
  });
});

describe("crnet gradients (float64, 3 layers)", () => {
  const cfg = cfgFor({ layers: 3 });
  const model = unwrap(makeModel("crnet", cfg));
  const args = [model.layout.specs, ...batchSpecs(cfg)] as const;
  const both = unwrap(
    compile((p: unknown, x: Tensor, y: Tensor) => valueAndGrad((q: unknown) => model.loss(q, x, y))(p), {
      args,
      backend: reference,
    }),
  );
  const gradsOf = async (p: Float64Array[], x: Int32Array, y: Int32Array) => {
    const [, g] = unwrap(await both.run(unflatten(model.layout.def, p) as never, x as never, y as never))
      .out as unknown as [Float64Array, unknown];
    return flatten(g, (a): a is Float64Array => a instanceof Float64Array).leaves;
  };

  it("match fourth-order central differences along random directions, through all params and through the β alone", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1e6 }), async (seed) => {
        const p = perturbed(model, seed);
        const rng = Rng.fromSeed(seed + 9);
        const [x, y] = [tokens(cfg, rng), tokens(cfg, rng)];
        const g = await gradsOf(p, x, y);
        for (const only of [() => true, (n: string) => /beta$/.test(n)]) {
          const v = rmsDirection(p, rng, (i) => only(model.layout.names[i]!));
          const h = 2e-5;
          const numeric = await centralDifference4((k) => lossOf(model, shifted(p, v, k * h), x, y), h);
          const [analytic, scale] = [dot(g, v), absDot(g, v)];
          expect(scale).toBeGreaterThan(1e-4); // a real signal
          expect(Math.abs(analytic - numeric)).toBeLessThan(1e-6 * scale);
        }
      }),
      { numRuns: runs(3) },
    );
  });
});
