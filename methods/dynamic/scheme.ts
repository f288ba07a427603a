import * as E from "fp-ts/lib/Either.js";
import { countOptionError } from "../../train/countOptions.ts";
import { Rng } from "../../util/rng.ts";
import { loraSlots, mergeAndRestart } from "../relora/ops.ts";
import { rewarmupFactor } from "../relora/schedule.ts";
import type { SchemeContext, SchemeOptions, SchemeState, TrainingScheme } from "../../train/scheme.ts";

/** Knobs of dynamic parameter adjustment; each defaults from the run length and the model's depth. */
export interface DynamicOptions {
  /** Steps per phase (how often the trainable set changes). Default max(10, round(totalSteps / (4·groups))): every group gets about 4 full-rank turns. */
  readonly interval?: number;
  /** Groups of blocks taking turns at full rank (block ℓ is in group ℓ mod groups). Default max(2, layers). */
  readonly groups?: number;
  /** Steps of linear lr re-warmup after each switch (fresh moments). Default max(2, round(interval / 10)), at most interval. */
  readonly rewarmup?: number;
}

export interface DynamicPlan {
  readonly interval: number;
  readonly groups: number;
  readonly rewarmup: number;
}

/** A message for options no run can use, or undefined. */
export const checkDynamicOptions = (o: DynamicOptions): string | undefined =>
  countOptionError(o, { interval: 1, groups: 1, rewarmup: 0 });

export function dynamicPlan(totalSteps: number, layers: number, o: DynamicOptions = {}): DynamicPlan {
  const groups = o.groups ?? Math.max(2, layers);
  const interval = o.interval ?? Math.max(10, Math.round(totalSteps / (4 * groups)));
  return { interval, groups, rewarmup: Math.min(interval, o.rewarmup ?? Math.max(2, Math.round(interval / 10))) };
}

/** The group of blocks that trains at full rank during `step`. */
export const fullRankGroup = (step: number, p: DynamicPlan) => Math.floor(step / p.interval) % p.groups;

/** RNG streams of switch k (k ≥ 1), apart from the init's and ReLoRA's. */
const SWITCH_STREAM = 0x44594e00;

/**
 * Dynamic parameter adjustment (Zhou & Wang; only the abstract is public: "LoRA-based, frequently alters
 * the trainable part of the parameters"). Our version: every projection is W + (α/r)·A·B. Training runs in
 * phases of `interval` steps; in phase p the blocks of group p mod `groups` train their full W (their
 * adapters frozen, B = 0), every other block keeps W frozen and trains its adapter; embeddings, norms and
 * head always train. At each switch every adapter is merged into W and restarted (function unchanged),
 * the adapters' moments and those of the W leaving full rank are zeroed (an optimizer that keeps state
 * only for what trains), and the lr re-warms. So each W gets full-rank updates in its turns and low-rank
 * ones in between. Gradients are computed for all params (the mask only stops AdamW): the compute is
 * full rank's plus the adapters'; the memory saving of the method is not realized here.
 */
export function dynamicScheme(
  o: SchemeOptions,
  scale: number,
  layers: number,
  opts: DynamicOptions = {},
): TrainingScheme {
  const plan = dynamicPlan(o.totalSteps, layers, opts);
  const slots = loraSlots(o.layout);
  const n = o.layout.names.length;
  const inGroup = (block: number, g: number) => block % plan.groups === g;
  const masks = Array.from({ length: plan.groups }, (_, g) => {
    const m = new Array<boolean>(n).fill(false);
    for (const s of slots) {
      const full = inGroup(s.block, g);
      m[s.W] = !full;
      m[s.A] = m[s.B] = full;
    }
    return m;
  });
  const meta = { scheme: "dynamic", scale, ...plan };

  const switchPhase = (ctx: SchemeContext, k: number) => {
    const leaving = (k - 1) % plan.groups;
    const rng = Rng.fromSeed(o.seed, SWITCH_STREAM + k);
    for (const s of slots) mergeAndRestart(ctx.params, s, scale, rng);
    ctx.adam.resetState(slots.flatMap((s) => [s.A, s.B]));
    ctx.adam.resetState(slots.filter((s) => inGroup(s.block, leaving)).map((s) => s.W));
  };

  return {
    frozen: (step) => masks[fullRankGroup(step, plan)]!,
    lrFactor: (step) => rewarmupFactor(step < plan.interval ? null : step % plan.interval, plan.rewarmup),
    afterStep(ctx) {
      if ((ctx.step + 1) % plan.interval === 0) switchPhase(ctx, (ctx.step + 1) / plan.interval);
    },
    hostAfterStep: (step) => ((step + 1) % plan.interval === 0 ? "all" : "none"),
    state: (): SchemeState => ({ tensors: {}, meta }),
    restore: (s) =>
      JSON.stringify(s.meta) === JSON.stringify(meta)
        ? E.right(undefined)
        : E.left(
            `the checkpoint's dynamic-adjustment settings ${JSON.stringify(s.meta)} differ from this run's ${JSON.stringify(meta)}`,
          ),
    describe: () =>
      `every ${plan.interval} steps the full-rank block group moves on (${plan.groups} groups, block ℓ in group ℓ mod ${plan.groups}), ` +
      `the other blocks train LoRA adapters (α/r = ${scale}); adapters merged at each switch, lr re-warmup ${plan.rewarmup} steps`,
  };
}
