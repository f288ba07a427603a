/**
 * AdamW (Loshchilov & Hutter) with PyTorch's exact update order, so runs
 * are comparable with `torch.optim.AdamW`:
 *   p ← p − lr·wd·p                      (decoupled decay, before Adam)
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
 * Arithmetic is done in float64 per element and stored as float32, so the
 * host optimizer adds no rounding beyond the storage format.
 */
import * as E from "fp-ts/lib/Either.js";
import { trainError, type TrainError } from "./errors.ts";
import { elementCount } from "./params.ts";
import type { AdamwKernel } from "../ir/hostKernels.ts";

/** AdamW's hyperparameters. */
export type AdamWOptions = {
  /** Used when `step` is called without an explicit lr (a schedule normally passes one). */
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /**
   * Which params get weight decay. Default: rank ≥ 2 (matrices, embeddings,
   * low-rank factors). Vectors — norm gains and biases — get none: decaying
   * a gain pulls it towards 0 rather than towards the identity scale of 1,
   * and a bias carries no capacity worth regularizing (the usual GPT/LLaMA
   * recipe).
   */
  decayMask?: boolean[];
  /**
   * A compiled loop doing exactly this update (the native engine's `adamwStep`): the same float64
   * arithmetic, so results are bit-identical; it only saves the JavaScript loop's time.
   */
  kernel?: AdamwKernel;
};

/** Moments are per-param copies; `step` counts updates (for bias correction). */
export type AdamState = { step: number; m: Float32Array[]; v: Float32Array[] };

/** AdamW over a list of float32 params, with per-param moments. */
export class AdamW {
  private t = 0;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private readonly lr: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly decayMask: boolean[];
  private readonly kernel?: AdamwKernel;

  constructor(shapes: number[][], opts: AdamWOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.kernel = opts.kernel;
    this.weightDecay = opts.weightDecay ?? 0;
    this.decayMask = opts.decayMask ? [...opts.decayMask] : shapes.map((s) => s.length >= 2);
    if (this.decayMask.length !== shapes.length) {
      throw new RangeError(`decayMask has ${this.decayMask.length} entries for ${shapes.length} params`);
    }
    for (const b of [this.beta1, this.beta2])
      if (!(b >= 0 && b < 1)) throw new RangeError(`AdamW betas must be in [0, 1), got ${b}`);
    this.m = shapes.map((s) => new Float32Array(elementCount(s)));
    this.v = shapes.map((s) => new Float32Array(elementCount(s)));
  }

  /**
   * Continue from a saved state. A state whose tensor count or sizes differ
   * from `shapes` means the run's model changed since the save, which the
   * user must hear about rather than get a crash or silent misalignment.
   */
  static restore(shapes: number[][], state: AdamState, opts: AdamWOptions = {}): E.Either<TrainError, AdamW> {
    const bad = (msg: string) =>
      E.left(trainError("CheckpointError", `optimizer state does not fit this model: ${msg}`));
    if (!Number.isSafeInteger(state.step) || state.step < 0) return bad(`invalid step ${state.step}`);
    if (state.m.length !== shapes.length || state.v.length !== shapes.length) {
      return bad(`it has ${state.m.length} moment tensors, the model has ${shapes.length} params`);
    }
    const opt = new AdamW(shapes, opts);
    for (let i = 0; i < shapes.length; i++) {
      const n = elementCount(shapes[i]);
      if (state.m[i].length !== n || state.v[i].length !== n) {
        return bad(`param ${i} has ${n} elements, its moments have ${state.m[i].length} and ${state.v[i].length}`);
      }
      opt.m[i].set(state.m[i]);
      opt.v[i].set(state.v[i]);
    }
    opt.t = state.step;
    return E.right(opt);
  }

  /** A copy of the moments, safe to serialize while training continues. */
  state(): AdamState {
    return { step: this.t, m: this.m.map((a) => a.slice()), v: this.v.map((a) => a.slice()) };
  }

  /**
   * One update of every param in place, except those with `skip[i]` (frozen, or updated by a training
   * scheme): their values and moments stay as they are. Mismatched list lengths or sizes are programming
   * errors and throw.
   */
  step(params: Float32Array[], grads: Float32Array[], lr: number = this.lr, skip?: readonly boolean[]): void {
    if (params.length !== this.m.length || grads.length !== this.m.length) {
      throw new RangeError(
        `AdamW.step: expected ${this.m.length} params and grads, got ${params.length} and ${grads.length}`,
      );
    }
    this.t += 1;
    const { beta1: b1, beta2: b2, eps } = this;
    const stepSize = lr / (1 - b1 ** this.t);
    const sqrtBc2 = Math.sqrt(1 - b2 ** this.t);
    for (let i = 0; i < params.length; i++) {
      if (skip?.[i]) continue;
      const p = params[i],
        g = grads[i],
        m = this.m[i],
        v = this.v[i];
      if (p.length !== m.length || g.length !== m.length) {
        throw new RangeError(
          `AdamW.step: param ${i} has ${p.length} values and ${g.length} grads, expected ${m.length}`,
        );
      }
      const decay = this.decayMask[i] ? 1 - lr * this.weightDecay : 1;
      if (this.kernel) {
        this.kernel.adamwStep(p, g, m, v, b1, b2, eps, decay, stepSize, sqrtBc2);
        continue;
      }
      for (let j = 0; j < p.length; j++) {
        const gj = g[j];
        const mj = b1 * m[j] + (1 - b1) * gj;
        const vj = b2 * v[j] + (1 - b2) * gj * gj;
        m[j] = mj;
        v[j] = vj;
        p[j] = p[j] * decay - (stepSize * mj) / (Math.sqrt(vj) / sqrtBc2 + eps);
      }
    }
  }

  /**
   * Zero the moments of params `indices` (all their entries, or only those
   * where `keep(i, j)` is false). For ReLoRA-style restarts, where stale
   * moments of merged-and-reinitialized factors would push the new factors
   * in the old directions. The step count is kept, so bias correction does
   * not re-amplify the first post-reset updates; pair a reset with a short
   * lr re-warmup instead.
   */
  resetState(indices: number[], keep?: (i: number, j: number) => boolean): void {
    for (const i of indices) {
      const m = this.m[i],
        v = this.v[i];
      if (!m) throw new RangeError(`AdamW.resetState: no param ${i}`);
      if (!keep) {
        m.fill(0);
        v.fill(0);
        continue;
      }
      for (let j = 0; j < m.length; j++) {
        if (!keep(i, j)) {
          m[j] = 0;
          v[j] = 0;
        }
      }
    }
  }
}
