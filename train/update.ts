/**
 * The one optimizer update every training loop runs (the CLI's, the playground's, the benchmarks'):
 * global-norm clipping, the warmup + cosine learning rate times the scheme's factor, the scheme's own
 * update of the params it owns, AdamW (decoupled weight decay) on the rest, then the scheme's afterStep.
 */
import * as E from "fp-ts/lib/Either.js";
import type { HostKernels } from "../ir/hostKernels.ts";
import { AdamW, type AdamState } from "./adamw.ts";
import { clipGlobalNorm } from "./clip.ts";
import type { TrainError } from "./errors.ts";
import { warmupCosine } from "./schedule.ts";
import type { TrainableModel, TrainingScheme } from "./scheme.ts";

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

/** What one update reports: the lr it used and the gradient norm before clipping. */
export interface UpdateReport {
  readonly lr: number;
  readonly gradNorm: number;
}

/** A run's optimizer: AdamW's state, the lr schedule, the method's scheme and its frozen params. */
export class Updater {
  private readonly lrAt: (step: number) => number;
  private readonly modelFrozen: readonly boolean[];

  private constructor(
    readonly model: TrainableModel,
    readonly adam: AdamW,
    readonly scheme: TrainingScheme | undefined,
    private readonly o: UpdateOptions,
    readonly totalSteps: number,
  ) {
    this.lrAt = warmupCosine({
      lr: o.lr,
      warmupSteps: Math.min(o.warmupSteps, totalSteps),
      totalSteps,
      minRatio: o.minLrRatio,
    });
    this.modelFrozen = model.frozen ?? model.layout.names.map(() => false);
  }

  /**
   * A fresh optimizer for a run of `totalSteps`, or one continuing from a checkpoint's AdamW state
   * (a Left when that state does not fit the model). The scheme is made here, from the model's method.
   */
  static create(
    model: TrainableModel,
    o: UpdateOptions,
    run: { totalSteps: number; seed: number; hostKernels?: HostKernels; adamState?: AdamState },
  ): E.Either<TrainError, Updater> {
    const shapes = model.layout.shapes.map((s) => [...s]);
    const adamOpts = {
      lr: o.lr,
      weightDecay: o.weightDecay,
      kernel: run.hostKernels?.adamwStep ? { adamwStep: run.hostKernels.adamwStep } : undefined,
    };
    const adam = run.adamState ? AdamW.restore(shapes, run.adamState, adamOpts) : E.right(new AdamW(shapes, adamOpts));
    const scheme = model.scheme?.({
      seed: run.seed,
      totalSteps: run.totalSteps,
      layout: model.layout,
      hostKernels: run.hostKernels,
    });
    return E.map((a: AdamW) => new Updater(model, a, scheme, o, run.totalSteps))(adam);
  }

  /** The learning rate of the update that makes step+1 (0-based `step`), the scheme's factor included. */
  lr(step: number): number {
    return this.lrAt(step) * (this.scheme?.lrFactor?.(step) ?? 1);
  }

  /** Params AdamW leaves alone at `step`: the model's frozen ones and those the scheme owns or freezes now. */
  skipped(step: number): boolean[] {
    const schemeFrozen = this.scheme?.frozen?.(step);
    return this.modelFrozen.map((f, i) => f || !!schemeFrozen?.[i]);
  }

  /** One update of `params` in place from `grads` (clipped in place), in the order TrainingScheme documents. */
  apply(step: number, params: Float32Array[], grads: Float32Array[]): UpdateReport {
    const { norm } = clipGlobalNorm(grads, this.o.clip);
    const lr = this.lr(step);
    const ctx = { step, totalSteps: this.totalSteps, params, adam: this.adam, layout: this.model.layout };
    const skip = this.skipped(step);
    this.scheme?.update?.(ctx, grads, lr);
    this.adam.step(params, grads, lr, skip);
    this.scheme?.afterStep?.(ctx);
    return { lr, gradNorm: norm };
  }
}

/** The benchmark peers' protocol: a constant learning rate and no clipping (weight decay as given). */
export const constantLr = (lr: number, weightDecay: number): UpdateOptions => ({
  lr,
  warmupSteps: 0,
  minLrRatio: 1,
  weightDecay,
  clip: 0,
});
