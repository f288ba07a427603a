import type { Eqn, Graph, Var } from "../../ir/graph.ts";
import { BLOCK_INPUT, rematGraph, saveNames, type RematPolicy, type Recover } from "../../passes/remat.ts";

/**
 * CR-Net's recompute scheme (PAPERS.md) as a remat policy. Every projection's output follows the
 * cross-layer recurrence Y_ℓ = s(β_ℓ)·Y_{ℓ-1} + X_ℓ·A_ℓ·B_ℓ, so a full-size Y is cheap to get back from
 * a neighbour plus the small product X·A. The policy keeps, for backward: the projection inputs X, the
 * rank-r products X·A, the residual stream entering each half-block (for the norms), and the full Y only
 * at the checkpoint layers (about L/8 of them, the last included, never layer 1).
 *
 * How the other Y come back: the paper inverts the recurrence downwards from the checkpoint above,
 * Y_ℓ = (Y_{ℓ+1} − X_{ℓ+1}A_{ℓ+1}B_{ℓ+1}) / s(β_{ℓ+1}) (methods/crnet/invert.ts, tested to reproduce Y).
 * `crnetInversion` is that scheme: `crnetRemat`'s saves plus a `recover` hook that the shared remat
 * (passes/remat.ts `applyRemat`, what compile and the training step run) calls for each Y it does not
 * save, so the crnet model trains under it through compile. Its gradients equal storing everything to
 * float rounding, not bit for bit. Plain `crnetRemat` instead recomputes those Y *forwards* from the
 * nearest checkpoint below (or from layer 1's X·W): the same per-step cost (one [n,r]×[r,o] product and
 * an axpy) and bit-identical gradients, but a whole segment of recomputed Y can be alive at once during
 * backward, so its peak is no lower than the inversion's (test/methods/crnetRemat.test.ts compares them).
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

/**
 * CR-Net's own scheme (PAPERS.md), what the crnet model trains with: `crnetRemat`'s saves, but every Y
 * below the top checkpoint layer is recovered in backward by inverting the recurrence from the layer
 * above (`recoverByInversion`) instead of being recomputed forwards. Gradients equal storing everything
 * to float rounding (a division by s(β) is not bit-exact), at a lower peak.
 */
export function crnetInversion(layers: number): RematPolicy {
  return { ...crnetRemat(layers), name: "crnetInversion", recover: recoverByInversion };
}

/** `crnetInversion` applied to a joint graph, dead code removed: what compile runs for the crnet model. */
export const applyCrnetInversion = (g: Graph, layers: number): Graph => rematGraph(g, crnetInversion(layers));

/** Where Y_ℓ can be recovered from: Y_{ℓ+1} = add(mul(Y_ℓ, s), matmul(XA, B)) gives next, low = XA·B and s. */
interface Inverse {
  readonly next: Var;
  readonly low: Var;
  readonly s: Var;
}

/**
 * The paper's recovery: a projection output Y_ℓ that is not stored is recovered in backward by running
 * the recurrence down from Y_{ℓ+1} (itself stored at a checkpoint layer, or recovered the same way): two
 * elementwise ops and the rank-r product, X·A being stored. So backward holds about one recovered Y per
 * projection at a time. Every other unsaved value is recomputed forwards as usual.
 */
function recoverByInversion(g: Graph): Recover {
  const def = new Map<Var, Eqn>();
  for (const e of g.eqns) if (e.meta.phase === "forward") def.set(e.out, e);
  const inverse = new Map<Var, Inverse>();
  for (const e of g.eqns) {
    const layer = /^crnet_y:(\d+)$/.exec(e.meta.name ?? "");
    if (!layer || e.meta.phase !== "forward" || Number(layer[1]) < 2) continue;
    const [mul, low] = [def.get(e.inputs[0]!), def.get(e.inputs[1]!)];
    if (e.prim !== "add" || mul?.prim !== "mul" || low?.prim !== "matmul")
      throw new Error(`crnet: ${e.meta.name} is not Y_{l-1}*s + XA*B`);
    inverse.set(mul.inputs[0]!, { next: e.out, low: low.out, s: mul.inputs[1]! });
  }
  return (v, { def, materialize, emit }) => {
    const inv = inverse.get(v);
    if (!inv) return undefined;
    const diff = emit("sub", [materialize(inv.next), materialize(inv.low)], {}, v.abs);
    return emit("div", [diff, materialize(inv.s)], {}, v.abs, `${def(v)!.meta.name} (inverted)`);
  };
}
