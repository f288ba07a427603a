import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import { flatten, unflatten } from "../../ir/tree.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import type { LanguageModel } from "../../models/model.ts";
import { makeRelora } from "../../methods/relora/model.ts";
import { makeDynamic } from "../../methods/dynamic/model.ts";
import { AdamMoments } from "../../train/adamMoments.ts";
import { loraSlots } from "../../methods/relora/ops.ts";
import { compileTrainStep } from "../../train/step.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";

/**
 * The LoRA network of ReLoRA and dynamic adjustment: its gradients (at a point with nonzero adapters,
 * since B = 0 at init hides A's), and the defining equivalence of both schemes: a merge-and-restart
 * leaves the network's function unchanged.
 */

const reference = referenceBackend();
const cfg: ModelConfig = unwrap(
  resolveConfig("tiny", { d: 16, heads: 2, layers: 2, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }),
);
const [b, t] = [dim("b", cfg.batch), dim("t", cfg.seq)];
const n = cfg.batch * cfg.seq;
const tokens = (rng: Rng) => Int32Array.from({ length: n }, () => rng.nextInt(cfg.vocab));

const relora = unwrap(makeRelora(cfg));
const dynamic = unwrap(makeDynamic(cfg));

function runners(model: LanguageModel) {
  const ids = spec([b, t], "int32");
  const tree = (p: readonly ArrayLike<number>[]) => unflatten(model.layout.def, p) as never;
  const logits = unwrap(
    compile((p: unknown, x: Tensor) => model.logits(p, x), {
      args: [model.layout.specs, ids] as const,
      backend: reference,
    }),
  );
  const loss = unwrap(
    compile((p: unknown, x: Tensor, y: Tensor) => model.loss(p, x, y), {
      args: [model.layout.specs, ids, ids] as const,
      backend: reference,
    }),
  );
  const grad = unwrap(
    compile((p: unknown, x: Tensor, y: Tensor) => valueAndGrad((q: unknown) => model.loss(q, x, y))(p), {
      args: [model.layout.specs, ids, ids] as const,
      backend: reference,
    }),
  );
  return {
    logits: async (p: readonly ArrayLike<number>[], x: Int32Array) =>
      unwrap(await logits.run(tree(p), x as never)).out as unknown as Float64Array,
    loss: async (p: readonly ArrayLike<number>[], x: Int32Array, y: Int32Array) =>
      (unwrap(await loss.run(tree(p), x as never, y as never)).out as unknown as Float64Array)[0]!,
    grads: async (p: readonly ArrayLike<number>[], x: Int32Array, y: Int32Array) =>
      flatten(
        (unwrap(await grad.run(tree(p), x as never, y as never)).out as unknown as [unknown, unknown])[1],
        (a): a is Float64Array => a instanceof Float64Array,
      ).leaves,
  };
}
const run = { relora: runners(relora), dynamic: runners(dynamic) };

/** A trained-looking point: init plus noise everywhere, so B (and with it A's gradient) is nonzero. */
const pointFor = (model: LanguageModel, seed: number) => {
  const rng = Rng.fromSeed(seed + 77);
  return model.init(seed).map((a) => Float32Array.from(a, (x) => x + 0.05 * rng.normal()));
};

describe("the LoRA network (x·W + (α/r)·x·A·B per projection)", () => {
  it("starts as its dense part: B = 0 at init, A kaiming-uniform (±1/√d_in), the initial loss near ln(vocab)", async () => {
    const p = relora.init(1);
    for (const s of loraSlots(relora.layout)) {
      expect(p[s.B]!.every((x) => x === 0)).toBe(true);
      expect(p[s.A]!.every((x) => Math.abs(x) <= 1 / Math.sqrt(s.fanIn))).toBe(true);
      expect(p[s.A]!.some((x) => x !== 0)).toBe(true);
    }
    const rng = Rng.fromSeed(2);
    expect(Math.abs((await run.relora.loss(p, tokens(rng), tokens(rng))) - Math.log(cfg.vocab))).toBeLessThan(0.5);
  });

  it("gradients of W, A and B match float64 central differences, one projection param at a time", async () => {
    const p = Array.from(pointFor(relora, 3), (a) => Float64Array.from(a));
    const rng = Rng.fromSeed(4);
    const [x, y] = [tokens(rng), tokens(rng)];
    const g = await run.relora.grads(p, x, y);
    const slot = loraSlots(relora.layout)[9]!; // a projection in block 1
    for (const i of [slot.W, slot.A, slot.B, relora.layout.names.indexOf("head")]) {
      const v = Float64Array.from(p[i]!, () => rng.normal());
      const h = 1e-4;
      const f = (s: number) =>
        run.relora.loss(
          p.map((a, k) => (k === i ? a.map((w, j) => w + s * h * v[j]!) : a)),
          x,
          y,
        );
      const numeric = (8 * ((await f(1)) - (await f(-1))) - ((await f(2)) - (await f(-2)))) / (12 * h);
      const analytic = g[i]!.reduce((s, gj, j) => s + gj * v[j]!, 0);
      const scale = g[i]!.reduce((s, gj, j) => s + Math.abs(gj * v[j]!), 0);
      expect(scale, relora.layout.names[i]).toBeGreaterThan(1e-5);
      expect(Math.abs(analytic - numeric), relora.layout.names[i]).toBeLessThan(1e-6 * scale);
    }
  });

  it("ReLoRA's training step computes no gradient for W and a nonzero one for everything else", async () => {
    const step = unwrap(compileTrainStep(relora, reference, cfg.batch, cfg.seq));
    const rng = Rng.fromSeed(5);
    const r = unwrap(await step.run(pointFor(relora, 5), tokens(rng), tokens(rng)));
    const ws = new Set(loraSlots(relora.layout).map((s) => s.W));
    r.grads.forEach((g, i) => {
      if (ws.has(i)) expect(g.length, relora.layout.names[i]).toBe(0);
      else
        expect(
          g.some((x) => x !== 0),
          relora.layout.names[i],
        ).toBe(true);
    });
  });
});

describe.each(["relora", "dynamic"] as const)("%s: a merge leaves the network's function unchanged", (method) => {
  const model = method === "relora" ? relora : dynamic;
  it("logits before and after the scheme's merge-and-restart agree to float32 precision", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1e6 }), async (seed) => {
        const params = pointFor(model, seed);
        const before = params.map((a) => a.slice());
        const rng = Rng.fromSeed(seed);
        const x = tokens(rng);
        const want = await run[method].logits(params, x);
        const scheme = model.scheme!({ seed, totalSteps: 40, layout: model.layout });
        const adam = AdamMoments.zeros(model.layout.shapes);
        // the first restart: ReLoRA after `cycle` (20) steps, dynamic after `interval` (10)
        const boundary = method === "relora" ? 19 : 9;
        scheme.afterStep!({ step: boundary, totalSteps: 40, params, adam, layout: model.layout });
        const slots = loraSlots(model.layout);
        expect(
          slots.every((s) => params[s.B]!.every((v) => v === 0) && params[s.W]!.some((v, j) => v !== before[s.W]![j])),
        ).toBe(true);
        const got = await run[method].logits(params, x);
        const rms = Math.sqrt(want.reduce((s, v) => s + v * v, 0) / want.length);
        let worst = 0;
        got.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - want[j]!))));
        expect(worst).toBeLessThan(1e-5 * rms);
        // and not trivially: the adapters did carry part of the function
        const noAdapters = await run[method].logits(
          before.map((a, i) => (slots.some((s) => s.B === i) ? new Float32Array(a.length) : a)),
          x,
        );
        expect(Math.max(...noAdapters.map((v, j) => Math.abs(v - want[j]!)))).toBeGreaterThan(1e-3 * rms);
      }),
      { numRuns: runs(3) },
    );
  });
});
