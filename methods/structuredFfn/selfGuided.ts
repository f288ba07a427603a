import * as E from "fp-ts/lib/Either.js";
import { EMPTY_SCHEME_STATE, type SchemeContext, type SchemeOptions, type TrainingScheme } from "../../train/scheme.ts";

/**
 * Self-guided training (Wei et al., PAPERS.md): each structured MLP map runs next to a dense guide,
 * out = α·x·W_guide + (1−α)·structured(x), with α decaying 1 → 0 on a cosine over the first part of the
 * run (default: the first half), after which the structured network stands alone. α is one frozen [1]
 * param of the model (`guideAlpha`) that this scheme writes after every step, so it is saved with the
 * params and a resumed run continues the same schedule; the guide weights train while α > 0 and are
 * frozen (AdamW leaves them and their moments alone) once it reaches 0, when their gradient is 0 anyway.
 */

export const GUIDE_ALPHA = "guideAlpha";
export const isGuideWeight = (name: string): boolean => /\.guide$/.test(name);

/** α at a step: ½(1 + cos(π·step/guideSteps)) for step < guideSteps, then 0. */
export const guideAlphaAt = (step: number, guideSteps: number): number =>
  step >= guideSteps ? 0 : 0.5 * (1 + Math.cos((Math.PI * step) / guideSteps));

/** Steps the guide is active: `fraction` of the run, at least 1. */
export const guideSteps = (totalSteps: number, fraction: number): number =>
  Math.max(1, Math.round(fraction * totalSteps));

export interface SelfGuidedOptions {
  /** Part of the run over which α decays (default 0.5). */
  readonly fraction?: number;
}

export function selfGuidedScheme(o: SchemeOptions, opts: SelfGuidedOptions = {}): TrainingScheme {
  const fraction = opts.fraction ?? 0.5;
  const steps = guideSteps(o.totalSteps, fraction);
  const alphaIndex = o.layout.names.indexOf(GUIDE_ALPHA);
  if (alphaIndex < 0) throw new Error(`self-guided training needs a ${GUIDE_ALPHA} param in the model`);
  const guides = o.layout.names.map(isGuideWeight);
  const none = guides.map(() => false);
  return {
    frozen: (step) => (step >= steps ? guides : none),
    afterStep: (ctx: SchemeContext) => {
      ctx.params[alphaIndex]![0] = guideAlphaAt(ctx.step + 1, steps);
    },
    // α is written, never read: 4 bytes per step while the guide decays, nothing after
    hostAfterStep: (step) => (step < steps ? { writes: [alphaIndex] } : "none"),
    state: () => EMPTY_SCHEME_STATE,
    restore: () => E.right(undefined),
    describe: () => `self-guided: dense guide with α cosine 1 → 0 over the first ${steps} steps, guide frozen after`,
  };
}
