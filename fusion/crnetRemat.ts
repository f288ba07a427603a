import { Graph, Var, type Eqn } from "../dsl/graph.ts";
import { eliminateDeadCode } from "./dce.ts";
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
 * The shared remat (fusion/remat.ts, what compile and the training step run) re-runs forward equations
 * from saved values, so under `crnetRemat` the rest are recomputed *forwards* from the nearest checkpoint
 * below (or from layer 1's X·W): the same per-step cost (one [n,r]×[r,o] product and an axpy) and
 * bit-identical gradients, but a whole segment of recomputed Y can be alive at once during backward.
 * `applyCrnetInversion` below is the paper's scheme as a graph rewrite (gradients equal to float
 * rounding, not bit for bit); the shared planner has no hook for a policy's own rewrite yet, so it is
 * tested on its own plans (test/fusion/crnetRemat.test.ts) rather than used by `compile`.
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
 * above (applyCrnetInversion) instead of being recomputed forwards. Gradients equal storing everything
 * to float rounding (a division by s(β) is not bit-exact), at a lower peak.
 */
export function crnetInversion(layers: number): RematPolicy {
  return { ...crnetRemat(layers), name: "crnetInversion", rewrite: (g) => applyCrnetInversion(g, layers) };
}

/** Where Y_ℓ can be recovered from: Y_{ℓ+1} = add(mul(Y_ℓ, s), matmul(XA, B)) gives next, low = XA·B and s. */
interface Inverse {
  readonly next: Var;
  readonly low: Var;
  readonly s: Var;
}

/** A cheap op whose recompute never pays to save (as in fusion/remat.ts). */
const FREE = new Set(["reshape", "literal"]);

/**
 * The CR-Net policy with the paper's recovery: like `applyRemat(g, crnetRemat(layers))`, except that a
 * projection output Y_ℓ that is not stored is recovered in backward by running the recurrence down from
 * Y_{ℓ+1} (itself stored at a checkpoint layer, or recovered the same way): two elementwise ops and the
 * rank-r product, X·A being stored. So backward holds about one recovered Y per projection at a time.
 */
export function applyCrnetInversion(g: Graph, layers: number): Graph {
  const policy = crnetRemat(layers);
  const def = new Map<Var, Eqn>();
  for (const e of g.eqns) if (e.meta.phase === "forward") def.set(e.out, e);
  const inverse = new Map<Var, Inverse>();
  for (const e of g.eqns) {
    const layer = /^crnet_y:(\d+)$/.exec(e.meta.name ?? "");
    if (!layer || e.meta.phase !== "forward" || Number(layer[1]) < 2) continue;
    const [mul, low] = [def.get(e.inputs[0]!), def.get(e.inputs[1]!)];
    if (e.prim !== "add" || mul?.prim !== "mul" || low?.prim !== "matmul") throw new Error(`crnet: ${e.meta.name} is not Y_{l-1}*s + XA*B`);
    inverse.set(mul.inputs[0]!, { next: e.out, low: low.out, s: mul.inputs[1]! });
  }
  const keep = (v: Var) => {
    const e = def.get(v);
    return !e || (!FREE.has(e.prim) && policy.save(e));
  };
  const materialized = new Map<Var, Var>();
  let nextId = Math.max(...g.inputs.map((v) => v.id), ...g.eqns.map((e) => e.out.id)) + 1;
  const out: Eqn[] = [];
  const emit = (e: Omit<Eqn, "out" | "meta">, abs: Var["abs"], name?: string): Var => {
    const v = new Var(nextId++, abs);
    out.push({ ...e, out: v, meta: { phase: "backward", name } } as Eqn);
    return v;
  };
  const materialize = (v: Var): Var => {
    if (keep(v)) return v;
    const hit = materialized.get(v);
    if (hit) return hit;
    const inv = inverse.get(v);
    let copy: Var;
    if (inv) {
      const diff = emit({ prim: "sub", inputs: [materialize(inv.next), materialize(inv.low)], params: {} }, v.abs);
      copy = emit({ prim: "div", inputs: [diff, materialize(inv.s)], params: {} }, v.abs, `${def.get(v)!.meta.name} (inverted)`);
    } else {
      const e = def.get(v)!;
      copy = emit({ prim: e.prim, inputs: e.inputs.map(materialize), params: e.params } as Omit<Eqn, "out" | "meta">, v.abs, e.meta.name && `${e.meta.name} (recomputed)`);
    }
    materialized.set(v, copy);
    return copy;
  };
  for (const e of g.eqns) {
    if (e.meta.phase !== "backward") {
      out.push(e);
      continue;
    }
    const inputs = e.inputs.map(materialize);
    out.push(inputs.every((v, i) => v === e.inputs[i]) ? e : { ...e, inputs });
  }
  return eliminateDeadCode(new Graph(g.inputs, out, g.outputs));
}
