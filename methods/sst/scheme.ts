import * as E from "fp-ts/lib/Either.js";
import type { ParamLayout } from "../../models/params.ts";
import { isRngState, Rng } from "../../util/rng.ts";
import type { SchemeContext, SchemeUpdateContext, SchemeState, TrainingScheme } from "../../train/scheme.ts";
import { composeW, decomposeInto, sampleWeighted, sstGroups, type SstGroup } from "./ops.ts";

/**
 * Sparse Spectral Training as a scheme. Each projection is W = U·diag(Σ)·Vᵀ (methods/sst/model.ts). Every step
 * AdamW updates all singular values Σ; U and V belong to this scheme: each round it draws `sampled`
 * singular vectors per projection (multinomial, weighted by |Σ|) and runs Adam on those columns of U and
 * V only — the other columns stay bit-identical. Moments cover only the sampled columns (the memory
 * saving SST is about) and restart with each round. Every `resvdRounds` rounds W is recomposed and
 * re-decomposed (U, V orthonormal again, Σ sorted), and Σ's AdamW moments are reset since their
 * entries now belong to other directions.
 *
 * Defaults: `sampled` = cfg.rank vectors; a round lasts totalSteps/50 steps (between 5 and 200); a re-SVD
 * every 5 rounds. U and V get no weight decay (their columns are unit directions; Σ carries the scale).
 */
export interface SstOptions {
  readonly layout: ParamLayout;
  readonly sampled: number;
  readonly seed: number;
  readonly totalSteps: number;
  readonly roundSteps?: number;
  readonly resvdRounds?: number;
  readonly betas?: readonly [number, number];
  readonly eps?: number;
}

const SST_STREAM = 0x557;

export const sstRoundSteps = (totalSteps: number): number => Math.min(200, Math.max(5, Math.round(totalSteps / 50)));

/** Adam moments of one projection's sampled columns: U's (dIn×r) and V's (dOut×r). */
interface Moments {
  mU: Float32Array;
  vU: Float32Array;
  mV: Float32Array;
  vV: Float32Array;
}

export function sstScheme(o: SstOptions): TrainingScheme {
  const groups = sstGroups(o.layout);
  const roundSteps = o.roundSteps ?? sstRoundSteps(o.totalSteps);
  const resvdRounds = o.resvdRounds ?? 5;
  const [b1, b2] = o.betas ?? [0.9, 0.999];
  const eps = o.eps ?? 1e-8;
  const count = (g: SstGroup) => Math.min(o.sampled, g.k);
  const owned = o.layout.names.map(() => false);
  for (const g of groups) owned[g.u] = owned[g.v] = true;
  const settings = { sampled: o.sampled, roundSteps, resvdRounds, betas: [b1, b2], eps };

  let rng = Rng.fromSeed(o.seed, SST_STREAM);
  /** Per group: the sampled column indices this round (empty: draw at the next update). */
  let sampled: number[][] = groups.map(() => []);
  let moments: Moments[] = groups.map((g) => freshMoments(g, count(g)));
  let t = 0; // Adam steps in this round

  const newRound = (params: readonly Float32Array[]) => {
    sampled = groups.map((g) => sampleWeighted(params[g.s]!, count(g), rng));
    moments = groups.map((g) => freshMoments(g, count(g)));
    t = 0;
  };

  return {
    frozen: () => owned,
    update(ctx: SchemeUpdateContext, grads: readonly Float32Array[], lr: number) {
      if (ctx.step % roundSteps === 0 || sampled.some((s) => s.length === 0)) newRound(ctx.params);
      t += 1;
      const stepSize = lr / (1 - b1 ** t),
        sqrtBc2 = Math.sqrt(1 - b2 ** t);
      const adam = { b1, b2, eps, stepSize, sqrtBc2 };
      groups.forEach((g, gi) => {
        const cols = sampled[gi]!,
          mo = moments[gi]!;
        adamColumns(ctx.params[g.u]!, grads[g.u]!, g.dIn, g.k, cols, mo.mU, mo.vU, adam);
        adamColumns(ctx.params[g.v]!, grads[g.v]!, g.dOut, g.k, cols, mo.mV, mo.vV, adam);
      });
    },
    hostAfterStep: (step) => ((step + 1) % (roundSteps * resvdRounds) === 0 ? "all" : "none"),
    afterStep(ctx: SchemeContext) {
      if ((ctx.step + 1) % (roundSteps * resvdRounds) !== 0) return;
      for (const g of groups) {
        const [U, S, V] = [ctx.params[g.u]!, ctx.params[g.s]!, ctx.params[g.v]!];
        decomposeInto(g, composeW(g, U, S, V), U, S, V);
      }
      ctx.adam.resetState(groups.map((g) => g.s));
      sampled = groups.map(() => []);
    },
    state(): SchemeState {
      const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
      groups.forEach((g, gi) => {
        const r = count(g),
          mo = moments[gi]!;
        tensors[`sst.${g.name}.mU`] = { shape: [g.dIn, r], data: mo.mU.slice() };
        tensors[`sst.${g.name}.vU`] = { shape: [g.dIn, r], data: mo.vU.slice() };
        tensors[`sst.${g.name}.mV`] = { shape: [g.dOut, r], data: mo.mV.slice() };
        tensors[`sst.${g.name}.vV`] = { shape: [g.dOut, r], data: mo.vV.slice() };
      });
      return { tensors, meta: { scheme: "sst", settings, t, sampled: sampled.map((s) => [...s]), rng: rng.state() } };
    },
    restore(s: SchemeState): E.Either<string, void> {
      const meta = s.meta as { settings?: unknown; t?: unknown; sampled?: unknown; rng?: unknown } | null;
      if (!meta || JSON.stringify(meta.settings) !== JSON.stringify(settings)) {
        return E.left(
          `the checkpoint's SST settings ${JSON.stringify(meta?.settings)} differ from this run's ${JSON.stringify(settings)}`,
        );
      }
      if (
        !Number.isSafeInteger(meta.t) ||
        !isRngState(meta.rng) ||
        !Array.isArray(meta.sampled) ||
        meta.sampled.length !== groups.length
      ) {
        return E.left("SST state: missing or malformed round step, samples or RNG state");
      }
      const next: Moments[] = [];
      for (const [gi, g] of groups.entries()) {
        const cols = meta.sampled[gi] as unknown;
        const r = count(g);
        if (
          !Array.isArray(cols) ||
          !(cols.length === 0 || cols.length === r) ||
          !cols.every((c) => Number.isInteger(c) && c >= 0 && c < g.k)
        ) {
          return E.left(`SST state: the sampled vectors of ${g.name} do not fit ${r} of ${g.k}`);
        }
        const get = (k: string, rows: number) => {
          const x = s.tensors[`sst.${g.name}.${k}`];
          return x && x.data.length === rows * r ? x.data.slice() : undefined;
        };
        const [mU, vU, mV, vV] = [get("mU", g.dIn), get("vU", g.dIn), get("mV", g.dOut), get("vV", g.dOut)];
        if (!mU || !vU || !mV || !vV) return E.left(`SST state: moments of ${g.name} are missing or do not fit`);
        next.push({ mU, vU, mV, vV });
      }
      moments = next;
      sampled = (meta.sampled as number[][]).map((c) => [...c]);
      t = meta.t as number;
      rng = Rng.restore(meta.rng);
      return E.right(undefined);
    },
    describe: () =>
      `SST: ${o.sampled} sampled singular vectors per projection, new sample every ${roundSteps} steps, re-SVD every ${roundSteps * resvdRounds} steps, ${groups.length} projections`,
  };
}

const freshMoments = (g: SstGroup, r: number): Moments => ({
  mU: new Float32Array(g.dIn * r),
  vU: new Float32Array(g.dIn * r),
  mV: new Float32Array(g.dOut * r),
  vV: new Float32Array(g.dOut * r),
});

/** Adam (no weight decay) on columns `cols` of the rows×k matrix p; moments are rows×cols.length. */
function adamColumns(
  p: Float32Array,
  g: Float32Array,
  rows: number,
  k: number,
  cols: readonly number[],
  m: Float32Array,
  v: Float32Array,
  a: { b1: number; b2: number; eps: number; stepSize: number; sqrtBc2: number },
): void {
  const r = cols.length;
  for (let i = 0; i < rows; i++) {
    for (let q = 0; q < r; q++) {
      const j = i * k + cols[q]!,
        s = i * r + q;
      const gj = g[j]!;
      const mj = a.b1 * m[s]! + (1 - a.b1) * gj;
      const vj = a.b2 * v[s]! + (1 - a.b2) * gj * gj;
      m[s] = mj;
      v[s] = vj;
      p[j] = p[j]! - (a.stepSize * mj) / (Math.sqrt(vj) / a.sqrtBc2 + a.eps);
    }
  }
}
