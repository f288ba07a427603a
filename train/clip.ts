/** Gradient clipping by global norm (as `torch.nn.utils.clip_grad_norm_`), applied in place. */
import { globalNorm } from "./params.ts";

/**
 * Scale all grads by min(1, maxNorm / (norm + 1e-6)) and report the
 * pre-clip norm and the scale used. `maxNorm <= 0` or `Infinity` disables
 * clipping (the norm is still measured, for logging). A non-finite norm is
 * returned with scale 1 and grads untouched: scaling by 0 would hide the
 * overflow, so the caller should skip that step instead.
 */
export const clipGlobalNorm = (grads: Float32Array[], maxNorm: number): { norm: number; scale: number } => {
  const norm = globalNorm(grads);
  if (!(maxNorm > 0) || maxNorm === Infinity || !Number.isFinite(norm)) return { norm, scale: 1 };
  const scale = Math.min(1, maxNorm / (norm + 1e-6));
  if (scale < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= scale;
  return { norm, scale };
};
