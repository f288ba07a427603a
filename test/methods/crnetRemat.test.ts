import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig } from "../../models/config.ts";
import { type LanguageModel } from "../../models/model.ts";
import { makeModel } from "../../methods/index.ts";
import { BLOCK_INPUT, saveAll, savedResiduals } from "../../passes/remat.ts";
import {
  applyCrnetInversion,
  CRNET_X,
  CRNET_XA,
  crnetCheckpointLayers,
  crnetRemat,
  crnetY,
} from "../../methods/crnet/remat.ts";
import { rematGraph } from "../../passes/remat.ts";
import { makePlan, type Plan } from "../../passes/plan.ts";
import { Executor } from "../../run/executor.ts";
import { loadBackend } from "../../backends/index.ts";
import type { Backend } from "../../ir/backend.ts";
import { isFused, type Graph } from "../../ir/graph.ts";
import { compileTrainStep, planTrainStep } from "../../train/step.ts";
import { unwrap } from "../../testing/unwrap.ts";

const modelFor = (over: object): LanguageModel =>
  unwrap(
    makeModel(
      "crnet",
      unwrap(resolveConfig("tiny", { d: 8, dFF: 12, vocab: 11, seq: 5, batch: 2, heads: 2, rank: 3, ...over })),
    ),
  );
const batch = (m: LanguageModel, seed: number) => {
  const n = m.config.batch * m.config.seq;
  return [
    Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % m.config.vocab),
    Int32Array.from({ length: n }, (_, i) => (i * 3 + seed) % m.config.vocab),
  ] as const;
};
const perturbedInit = (m: LanguageModel, seed: number) =>
  m.init(seed).map((a, i) => (/beta$/.test(m.layout.names[i]!) ? a.map((_, j) => 0.5 + ((seed + i + j) % 5) / 4) : a));

describe("crnet checkpoint layers", () => {
  it("are max(1, round(L/8)) increasing layers, the last included, never layer 1", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 96 }), (L) => {
        const c = crnetCheckpointLayers(L);
        expect(c).toHaveLength(Math.max(1, Math.round(L / 8)));
        expect(c[c.length - 1]).toBe(L);
        expect(c[0]).toBeGreaterThan(1);
        c.slice(1).forEach((x, i) => expect(x).toBeGreaterThan(c[i]!));
      }),
      { numRuns: runs(50) },
    );
    expect(crnetCheckpointLayers(1)).toEqual([]);
    expect(crnetCheckpointLayers(32)).toEqual([8, 16, 24, 32]);
    expect(crnetCheckpointLayers(12)).toEqual([6, 12]);
  });
});

describe("crnet remat policy", () => {
  it("recomputing Y forwards gives bit-identical loss and gradients to storing everything", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 1e6 }), async (layers, seed) => {
        const m = { ...modelFor({ layers }), remat: crnetRemat(layers) };
        const params = perturbedInit(m, seed);
        const [ids, tg] = batch(m, seed);
        const got = unwrap(await unwrap(compileTrainStep(m, referenceBackend(), 2, 5)).run(params, ids, tg));
        const want = unwrap(
          await unwrap(compileTrainStep({ ...m, remat: saveAll }, referenceBackend(), 2, 5)).run(params, ids, tg),
        );
        expect(got.loss).toBe(want.loss);
        got.grads.forEach((g, i) =>
          expect(Buffer.from(g.buffer).equals(Buffer.from(want.grads[i]!.buffer)), m.layout.names[i]).toBe(true),
        );
      }),
      { numRuns: runs(4) },
    );
  });

  it("saves exactly X, X·A, the half-block inputs and checkpoint-layer Y, in the predicted amount", () => {
    for (const [L, d, r, ff] of [
      [2, 8, 3, 12],
      [4, 8, 2, 12],
      [12, 8, 2, 10],
    ] as const) {
      const m = { ...modelFor({ layers: L, d, rank: r, dFF: ff }), remat: crnetRemat(L) };
      const n = m.config.batch * m.config.seq;
      const saved = savedResiduals(unwrap(planTrainStep(m, 2, 5)).graph);
      const count = (name: string) => saved.filter((s) => s.name === name).length;
      const C = crnetCheckpointLayers(L);
      // per layer: 4 projection inputs (attention's normed x, the merged heads, the MLP's normed x, the gated product)
      expect(count(CRNET_X)).toBe(4 * L);
      expect(count(CRNET_XA)).toBe(7 * (L - 1));
      expect(count(BLOCK_INPUT)).toBe(2 * L + 1);
      // all 7 Y of a checkpoint layer below the top; at the top, o and down feed only the residual add (whose
      // backward reads no values) and no layer above, so backward never reads them and nothing keeps them
      C.forEach((c) => expect(count(crnetY(c))).toBe(c === L ? 5 : 7));
      const ys = 7 * C.length - 2;
      expect(saved.filter((s) => s.name.startsWith("crnet_y:")).length).toBe(ys);
      expect(saved).toHaveLength(4 * L + 7 * (L - 1) + 2 * L + 1 + ys);
      // PAPERS.md's accounting, in values: X (3nd + n·ff per layer), X·A (7nr per layer ≥ 2), Y at checkpoints
      // (5nd + 2n·ff, the top one 3nd + 2n·ff), and the residual stream
      const values =
        L * (3 * n * d + n * ff) +
        (L - 1) * 7 * n * r +
        C.length * (5 * n * d + 2 * n * ff) -
        2 * n * d +
        (2 * L + 1) * n * d;
      expect(saved.reduce((s, x) => s + x.bytes, 0)).toBe(4 * values);
    }
  });

  it("the model's own policy (the inversion) gives saveAll's loss and gradients to float rounding (float64 reference)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 1e6 }), async (layers, seed) => {
        const m = modelFor({ layers });
        expect(m.remat?.name).toBe("crnetInversion");
        const params = perturbedInit(m, seed);
        const [ids, tg] = batch(m, seed);
        const got = unwrap(await unwrap(compileTrainStep(m, referenceBackend(), 2, 5)).run(params, ids, tg));
        const want = unwrap(
          await unwrap(compileTrainStep({ ...m, remat: saveAll }, referenceBackend(), 2, 5)).run(params, ids, tg),
        );
        expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-10 * Math.abs(want.loss));
        got.grads.forEach((g, i) =>
          g.forEach((x, j) =>
            expect(Math.abs(x - want.grads[i]![j]!), m.layout.names[i]).toBeLessThan(
              1e-5 * (1e-3 + Math.abs(want.grads[i]![j]!)),
            ),
          ),
        );
      }),
      { numRuns: runs(4) },
    );
  });

  it("stores less than saveAll and lowers the measured peak, which matches the prediction", async () => {
    const m = modelFor({ layers: 4, d: 16, dFF: 24, rank: 2, seq: 16, batch: 4 });
    const plain = unwrap(planTrainStep({ ...m, remat: saveAll }, 4, 16));
    const crnet = unwrap(planTrainStep(m, 4, 16));
    const bytes = (g: typeof plain.graph) => savedResiduals(g).reduce((s, x) => s + x.bytes, 0);
    // saveAll keeps every projection's Y, the attention probabilities, norms, activations...; crnet keeps Y at 1 of 4 layers
    expect(bytes(crnet.graph)).toBeLessThan(0.6 * bytes(plain.graph));
    const [ids, tg] = batch(m, 1);
    const peaks: number[] = [];
    for (const model of [{ ...m, remat: saveAll }, m]) {
      const step = unwrap(compileTrainStep(model, referenceBackend(), 4, 16));
      const r = unwrap(
        await step.run(
          m.init(0),
          Int32Array.from({ length: 64 }, (_, i) => ids[i % ids.length]!),
          Int32Array.from({ length: 64 }, (_, i) => tg[i % tg.length]!),
        ),
      );
      expect(r.stats.peakBytes).toBe(step.plan.predictedPeakBytes);
      peaks.push(r.stats.peakBytes);
    }
    expect(peaks[1]!).toBeLessThan(peaks[0]!);
  });
});

/** Runs a training-step plan directly: inputs are the params in layout order, then ids and targets. */
async function runPlan(
  plan: Plan,
  backend: Backend<any>,
  params: readonly Float32Array[],
  ids: Int32Array,
  tg: Int32Array,
) {
  const data = [...params, ids, tg];
  const host = plan.graph.inputs.map((v, i) => ({ shape: v.shape, dtype: v.abs.dtype, data: data[i]! }));
  const { outputs, stats } = await new Executor(plan, backend).run(host);
  return { loss: outputs[0]![0]!, grads: outputs.slice(1) as (Float32Array | Float64Array)[], peak: stats.peakBytes };
}

describe("crnet recurrence inversion as a remat rewrite (applyCrnetInversion)", () => {
  const m = modelFor({ layers: 4, d: 16, dFF: 24, rank: 2, seq: 16, batch: 4 });
  // planTrainStep fuses nothing (no target caps), so its graph is plain equations
  const planned = unwrap(planTrainStep({ ...m, remat: undefined }, 4, 16)).graph;
  if (planned.eqns.some(isFused)) throw new Error("expected an unfused joint graph");
  const joint = planned as Graph;
  const n = 64;
  const ids = Int32Array.from({ length: n }, (_, i) => (i * 7 + 1) % m.config.vocab),
    tg = Int32Array.from({ length: n }, (_, i) => (i * 3 + 2) % m.config.vocab);

  it("stores no Y below the top checkpoint layer: each is recovered from the layer above", () => {
    const g = applyCrnetInversion(joint, 4);
    const saved = savedResiduals(g);
    expect(saved.filter((s) => s.name.startsWith("crnet_y:")).map((s) => s.name)).toEqual(Array(7).fill(crnetY(4)));
    expect(g.eqns.filter((e) => e.meta.name?.endsWith("(inverted)"))).toHaveLength(7 * 3); // layers 3, 2, 1, once each
    expect(g.eqns.some((e) => /^crnet_y:\d \(recomputed\)$/.test(e.meta.name ?? ""))).toBe(false); // no Y recomputed forwards
  });

  it.each(["reference", "wasm"])(
    "on %s gives saveAll's loss and gradients to float rounding, at a lower predicted and measured peak",
    async (name) => {
      const backend = unwrap(await loadBackend(name));
      const bytes = backend.caps.float64 ? 8 : 4;
      const params = perturbedInit(m, 5);
      const all = await runPlan(makePlan(joint, bytes), backend, params, ids, tg);
      const inverted = makePlan(applyCrnetInversion(joint, 4), bytes);
      const got = await runPlan(inverted, backend, params, ids, tg);
      expect(got.peak).toBe(inverted.predictedPeakBytes);
      const tol = backend.caps.float64 ? 1e-10 : 1e-4;
      expect(Math.abs(got.loss - all.loss)).toBeLessThan(tol * Math.abs(all.loss));
      got.grads.forEach((g, i) => {
        const w = all.grads[i]!;
        const norm = Math.sqrt(Array.from(w).reduce((s, x) => s + x * x, 0));
        const err = Math.sqrt(Array.from(g).reduce((s, x, j) => s + (x - w[j]!) ** 2, 0));
        expect(err, m.layout.names[i]).toBeLessThanOrEqual(tol * norm + 1e-12);
      });
      expect(got.peak).toBeLessThan(all.peak);
      // and no higher than recomputing the Y forwards from the checkpoint below (what compile runs)
      expect(inverted.predictedPeakBytes).toBeLessThanOrEqual(
        makePlan(rematGraph(joint, crnetRemat(4)), bytes).predictedPeakBytes,
      );
    },
  );
});
