import { BLOCK_INPUT, saveNames, type RematPolicy } from "./remat.ts";

/**
 * CR-Net's recompute scheme (PAPERS.md) as a remat policy. Every projection's output follows the
 * cross-layer recurrence Y_ℓ = s(β_ℓ)·Y_{ℓ-1} + X_ℓ·A_ℓ·B_ℓ, so a full-size Y is cheap to get back from
 * a neighbour plus the small product X·A. The policy keeps, for backward: the projection inputs X, the
 * rank-r products X·A, the residual stream entering each half-block (for the norms), and the full Y only
 * at the checkpoint layers (about L/8 of them, the last included, never layer 1).
 *
 * How the other Y come back: the paper inverts the recurrence downwards from the checkpoint above,
 * Y_ℓ = (Y_{ℓ+1} − X_{ℓ+1}A_{ℓ+1}B_{ℓ+1}) / s(β_{ℓ+1}) (models/crnetInvert.ts, tested to reproduce Y).
 * Our executor's remat re-runs forward equations from saved values, so here the rest are recomputed
 * *forwards* from the nearest checkpoint below (or from layer 1's X·W): the same saved set and the same
 * per-step cost (one [n,r]×[r,d] product and an axpy), bit-identical gradients, but during backward a
 * whole segment of recomputed Y (≤ L/|C| layers) is alive at once instead of one. The inversion as a
 * graph rewrite is `invertRecurrence` in fusion/crnetInvertRewrite.ts (float tolerance, not bit-identical).
 */

/** Names the CR-Net decoder gives its values. */
export const CRNET_X = "crnet_x";
export const CRNET_XA = "crnet_xa";
/** The output Y of every projection at layer ℓ (1-based). */
export const crnetY = (layer: number) => `crnet_y:${layer}`;

/** The layers (1-based) whose Y are stored: max(1, round(L/8)) evenly spaced ending at L, never layer 1. */
export function crnetCheckpointLayers(layers: number): number[] {
  if (layers < 2) return [];
  const m = Math.max(1, Math.round(layers / 8));
  const out = new Set<number>();
  for (let j = 1; j <= m; j++) out.add(Math.max(2, Math.round((j * layers) / m)));
  return [...out].sort((a, b) => a - b);
}

/** The CR-Net policy for a model with `layers` blocks. */
export function crnetRemat(layers: number): RematPolicy {
  const names = [BLOCK_INPUT, CRNET_X, CRNET_XA, ...crnetCheckpointLayers(layers).map(crnetY)];
  return { ...saveNames(...names), name: "crnet" };
}
