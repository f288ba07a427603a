import * as E from "fp-ts/lib/Either.js";
import { AdamMoments } from "../../train/adamMoments.ts";
import { elementCount } from "../../train/params.ts";
import type { Rng } from "../../util/rng.ts";

/** AdamW's hyperparameters for the textbook reference (torch.optim.AdamW's defaults). */
export interface TextbookOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  readonly weightDecay?: number;
  /** Which params decay (default: rank ≥ 2, as the library). */
  readonly decay?: readonly boolean[];
  /** Global-norm clip threshold; 0 (default) turns it off. */
  readonly clip?: number;
}

/**
 * AdamW as PyTorch writes it, in float64, element by element, after global-norm clipping: the oracle
 * the on-backend update (train/updateStep.ts) and Fira's matrix step are checked against.
 *   g ← g·min(1, clip/(‖g‖ + 1e-6))
 *   p ← p − lr·wd·p
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε)
 */
export class TextbookAdamW {
  t = 0;
  readonly m: Float64Array[];
  readonly v: Float64Array[];
  private readonly o: Required<Omit<TextbookOptions, "decay">> & { decay: readonly boolean[] };

  constructor(shapes: readonly (readonly number[])[], o: TextbookOptions = {}) {
    this.m = shapes.map((s) => new Float64Array(elementCount(s)));
    this.v = shapes.map((s) => new Float64Array(elementCount(s)));
    this.o = {
      beta1: o.beta1 ?? 0.9,
      beta2: o.beta2 ?? 0.999,
      eps: o.eps ?? 1e-8,
      weightDecay: o.weightDecay ?? 0,
      clip: o.clip ?? 0,
      decay: o.decay ?? shapes.map((s) => s.length >= 2),
    };
  }

  /**
   * One update of `params` in place (those with `skip[i]` keep their values and moments). The norm is
   * over every gradient, skipped ones included (the library clips before it knows what a scheme owns).
   * Returns the pre-clip gradient norm.
   */
  step(
    params: (Float64Array | Float32Array)[],
    grads: readonly ArrayLike<number>[],
    lr: number,
    skip?: readonly boolean[],
  ): number {
    const { beta1: b1, beta2: b2, eps, weightDecay: wd, clip, decay } = this.o;
    let sq = 0;
    for (const g of grads) for (let j = 0; j < g.length; j++) sq += g[j]! * g[j]!;
    const norm = Math.sqrt(sq);
    const scale = clip > 0 ? Math.min(1, clip / (norm + 1e-6)) : 1;
    this.t += 1;
    params.forEach((p, i) => {
      if (skip?.[i]) return;
      const [g, m, v] = [grads[i]!, this.m[i]!, this.v[i]!];
      for (let j = 0; j < p.length; j++) {
        const gj = g[j]! * scale;
        if (decay[i]) p[j] = p[j]! - lr * wd * p[j]!;
        m[j] = b1 * m[j]! + (1 - b1) * gj;
        v[j] = b2 * v[j]! + (1 - b2) * gj * gj;
        p[j] = p[j]! - ((lr / (1 - b1 ** this.t)) * m[j]!) / (Math.sqrt(v[j]!) / Math.sqrt(1 - b2 ** this.t) + eps);
      }
    });
    return norm;
  }
}

/**
 * Moments as if mid-training: every entry of m nonzero (±), every entry of v positive, at `step`.
 * For tests of what schemes do to the optimizer state (resets, pruning) without running steps.
 */
export function warmMoments(shapes: readonly (readonly number[])[], rng: Rng, step = 3): AdamMoments {
  const fill = (s: readonly number[], f: () => number) => Float32Array.from({ length: elementCount(s) }, f);
  const nonzero = () => {
    const x = rng.normal();
    return x === 0 ? 1 : x;
  };
  const m = shapes.map((s) => fill(s, () => 0.1 * nonzero()));
  const v = shapes.map((s) => fill(s, () => 0.01 * nonzero() ** 2));
  const r = AdamMoments.restore(shapes, { step, m, v });
  if (E.isLeft(r)) throw new Error(r.left.message);
  return r.right;
}
