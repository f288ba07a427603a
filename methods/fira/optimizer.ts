import * as E from "fp-ts/lib/Either.js";
import type { ParamLayout } from "../../models/params.ts";
import { jsGemm, type Gemm } from "../../util/linalg/gemm.ts";
import {
  firaMatrixStep,
  newMatrixState,
  wideShape,
  type FiraHyper,
  type FiraMatrixState,
  type WideShape,
} from "./matrix.ts";
import { isRngState, Rng } from "../../util/rng.ts";
import type { SchemeUpdateContext, SchemeState, TrainingScheme } from "../../train/scheme.ts";

/**
 * Fira as a training scheme: it owns the transformer's 2-D projection weights (q, k, v, o, gate, up,
 * down) and updates them with `firaMatrixStep`; AdamW skips them (`frozen`) and trains the rest
 * (embeddings, norms, head), as in the authors' setup where only those matrices get the "rank" group.
 *
 * Defaults from the authors' 60M script: α = 0.25, projection refreshed every 200 steps, γ = 1.01,
 * ε = 1e-6, weight decay 0. The refresh interval scales with the run: totalSteps/50 (the 60M run
 * refreshes 50 times in 10K steps), at most 200, at least 20 (each refresh is one SVD per matrix).
 * The learning rate is the run's (the authors ran Fira at 0.01 where their AdamW baseline used 0.001:
 * raise `--lr` to match that setting).
 */
export interface FiraOptions {
  readonly layout: ParamLayout;
  readonly rank: number;
  readonly seed: number;
  readonly totalSteps: number;
  readonly alpha?: number;
  readonly gap?: number;
  readonly gamma?: number;
  readonly betas?: readonly [number, number];
  readonly eps?: number;
  readonly weightDecay?: number;
  readonly gemm?: Gemm;
}

const PROJECTIONS = /^blocks\.\d+\.(q|k|v|o|gate|up|down)$/;
/** The RNG stream of the randomized SVDs (independent of init and data order). */
const FIRA_STREAM = 0xf1a;

/** Which params Fira owns: the 2-D projection weights of the decoder blocks. */
export const firaOwned = (layout: ParamLayout): boolean[] =>
  layout.names.map((n, i) => PROJECTIONS.test(n) && layout.shapes[i]!.length === 2);

export const firaGap = (totalSteps: number): number => Math.min(200, Math.max(20, Math.round(totalSteps / 50)));

export function firaScheme(o: FiraOptions): TrainingScheme {
  const [beta1, beta2] = o.betas ?? [0.9, 0.999];
  const h: FiraHyper = {
    rank: o.rank,
    alpha: o.alpha ?? 0.25,
    gap: o.gap ?? firaGap(o.totalSteps),
    gamma: o.gamma ?? 1.01,
    beta1,
    beta2,
    eps: o.eps ?? 1e-6,
    weightDecay: o.weightDecay ?? 0,
  };
  const owned = firaOwned(o.layout);
  const idx = owned.flatMap((x, i) => (x ? [i] : []));
  const shapes = new Map<number, WideShape>(
    idx.map((i) => [i, wideShape(o.layout.shapes[i]![0]!, o.layout.shapes[i]![1]!, h.rank)]),
  );
  let states = new Map<number, FiraMatrixState>(idx.map((i) => [i, newMatrixState(shapes.get(i)!)]));
  let t = 0;
  let rng = Rng.fromSeed(o.seed, FIRA_STREAM);
  const gemm = o.gemm ?? jsGemm;
  const settings = () => ({
    rank: h.rank,
    alpha: h.alpha,
    gap: h.gap,
    gamma: h.gamma,
    betas: [h.beta1, h.beta2],
    eps: h.eps,
    weightDecay: h.weightDecay,
  });

  return {
    frozen: () => owned,
    update(ctx: SchemeUpdateContext, grads: readonly Float32Array[], lr: number) {
      t += 1;
      for (const i of idx)
        firaMatrixStep(ctx.params[i]!, grads[i]!, shapes.get(i)!, states.get(i)!, h, t, lr, rng, gemm);
    },
    state(): SchemeState {
      const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
      for (const i of idx) {
        const w = shapes.get(i)!,
          s = states.get(i)!;
        tensors[`fira.${i}.p`] = { shape: [w.a, w.r], data: s.p.slice() };
        tensors[`fira.${i}.m`] = { shape: [w.r, w.b], data: s.m.slice() };
        tensors[`fira.${i}.v`] = { shape: [w.r, w.b], data: s.v.slice() };
      }
      return {
        tensors,
        meta: {
          scheme: "fira",
          settings: settings(),
          t,
          rng: rng.state(),
          prevNorms: idx.map((i) => states.get(i)!.prevNorm),
        },
      };
    },
    restore(s: SchemeState): E.Either<string, void> {
      const meta = s.meta as { settings?: unknown; t?: unknown; rng?: unknown; prevNorms?: unknown } | null;
      if (meta && JSON.stringify(meta.settings) !== JSON.stringify(settings())) {
        return E.left(
          `the checkpoint's Fira settings ${JSON.stringify(meta.settings)} differ from this run's ${JSON.stringify(settings())}`,
        );
      }
      if (
        !meta ||
        !Number.isSafeInteger(meta.t) ||
        !isRngState(meta.rng) ||
        !Array.isArray(meta.prevNorms) ||
        meta.prevNorms.length !== idx.length
      ) {
        return E.left("Fira state: missing or malformed step count, RNG state or residual norms");
      }
      const next = new Map<number, FiraMatrixState>();
      for (const [k, i] of idx.entries()) {
        const w = shapes.get(i)!;
        const p = s.tensors[`fira.${i}.p`],
          m = s.tensors[`fira.${i}.m`],
          v = s.tensors[`fira.${i}.v`];
        if (!p || !m || !v) return E.left(`Fira state: no moments or projection for param ${o.layout.names[i]}`);
        if (p.data.length !== w.a * w.r || m.data.length !== w.r * w.b || v.data.length !== w.r * w.b) {
          return E.left(`Fira state for ${o.layout.names[i]} does not fit rank ${w.r} and shape ${w.rows}x${w.cols}`);
        }
        const prev = meta.prevNorms[k];
        if (prev !== null && typeof prev !== "number")
          return E.left(`Fira state: residual norm of ${o.layout.names[i]} is not a number`);
        next.set(i, { p: p.data.slice(), m: m.data.slice(), v: v.data.slice(), prevNorm: prev as number | null });
      }
      states = next;
      t = meta.t as number;
      rng = Rng.restore(meta.rng);
      return E.right(undefined);
    },
    describe: () =>
      `Fira: rank ${h.rank}, α ${h.alpha}, projection every ${h.gap} steps, limiter γ ${h.gamma}, weight decay ${h.weightDecay} on ${idx.length} matrices`,
  };
}
