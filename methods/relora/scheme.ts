import * as E from "fp-ts/lib/Either.js";
import { countOptionError } from "../../train/countOptions.ts";
import { Rng } from "../../util/rng.ts";
import { loraSlots, mergeAndRestart, pruneMoments, type Pruning } from "./ops.ts";
import { rewarmupFactor } from "./schedule.ts";
import type { SchemeContext, SchemeOptions, SchemeState, TrainingScheme } from "../../train/scheme.ts";

/** ReLoRA's knobs; each defaults from the run length (PAPERS.md's values are for 10K+ step runs). */
export interface ReloraOptions {
  /** Steps between merges. Default max(20, round(lora steps / 4)): 3 restarts per run, as in the paper's 4 cycles of its schedule. */
  readonly cycle?: number;
  /** Steps of linear lr re-warmup after each restart. Default max(5, round(cycle / 10)) (paper: 100 of 5K), at most cycle. */
  readonly rewarmup?: number;
  /** Default random pruning of 0.999 of the moments (the authors' default); magnitude 0.9 is the alternative. */
  readonly pruning?: Pruning;
  /** Steps of full-rank training of W (adapters frozen) before ReLoRA starts. Default 0. */
  readonly warmStart?: number;
}

export const DEFAULT_PRUNING: Pruning = { kind: "random", ratio: 0.999 };

/** The resolved settings of one run. */
export interface ReloraPlan {
  readonly cycle: number;
  readonly rewarmup: number;
  readonly pruning: Pruning;
  readonly warmStart: number;
}

/** A message for options no run can use, or undefined. */
export function checkReloraOptions(o: ReloraOptions): string | undefined {
  const bad = countOptionError(o, { cycle: 1, rewarmup: 0, warmStart: 0 });
  if (bad) return bad;
  if (o.pruning && !(o.pruning.ratio >= 0 && o.pruning.ratio <= 1))
    return `pruning ratio must be in [0, 1], got ${o.pruning.ratio}`;
  return undefined;
}

export function reloraPlan(totalSteps: number, o: ReloraOptions = {}): ReloraPlan {
  const warmStart = o.warmStart ?? 0;
  const cycle = o.cycle ?? Math.max(20, Math.round((totalSteps - warmStart) / 4));
  const rewarmup = Math.min(cycle, o.rewarmup ?? Math.max(5, Math.round(cycle / 10)));
  return { cycle, rewarmup, pruning: o.pruning ?? DEFAULT_PRUNING, warmStart };
}

/** RNG streams of restart k (k ≥ 1): far above the init's per-param streams, so they never collide. */
const RESTART_STREAM = 0x52454c00;

/** Steps since the last restart (the warm-start switch counts as one), or null before the first. */
export function stepsSinceRestart(step: number, p: ReloraPlan): number | null {
  const t = step - p.warmStart;
  if (t < 0 || (p.warmStart === 0 && t < p.cycle)) return null;
  return t % p.cycle;
}

/**
 * ReLoRA's scheme. After every `cycle` adapter steps: merge `W += scale·A·B`, re-draw A, zero B (function
 * unchanged), then prune the adapters' moments (merging first: pruning before the merge is a known
 * port bug). The lr re-warms after each restart. All randomness of restart k comes from its own stream
 * of the run's seed, so the scheme's checkpointed state is only its settings.
 */
export function reloraScheme(o: SchemeOptions, scale: number, opts: ReloraOptions = {}): TrainingScheme {
  const plan = reloraPlan(o.totalSteps, opts);
  const slots = loraSlots(o.layout);
  const adapters = slots.flatMap((s) => [s.A, s.B]);
  const isW = new Set(slots.map((s) => s.W)),
    isAdapter = new Set(adapters);
  const warmMask = o.layout.names.map((_, i) => isAdapter.has(i));
  const loraMask = o.layout.names.map((_, i) => isW.has(i));
  const meta = { scheme: "relora", scale, ...plan };

  const restart = (ctx: SchemeContext, k: number) => {
    const rng = Rng.fromSeed(o.seed, RESTART_STREAM + k);
    for (const s of slots) mergeAndRestart(ctx.params, s, scale, rng);
    pruneMoments(ctx.adam, adapters, plan.pruning, rng);
  };

  return {
    lrFactor: (step) => rewarmupFactor(stepsSinceRestart(step, plan), plan.rewarmup),
    // without a warm start W is frozen in the model itself (no gradient is computed for it)
    ...(plan.warmStart > 0 ? { frozen: (step: number) => (step < plan.warmStart ? warmMask : loraMask) } : {}),
    afterStep(ctx) {
      const done = ctx.step + 1 - plan.warmStart;
      if (done > 0 && done % plan.cycle === 0) restart(ctx, done / plan.cycle);
    },
    hostAfterStep(step) {
      const done = step + 1 - plan.warmStart;
      return done > 0 && done % plan.cycle === 0 ? "all" : "none";
    },
    state: (): SchemeState => ({ tensors: {}, meta }),
    restore: (s) =>
      JSON.stringify(s.meta) === JSON.stringify(meta)
        ? E.right(undefined)
        : E.left(
            `the checkpoint's ReLoRA settings ${JSON.stringify(s.meta)} differ from this run's ${JSON.stringify(meta)}`,
          ),
    describe: () =>
      `merge every ${plan.cycle} steps (α/r = ${scale}), lr re-warmup ${plan.rewarmup} steps, ${plan.pruning.kind} pruning ${plan.pruning.ratio} of the adapter moments` +
      (plan.warmStart > 0 ? `, full-rank warm start ${plan.warmStart} steps` : ""),
  };
}
