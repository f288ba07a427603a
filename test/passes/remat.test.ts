import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig } from "../../models/config.ts";
import { type LanguageModel } from "../../models/model.ts";
import { makeModel } from "../../methods/index.ts";
import {
  applyRemat,
  saveAll,
  saveNames,
  saveNothing,
  savedResiduals,
  COLA_ACT,
  HEAD_LOGITS,
  type RematPolicy,
} from "../../passes/remat.ts";
import { colaMPolicy as colaM } from "../../methods/colaM/policy.ts";
import { budget } from "../../passes/budget.ts";
import { compileTrainStep, planTrainStep } from "../../train/step.ts";
import { eliminateDeadCode } from "../../dsl/dce.ts";
import { lowerFused } from "../../run/lower.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { rematMatchesSaveAll } from "../../testing/equivalence.ts";
import { dim } from "../../ir/dim.ts";
import { unflatten } from "../../ir/tree.ts";
import { spec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";

const POLICIES: RematPolicy[] = [saveAll, saveNothing, colaM, saveNames(COLA_ACT)];
const small = fc.record({
  layers: fc.integer({ min: 1, max: 2 }),
  heads: fc.constantFrom(1, 2),
  rank: fc.integer({ min: 1, max: 4 }),
  seed: fc.integer({ min: 0, max: 1e6 }),
  method: fc.constantFrom("full", "cola"),
});

const modelFor = (method: string, over: object, remat?: RematPolicy): LanguageModel => {
  const cfg = unwrap(resolveConfig("tiny", { d: 8, dFF: 12, vocab: 11, seq: 5, batch: 2, ...over }));
  const model = unwrap(makeModel(method, cfg));
  return remat ? { ...model, remat } : model;
};

const batch = (m: LanguageModel, seed: number) => {
  const n = m.config.batch * m.config.seq;
  return [
    Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % m.config.vocab),
    Int32Array.from({ length: n }, (_, i) => (i * 3 + seed) % m.config.vocab),
  ] as const;
};

/** Remat changes what is stored, never what is computed: gradients are bit-identical under every policy. */
describe("remat policies", () => {
  it("give bit-identical loss and gradients to saveAll on the reference backend", async () => {
    await fc.assert(
      fc.asyncProperty(small, async ({ layers, heads, rank, seed, method }) => {
        const m = modelFor(method, { layers, heads, rank });
        const [b, t] = [dim("b", m.config.batch), dim("t", m.config.seq)];
        const args = [m.layout.specs, spec([b, t], "int32"), spec([b, t], "int32")] as const;
        const inputs = [unflatten(m.layout.def, m.init(seed)), ...batch(m, seed)] as never;
        for (const policy of POLICIES.filter((p) => p !== saveAll)) {
          const c = await rematMatchesSaveAll(
            (p: unknown, x: Tensor, y: Tensor) => m.loss(p, x, y),
            args,
            policy,
          )(inputs);
          // non-vacuity: storing nothing recomputes, so its plan has more launches than saveAll's
          if (policy === saveNothing)
            expect(c.actual.plans.vjp!.kernelCount).toBeGreaterThan(c.expected.plans.vjp!.kernelCount);
        }
      }),
      { numRuns: runs(6) },
    );
  });

  it("colaM on CoLA saves exactly the 7 rank-r activations per block and the block inputs", () => {
    const m = modelFor("cola", { layers: 2, rank: 3, d: 8 });
    const joint = lowerFused(unwrap(planTrainStep(m, 2, 5)).graph); // planned without a backend: nothing fused
    const saved = savedResiduals(eliminateDeadCode(applyRemat(joint, colaM)));
    const n = 2 * 5;
    const acts = saved.filter((s) => s.name === COLA_ACT);
    const inputs = saved.filter((s) => s.name === "block_input");
    expect(acts).toHaveLength(7 * 2);
    acts.forEach((a) => expect(a.shape.reduce((p, q) => p * q, 1)).toBe(n * 3));
    expect(inputs).toHaveLength(2 * 2 + 1); // both half-block inputs of each block, and the head's input
    const logits = saved.filter((s) => s.name === HEAD_LOGITS);
    expect(logits).toHaveLength(1); // the head's logits, which the loss's backward reads first: never recomputed
    expect(saved).toHaveLength(acts.length + inputs.length + logits.length);
    // without remat the joint graph keeps far more: every projection output, norms, attention probabilities
    expect(savedResiduals(joint).length).toBeGreaterThan(2 * saved.length);
  });

  it("predicts colaM's activation memory per layer as 2·n·d + 7·n·r values (plus the head's input and logits)", () => {
    for (const [d, r, L] of [
      [8, 2, 1],
      [16, 4, 3],
    ] as const) {
      const m = modelFor("colaM", { d, rank: r, layers: L, heads: 2, dFF: 12 });
      const n = m.config.batch * m.config.seq;
      const joint = unwrap(planTrainStep(m, m.config.batch, m.config.seq)).graph;
      const bytes = savedResiduals(joint).reduce((s, x) => s + x.bytes, 0);
      expect(bytes).toBe(4 * (L * (2 * n * d + 7 * n * r) + n * d + n * m.config.vocab));
    }
  });

  it("lowers the measured peak, which matches the plan's prediction", async () => {
    const peaks: Record<string, number> = {};
    for (const policy of [saveAll, colaM, saveNothing]) {
      const m = modelFor("cola", { layers: 3, d: 16, heads: 2, rank: 4, seq: 16, batch: 4 }, policy);
      const step = unwrap(compileTrainStep(m, referenceBackend(), 4, 16));
      const [ids, tg] = batch(m, 1);
      const r = unwrap(await step.run(m.init(0), ids, tg));
      expect(r.stats.peakBytes).toBe(step.plan.predictedPeakBytes);
      peaks[policy.name] = r.stats.peakBytes;
    }
    expect(peaks.colaM!).toBeLessThan(0.8 * peaks.saveAll!);
    expect(peaks.saveNothing!).toBeLessThanOrEqual(peaks.colaM!);
  });
});

describe("budget(bytes)", () => {
  const m = modelFor("cola", { layers: 2, d: 16, heads: 2, rank: 4, seq: 16, batch: 4 });

  it("never exceeds the budget in measured peak, over a sweep of budgets", async () => {
    const all = unwrap(compileTrainStep({ ...m, remat: saveAll }, referenceBackend(), 4, 16)).plan.predictedPeakBytes;
    const [ids, tg] = batch(m, 2);
    const params = m.init(0);
    const want = unwrap(await unwrap(compileTrainStep(m, referenceBackend(), 4, 16)).run(params, ids, tg));
    let feasible = 0;
    for (const frac of [1.2, 1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]) {
      const b = Math.round(all * frac);
      const step = compileTrainStep({ ...m, remat: budget(b) }, referenceBackend(), 4, 16);
      if (E.isLeft(step)) {
        expect(step.left.message).toMatch(
          /no plan fits a budget of .*; the smallest predicted peak is .* \((\d+) bytes\)/,
        );
        const min = Number(/\((\d+) bytes\)/.exec(step.left.message)![1]);
        expect(min).toBeGreaterThan(b);
        expect(E.isRight(compileTrainStep({ ...m, remat: budget(min) }, referenceBackend(), 4, 16))).toBe(true);
        continue;
      }
      feasible++;
      const r = unwrap(await step.right.run(params, ids, tg));
      expect(r.stats.peakBytes).toBeLessThanOrEqual(b);
      expect(r.loss).toBe(want.loss);
      r.grads.forEach((g, i) => expect(Buffer.from(g.buffer).equals(Buffer.from(want.grads[i]!.buffer))).toBe(true));
    }
    expect(feasible).toBeGreaterThanOrEqual(4);
  });

  it("a budget no plan fits is a Left naming the minimum", () => {
    const step = compileTrainStep({ ...m, remat: budget(1000) }, referenceBackend(), 4, 16);
    expect(E.isLeft(step) && step.left.message).toMatch(
      /^remat: no plan fits a budget of 1\.00KB; the smallest predicted peak is /,
    );
  });
});
