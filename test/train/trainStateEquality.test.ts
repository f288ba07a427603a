import { describe, expect, it } from "vitest";
import { composeW, sstGroups } from "../../methods/sst/ops.ts";
import { TrainState } from "../../train/trainState.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { HostUpdate } from "../helpers/hostUpdate.ts";
import { backendRequirement } from "../helpers/requirements.ts";
import {
  ALL_METHODS,
  STEPS,
  batches,
  fmt,
  relDiff,
  stateOptions,
  tensorDiff,
  tinyModel,
  ulpDiff,
} from "../helpers/trainStateCases.ts";

/**
 * The training state on the backend (train/trainState.ts: loss, gradients, clipping and AdamW as one
 * float32 plan) against the host path it replaced (test/helpers/hostUpdate.ts: gradients from
 * compileTrainStep, float64 norm and clip, AdamW in float64 per element stored as float32), for every
 * method, on the native backend, from the same init on the same batches, with each scheme's boundaries
 * (merges, switches, refreshes, re-SVDs, the guide's end) inside the run.
 *
 * What is equal and what is only close (measured; the numbers are printed once per method):
 * - the first step's loss is bit for bit the same (the same forward pass on the same params);
 * - after one step, params and moments differ by float32 rounding of the update alone (a few ulps);
 * - over the run the two drift apart by rounding only, amplified by training (losses ≲ 3e-7 relative,
 *   params and moments ≲ 5e-5 of each tensor's largest entry after 12 steps).
 * Two schemes decompose matrices on the host, where rounding can pick another basis of the same result:
 * SST's re-SVD (a pair of nearly equal singular values: U and V rotate within it while U·diag(Σ)·Vᵀ stays
 * put), so its U and V are compared through the W they compose; Fira's projection refresh (the top-r
 * subspace of a gradient whose r-th and (r+1)-th singular values nearly tie), which for this seed happens at
 * t = 7, where the old path itself moves by 3e-3 when its gradients are perturbed by one ulp: Fira runs
 * 6 steps (refreshes at t = 1 and 4). Skipped with the reason printed where the native addon cannot be
 * built, unless RANKFUSE_REQUIRE_NATIVE is set.
 */
const native = await backendRequirement("native");

/** Methods whose losses were bit-identical at every step of the run (measured: full and lowrankFfn). */
const BIT_EQUAL_LOSSES = new Set(["full", "lowrankFfn"]);

/** Steps each method runs: Fira's third refresh is ill-conditioned for this seed (see above). */
const stepsOf = (method: string) => (method === "fira" ? 6 : STEPS);

/** Param indices compared elementwise (SST's U and V only through the W they compose). */
function elementwise(model: TrainableModel): (i: number) => boolean {
  const uv = new Set(sstGroups(model.layout).flatMap((g) => [g.u, g.v]));
  return (i) => !uv.has(i);
}

/** The largest per-projection max|ΔW| / max|W| of SST's composed W (0 for other methods). */
function composedDiff(model: TrainableModel, a: readonly Float32Array[], b: readonly Float32Array[]): number {
  return sstGroups(model.layout).reduce((worst, g) => {
    const [wa, wb] = [composeW(g, a[g.u]!, a[g.s]!, a[g.v]!), composeW(g, b[g.u]!, b[g.s]!, b[g.v]!)];
    return Math.max(worst, tensorDiff([wa], [wb]).rel);
  }, 0);
}

/** float32's unit roundoff (half an ulp of 1). */
const U32 = 2 ** -24;

/**
 * How far apart two one-step updates of the same params are, in units of float32 rounding of the update:
 * the largest |a − b| / (u·(|p| + |b − p|)) over elements (p: the params before the step; 0 where equal).
 * An update p·decay − s·m/(√v/c + ε) computed in float32 rounds a few times at the scale of |p| and of
 * the step, so a handful of units is what float32 arithmetic alone gives.
 */
function roundingUnits(before: readonly Float32Array[], a: readonly Float32Array[], b: readonly Float32Array[]) {
  let worst = 0;
  before.forEach((p, i) => {
    const [x, y] = [a[i]!, b[i]!];
    for (let j = 0; j < p.length; j++) {
      const d = Math.abs(x[j]! - y[j]!);
      if (d > 0) worst = Math.max(worst, d / (U32 * (Math.abs(p[j]!) + Math.abs(y[j]! - p[j]!))));
    }
  });
  return worst;
}

describe.skipIf(native.skip)(native.title("TrainState on native equals the old host update path"), () => {
  it.each(ALL_METHODS)("%s", async (method) => {
    const backend = native.get();
    const model = tinyModel(method);
    const steps = stepsOf(method);
    const o = stateOptions(steps);
    const init = model.init(3);
    const state = unwrap(TrainState.create(model, backend, o, { params: init }));
    const oracle = HostUpdate.create(model, backend, o, { params: init });
    try {
      const data = batches(steps);
      const losses: [number, number][] = [];
      const norms: [number, number][] = [];
      let first = { p: 0, pk: 0, m: 0, v: 0 };
      for (let s = 0; s < steps; s++) {
        const { ids, targets } = data[s]!;
        const a = unwrap(await state.step(s, ids, targets));
        const b = await oracle.step(s, ids, targets);
        expect(a.lr).toBe(b.lr);
        losses.push([a.loss, b.loss]);
        norms.push([a.gradNorm, b.gradNorm]);
        if (s === 0) {
          const [x, y] = [await state.read(), oracle.read()];
          first = {
            p: ulpDiff(x.params, y.params),
            pk: roundingUnits(init, x.params, y.params),
            m: ulpDiff(x.adam.m, y.adam.m),
            v: ulpDiff(x.adam.v, y.adam.v),
          };
        }
      }
      const [x, y] = [await state.read(), oracle.read()];
      const include = elementwise(model);
      const d = {
        loss: Math.max(...losses.map(([p, q]) => relDiff(p, q))),
        norm: Math.max(...norms.map(([p, q]) => relDiff(p, q))),
        p: tensorDiff(x.params, y.params, include),
        w: composedDiff(model, x.params, y.params),
        m: tensorDiff(x.adam.m, y.adam.m),
        v: tensorDiff(x.adam.v, y.adam.v),
      };
      console.log(
        `${method}: ${steps} steps; loss max rel ${fmt(d.loss)} (bit-equal at ${losses.filter(([p, q]) => p === q).length}/${steps} steps), ` +
          `grad norm max rel ${fmt(d.norm)}; after step 1 params ${first.p} ulp (${first.pk.toFixed(2)} u of |p| + |Δp|), m ${first.m} ulp, v ${first.v} ulp; ` +
          `after ${steps}: params max abs ${fmt(d.p.abs)} rel ${fmt(d.p.rel)}` +
          (d.w > 0 ? `, SST composed W rel ${fmt(d.w)}` : "") +
          `, m abs ${fmt(d.m.abs)} rel ${fmt(d.m.rel)}, v abs ${fmt(d.v.abs)} rel ${fmt(d.v.rel)}`,
      );
      expect(x.adam.step).toBe(steps);
      expect(y.adam.step).toBe(steps);
      // bit for bit: the first loss everywhere, every loss where the run never rounds a loss differently
      expect(losses[0]![0], "the first step's loss").toBe(losses[0]![1]);
      if (BIT_EQUAL_LOSSES.has(method)) expect(losses.map(([p]) => p)).toEqual(losses.map(([, q]) => q));
      // one step: float32 rounding of the update alone
      expect(first.pk, "params after step 1, in rounding units").toBeLessThanOrEqual(16);
      expect(first.m, "m after step 1, in ulps").toBeLessThanOrEqual(8);
      expect(first.v, "v after step 1, in ulps").toBeLessThanOrEqual(16);
      expect(relDiff(norms[0]![0], norms[0]![1]), "the first step's gradient norm").toBeLessThanOrEqual(1e-6);
      // the run: rounding amplified by training, well under what any wrong update gives
      expect(d.loss, "losses").toBeLessThanOrEqual(1e-6);
      expect(d.norm, "gradient norms").toBeLessThanOrEqual(2e-4);
      expect(d.p.rel, "params").toBeLessThanOrEqual(1e-4);
      expect(d.w, "SST's composed W").toBeLessThanOrEqual(1e-4);
      expect(d.m.rel, "m").toBeLessThanOrEqual(2e-4);
      expect(d.v.rel, "v").toBeLessThanOrEqual(2e-4);
    } finally {
      state.dispose();
    }
  });
});

/** What a scheme does at its boundaries during a run of `steps`, step by step (0-based). */
function schemeEvents(model: TrainableModel, steps: number): string[] {
  const scheme = model.scheme?.({ seed: 3, totalSteps: steps, layout: model.layout });
  if (!scheme) return [];
  const events: string[] = [];
  const mask = (s: number) => JSON.stringify(scheme.frozen?.(s) ?? []);
  for (let s = 0; s < steps; s++) {
    const need = scheme.hostAfterStep?.(s) ?? (scheme.afterStep ? "all" : "none");
    if (need === "all") events.push(`after ${s}: params and moments on the host`);
    if (s > 0 && mask(s) !== mask(s - 1)) events.push(`at ${s}: AdamW's mask changes`);
    if (s > 0 && (scheme.lrFactor?.(s) ?? 1) < 1) events.push(`at ${s}: lr re-warmup`);
  }
  return events;
}

describe("the equality runs cross every scheme's boundaries", () => {
  it.each(ALL_METHODS)("%s", (method) => {
    const model = tinyModel(method);
    const steps = stepsOf(method);
    const events = schemeEvents(model, steps);
    const scheme = model.scheme?.({ seed: 3, totalSteps: steps, layout: model.layout });
    if (!scheme) return expect(events).toEqual([]);
    if (method === "fira") {
      // Fira refreshes its projections inside `update` every `gap` updates: t = 1 and 4 of 6
      return expect(scheme.describe()).toMatch(/projection every 3 steps/);
    }
    // at least one boundary strictly before the last step, so the run continues past it
    expect(events.filter((e) => !e.includes(` ${steps - 1}:`)).length, events.join("; ")).toBeGreaterThan(0);
  });
});
