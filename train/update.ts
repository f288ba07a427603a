/**
 * The optimizer settings every training loop shares (the CLI's, the playground's, the benchmarks'):
 * global-norm clipping, the warmup + cosine learning rate, AdamW's decoupled weight decay. The update
 * itself runs on the backend as part of the step (train/trainState.ts, train/updateStep.ts).
 */

/** The optimizer settings of a run. */
export interface UpdateOptions {
  /** Peak learning rate. */
  readonly lr: number;
  /** Linear warmup steps (capped at the run's length). */
  readonly warmupSteps: number;
  /** The cosine ends at minLrRatio·lr. */
  readonly minLrRatio: number;
  /** AdamW's decoupled weight decay, applied to params of rank ≥ 2. */
  readonly weightDecay: number;
  /** Global gradient-norm clip; 0 turns it off. */
  readonly clip: number;
}

/** The defaults of every face (CLI flags, playground, benchmarks), from the CoLA authors' recipe. */
export const UPDATE_DEFAULTS = { lr: 3e-3, minLrRatio: 0.1, weightDecay: 0.01, clip: 0.5 } as const;

/** The default warmup: a tenth of the run, at least one step. */
export const defaultWarmupSteps = (steps: number): number => Math.max(1, Math.round(steps / 10));

/** The benchmark peers' protocol: a constant learning rate and no clipping (weight decay as given). */
export const constantLr = (lr: number, weightDecay: number): UpdateOptions => ({
  lr,
  warmupSteps: 0,
  minLrRatio: 1,
  weightDecay,
  clip: 0,
});
