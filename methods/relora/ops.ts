import type { ParamLayout } from "../../models/params.ts";
import type { AdamMoments } from "../../train/adamMoments.ts";
import type { Rng } from "../../util/rng.ts";

/**
 * The operations LoRA-based schemes (ReLoRA, dynamic adjustment) apply to the flat params between steps:
 * find the adapters, merge them into W, restart them, and prune their optimizer state.
 */

/** Where one projection's W, A and B sit in the flat layout, and its input width (A's fan-in). */
export interface LoraSlot {
  readonly name: string;
  readonly block: number;
  readonly W: number;
  readonly A: number;
  readonly B: number;
  readonly fanIn: number;
}

const SLOT_PARAM = /^blocks\.(\d+)\.(\w+)\.(W|A|B)$/;

/** Every LoRA projection of a layout, in layout order. */
export function loraSlots(layout: ParamLayout): LoraSlot[] {
  const found = new Map<string, { block: number; W?: number; A?: number; B?: number }>();
  layout.names.forEach((n, i) => {
    const m = SLOT_PARAM.exec(n);
    if (!m) return;
    const key = `blocks.${m[1]}.${m[2]}`;
    const s = found.get(key) ?? { block: Number(m[1]) };
    s[m[3] as "W" | "A" | "B"] = i;
    found.set(key, s);
  });
  return [...found].map(([name, s]) => {
    if (s.W === undefined || s.A === undefined || s.B === undefined)
      throw new Error(`LoRA projection ${name} lacks W, A or B`);
    return { name, block: s.block, W: s.W, A: s.A, B: s.B, fanIn: layout.shapes[s.W]![0]! };
  });
}

/**
 * PyTorch's `kaiming_uniform_(a=√5)` on LoRA's A (fan-in d_in): gain √(2/(1+5)), bound gain·√(3/fan_in)
 * = 1/√fan_in. Drawn in place, so a restart re-initializes A where it lives.
 */
export function kaimingUniformA(a: Float32Array, fanIn: number, rng: Rng): void {
  const bound = 1 / Math.sqrt(fanIn);
  for (let j = 0; j < a.length; j++) a[j] = (2 * rng.nextFloat() - 1) * bound;
}

/** `W += scale·A·B` in place (A [d_in, r], B [r, d_out], row-major), each entry summed in float64 and rounded once. */
export function mergeAdapter(w: Float32Array, a: Float32Array, b: Float32Array, scale: number, fanIn: number): void {
  const r = a.length / fanIn,
    fanOut = w.length / fanIn;
  if (!Number.isInteger(r) || b.length !== r * fanOut)
    throw new RangeError(`mergeAdapter: W ${w.length}, A ${a.length}, B ${b.length} do not fit d_in ${fanIn}`);
  const row = new Float64Array(fanOut);
  for (let i = 0; i < fanIn; i++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const aik = a[i * r + k]!;
      if (aik === 0) continue;
      for (let o = 0; o < fanOut; o++) row[o] += aik * b[k * fanOut + o]!;
    }
    for (let o = 0; o < fanOut; o++) w[i * fanOut + o] = w[i * fanOut + o]! + scale * row[o]!;
  }
}

/**
 * Merge then restart one adapter: W absorbs scale·A·B, A is drawn afresh and B zeroed, so the network's
 * function is unchanged (up to float32 rounding of W) while the adapter can learn a new direction.
 */
export function mergeAndRestart(params: Float32Array[], slot: LoraSlot, scale: number, rng: Rng): void {
  mergeAdapter(params[slot.W]!, params[slot.A]!, params[slot.B]!, scale, slot.fanIn);
  kaimingUniformA(params[slot.A]!, slot.fanIn, rng);
  params[slot.B]!.fill(0);
}

/** How a restart thins the adapters' Adam moments: zero a random `ratio` of entries, or those below the `ratio` quantile of |m|. */
export type Pruning = { readonly kind: "random" | "magnitude"; readonly ratio: number };

/** torch.quantile's linear interpolation over the sorted values. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values).sort();
  if (s.length === 0) return 0;
  const pos = q * (s.length - 1),
    lo = Math.floor(pos),
    hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (pos - lo) * (s[hi]! - s[lo]!);
}

/**
 * Prunes the moments of params `indices` (ReLoRA's optimizer reset). Unlike the authors' code, which
 * masks m and v independently, an entry's m and v are kept or zeroed together, so no entry is left with
 * momentum but no second moment (a step of m/ε). Magnitude pruning ranks entries by |m| per tensor and
 * keeps those strictly above the quantile, as `magnitude_prune_` does.
 */
export function pruneMoments(adam: AdamMoments, indices: readonly number[], pruning: Pruning, rng: Rng): void {
  if (pruning.kind === "random") {
    adam.resetState([...indices], () => rng.nextFloat() >= pruning.ratio);
    return;
  }
  const { m } = adam.state();
  const threshold = new Map(indices.map((i) => [i, quantile(m[i]!.map(Math.abs), pruning.ratio)]));
  adam.resetState([...indices], (i, j) => Math.abs(m[i]![j]!) > threshold.get(i)!);
}
