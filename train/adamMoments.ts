/**
 * AdamW's state as the host sees it between steps: the step count and both moments of every param.
 * The update itself runs on the backend (train/updateStep.ts); this is what checkpoints save and what
 * a training scheme edits at its boundaries (ReLoRA's pruning, dynamic adjustment's resets).
 */
import * as E from "fp-ts/lib/Either.js";
import { trainError, type TrainError } from "./errors.ts";
import { elementCount } from "./params.ts";

/** Moments are per-param copies; `step` counts updates (for bias correction). */
export type AdamState = { step: number; m: Float32Array[]; v: Float32Array[] };

/** AdamW's moments of a list of params, on the host. */
export class AdamMoments {
  private constructor(
    private t: number,
    private readonly m: Float32Array[],
    private readonly v: Float32Array[],
  ) {}

  /** Zero moments for params of `shapes`, step 0. */
  static zeros(shapes: readonly (readonly number[])[]): AdamMoments {
    const z = () => shapes.map((s) => new Float32Array(elementCount(s)));
    return new AdamMoments(0, z(), z());
  }

  /**
   * Continue from a saved state (the arrays are copied). A state whose tensor count or sizes differ
   * from `shapes` means the run's model changed since the save, which the user must hear about rather
   * than get a crash or silent misalignment.
   */
  static restore(shapes: readonly (readonly number[])[], state: AdamState): E.Either<TrainError, AdamMoments> {
    const bad = (msg: string) =>
      E.left(trainError("CheckpointError", `optimizer state does not fit this model: ${msg}`));
    if (!Number.isSafeInteger(state.step) || state.step < 0) return bad(`invalid step ${state.step}`);
    if (state.m.length !== shapes.length || state.v.length !== shapes.length) {
      return bad(`it has ${state.m.length} moment tensors, the model has ${shapes.length} params`);
    }
    for (let i = 0; i < shapes.length; i++) {
      const n = elementCount(shapes[i]!);
      if (state.m[i]!.length !== n || state.v[i]!.length !== n) {
        return bad(`param ${i} has ${n} elements, its moments have ${state.m[i]!.length} and ${state.v[i]!.length}`);
      }
    }
    return E.right(
      new AdamMoments(
        state.step,
        state.m.map((a) => a.slice()),
        state.v.map((a) => a.slice()),
      ),
    );
  }

  /** The number of updates made so far. */
  get step(): number {
    return this.t;
  }

  /** A copy of the moments, safe to serialize while training continues. */
  state(): AdamState {
    return { step: this.t, m: this.m.map((a) => a.slice()), v: this.v.map((a) => a.slice()) };
  }

  /** The moments themselves (not copies), for the training state to write to the backend. */
  views(): { readonly m: readonly Float32Array[]; readonly v: readonly Float32Array[] } {
    return { m: this.m, v: this.v };
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
      if (!m || !v) throw new RangeError(`AdamMoments.resetState: no param ${i}`);
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
