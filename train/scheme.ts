import type * as E from "fp-ts/lib/Either.js";
import type { AdamMoments } from "./adamMoments.ts";
import type { ParamLayout } from "../models/params.ts";
import type { LanguageModel } from "../models/model.ts";
import type { HostKernels } from "../ir/hostKernels.ts";

/**
 * A training scheme: what a method does around the plain AdamW step. Model-only methods (CoLA, CR-Net,
 * low-rank FFNs) have none; ReLoRA (merge and restart), Fira (its own optimizer for the matrices), SST
 * (sampled singular vectors, re-SVD), self-guided FFNs (the guide's α schedule) and dynamic adjustment
 * (which params train) are schemes. Every step (train/trainState.ts):
 *
 *   mask = frozen(step)                           (params AdamW must leave alone this step)
 *   on the backend: grads, clip, AdamW on every trainable param not in mask
 *   update(ctx, grads, lr)                        (on the host: the params the scheme owns, Fira, SST;
 *                                                  ctx.params hold the values from before the step)
 *   afterStep(ctx)                                (merges, resets, re-SVDs, α), where hostAfterStep asks
 *
 * Params and moments live on the backend; they come to the host only where a hook needs them: for
 * `update`, every param before the step and the clipped gradients of the params in `mask`; for
 * `afterStep`, what `hostAfterStep(step)` declares. The lr passed in is the run's warmup + cosine value
 * times `lrFactor(step)`. A scheme holds state (its own moments, projections, counters);
 * `state()`/`restore()` put it in the checkpoint, so a resumed run equals an uninterrupted one.
 * Schemes are made per run by `TrainableModel.scheme(...)`.
 */
export interface TrainingScheme {
  /** Multiplies the run's learning rate at a step (0-based: the update that makes step+1). ReLoRA's jagged restarts. */
  lrFactor?(step: number): number;
  /** true for params AdamW must not touch at this step (values and moments unchanged): owned by `update`, or frozen for now. */
  frozen?(step: number): readonly boolean[];
  /** Updates the params this scheme owns, in place, before AdamW updates the rest. */
  update?(ctx: SchemeUpdateContext, grads: readonly Float32Array[], lr: number): void;
  /** After the update: may change params and AdamW's state in place (ReLoRA merge, SST re-SVD, α schedule). */
  afterStep?(ctx: SchemeContext): void;
  /**
   * What `afterStep` needs on the host after `step`: nothing (it does nothing then), everything (params
   * and moments, read back and written again: a merge, a reset), or only to write a few params it sets
   * without reading (self-guided α: ctx.params holds zeroed arrays for those, empty ones elsewhere).
   * Without it, a scheme with `afterStep` gets everything after every step (correct, and slow).
   */
  hostAfterStep?(step: number): HostNeed;
  /** Everything needed to resume exactly. */
  state(): SchemeState;
  restore(s: SchemeState): E.Either<string, void>;
  /** One line for logs and the report (e.g. "merge every 200 steps, magnitude pruning 0.9"). */
  describe(): string;
}

/** What a scheme's `afterStep` needs on the host at a step (see `TrainingScheme.hostAfterStep`). */
export type HostNeed = "none" | "all" | { readonly writes: readonly number[] };

/** What a scheme's `update` sees: the params (mutable) and the layout. */
export type SchemeUpdateContext = Omit<SchemeContext, "adam">;

/** What a scheme sees at a step: the params (mutable), the optimizer and the layout. */
export interface SchemeContext {
  /** The step being made, 0-based (afterStep: the step just made). */
  readonly step: number;
  readonly totalSteps: number;
  /** The flat params, in layout order; mutate in place. */
  readonly params: Float32Array[];
  readonly adam: AdamMoments;
  readonly layout: ParamLayout;
}

/** A scheme's checkpointed state: named float32 tensors and JSON. */
export interface SchemeState {
  readonly tensors: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: Float32Array }>>;
  readonly meta: unknown;
}

/** What a scheme factory gets: the run's seed (for its own RNG streams) and length. */
export interface SchemeOptions {
  readonly seed: number;
  readonly totalSteps: number;
  readonly layout: ParamLayout;
  /** Compiled host loops the caller passed in (a native GEMM for Fira's projections), if any. */
  readonly hostKernels?: HostKernels;
}

/** The state of a scheme that keeps none. */
export const EMPTY_SCHEME_STATE: SchemeState = { tensors: {}, meta: null };

/** A model as training sees it: the model, and what its method does around AdamW (none for most). */
export interface TrainableModel extends LanguageModel {
  /** Makes the method's training scheme (ReLoRA, Fira, SST, ...) fresh for each run. */
  scheme?(o: SchemeOptions): TrainingScheme;
}
