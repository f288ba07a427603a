/**
 * A test-only oracle for the training state on the backend (train/trainState.ts): the update path as it
 * was before the state moved there (commit 9a941c3's train/update.ts, adamw.ts and clip.ts), kept here
 * so the new path can be compared against it. Per step:
 *
 *   grads ← compileTrainStep (loss and gradients to the host)
 *   clip  ← global norm in float64, scale = min(1, clip/(norm + 1e-6)), g ·= scale where scale < 1
 *   lr    ← warmup + cosine × scheme.lrFactor(step)
 *   scheme.update(ctx, grads, lr)      (the params it owns, in place, on the params before the step)
 *   AdamW on every param not skipped   (float64 per element, stored as float32; PyTorch's order)
 *   scheme.afterStep(ctx)              (ctx.adam: an AdamMoments over this oracle's moments)
 */
import * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../../ir/backend.ts";
import { AdamMoments, type AdamState } from "../../train/adamMoments.ts";
import { elementCount } from "../../train/params.ts";
import { warmupCosine } from "../../train/schedule.ts";
import type { SchemeContext, TrainableModel, TrainingScheme } from "../../train/scheme.ts";
import { compileTrainStep, frozenMask, type TrainStep } from "../../train/step.ts";
import type { TrainStateOptions, TrainStateStart } from "../../train/trainState.ts";
import { unwrap } from "../../testing/unwrap.ts";

const [BETA1, BETA2, EPS] = [0.9, 0.999, 1e-8];

/** The old `clipGlobalNorm`: float64 norm, grads scaled in place; `maxNorm <= 0` only measures. */
export function clipGlobalNorm(grads: Float32Array[], maxNorm: number): { norm: number; scale: number } {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!;
  const norm = Math.sqrt(sum);
  if (!(maxNorm > 0) || maxNorm === Infinity || !Number.isFinite(norm)) return { norm, scale: 1 };
  const scale = Math.min(1, maxNorm / (norm + 1e-6));
  if (scale < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i]! *= scale;
  return { norm, scale };
}

/** What one oracle step reports (as TrainState's StepReport, less the backend's stats). */
export interface HostStepReport {
  readonly loss: number;
  readonly gradNorm: number;
  readonly lr: number;
}

/** The old host update path, driven by compileTrainStep on a backend. */
export class HostUpdate {
  private t: number;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private readonly lrAt: (step: number) => number;
  private readonly modelFrozen: readonly boolean[];
  private readonly decay: readonly boolean[];
  readonly scheme: TrainingScheme | undefined;

  private constructor(
    readonly model: TrainableModel,
    private readonly trainStep: TrainStep,
    private readonly o: TrainStateOptions,
    /** The params, updated in place every step. */
    readonly params: Float32Array[],
    adam: AdamState,
  ) {
    this.t = adam.step;
    this.m = adam.m.map((a) => a.slice());
    this.v = adam.v.map((a) => a.slice());
    this.lrAt = warmupCosine({
      lr: o.lr,
      warmupSteps: Math.min(o.warmupSteps, o.totalSteps),
      totalSteps: o.totalSteps,
      minRatio: o.minLrRatio,
    });
    this.modelFrozen = frozenMask(model);
    this.decay = model.layout.shapes.map((s) => s.length >= 2);
    this.scheme = model.scheme?.({
      seed: o.seed,
      totalSteps: o.totalSteps,
      layout: model.layout,
      hostKernels: o.hostKernels,
    });
  }

  /** The oracle from the same start a TrainState would take (the arrays are copied). */
  static create(
    model: TrainableModel,
    backend: Backend<any>,
    o: TrainStateOptions,
    start: TrainStateStart,
  ): HostUpdate {
    const shapes = model.layout.shapes;
    const zeros = () => shapes.map((s) => new Float32Array(elementCount(s)));
    const adam = start.adam ?? { step: 0, m: zeros(), v: zeros() };
    const step = unwrap(compileTrainStep(model, backend, o.batch, o.seq));
    const h = new HostUpdate(
      model,
      step,
      o,
      start.params.map((p) => p.slice()),
      adam,
    );
    if (h.scheme && start.scheme) {
      const r = h.scheme.restore(start.scheme);
      if (E.isLeft(r)) throw new Error(`HostUpdate: cannot restore the scheme: ${r.left}`);
    }
    return h;
  }

  /** AdamW's t. */
  get updates(): number {
    return this.t;
  }

  /** The old `Updater.lr`. */
  lr(step: number): number {
    return this.lrAt(step) * (this.scheme?.lrFactor?.(step) ?? 1);
  }

  /** The old `Updater.skipped`. */
  skipped(step: number): boolean[] {
    const schemeFrozen = this.scheme?.frozen?.(step);
    return this.modelFrozen.map((f, i) => f || !!schemeFrozen?.[i]);
  }

  /** Copies of the params and moments (the shape of TrainState.read()). */
  read(): { params: Float32Array[]; adam: AdamState } {
    return {
      params: this.params.map((a) => a.slice()),
      adam: { step: this.t, m: this.m.map((a) => a.slice()), v: this.v.map((a) => a.slice()) },
    };
  }

  /** One step: gradients on the backend, the rest on the host, in the old `Updater.apply` order. */
  async step(step: number, ids: Int32Array, targets: Int32Array): Promise<HostStepReport> {
    const { loss, grads } = unwrap(await this.trainStep.run(this.params, ids, targets));
    const { norm } = clipGlobalNorm(grads, this.o.clip);
    const lr = this.lr(step);
    const skip = this.skipped(step);
    const updateCtx = { step, totalSteps: this.o.totalSteps, params: this.params, layout: this.model.layout };
    this.scheme?.update?.(updateCtx, grads, lr);
    this.adamStep(grads, lr, skip);
    if (this.scheme?.afterStep) {
      const adam = unwrap(AdamMoments.restore(this.model.layout.shapes, { step: this.t, m: this.m, v: this.v }));
      const ctx: SchemeContext = { ...updateCtx, adam };
      this.scheme.afterStep(ctx);
      // restore() copied the moments: take back what the hook did to them (resets, pruning)
      const { m, v } = adam.views();
      m.forEach((a, i) => this.m[i]!.set(a));
      v.forEach((a, i) => this.v[i]!.set(a));
    }
    return { loss, gradNorm: norm, lr };
  }

  /** The old AdamW.step's JavaScript loop: float64 per element, stored as float32. */
  private adamStep(grads: readonly Float32Array[], lr: number, skip: readonly boolean[]): void {
    this.t += 1;
    const [b1, b2, eps] = [BETA1, BETA2, EPS];
    const stepSize = lr / (1 - b1 ** this.t);
    const sqrtBc2 = Math.sqrt(1 - b2 ** this.t);
    for (let i = 0; i < this.params.length; i++) {
      if (skip[i]) continue;
      const p = this.params[i]!,
        g = grads[i]!,
        m = this.m[i]!,
        v = this.v[i]!;
      if (p.length !== m.length || g.length !== m.length)
        throw new RangeError(
          `HostUpdate: param ${i} has ${p.length} values and ${g.length} grads, expected ${m.length}`,
        );
      const decay = this.decay[i] ? 1 - lr * this.o.weightDecay : 1;
      for (let j = 0; j < p.length; j++) {
        const gj = g[j]!;
        const mj = b1 * m[j]! + (1 - b1) * gj;
        const vj = b2 * v[j]! + (1 - b2) * gj * gj;
        m[j] = mj;
        v[j] = vj;
        p[j] = p[j]! * decay - (stepSize * mj) / (Math.sqrt(vj) / sqrtBc2 + eps);
      }
    }
  }
}
