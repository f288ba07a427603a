import { Graph, Var, isFused, type AbsVal, type Eqn, type Node } from "../ir/graph.ts";
import type { Prim, PrimParams } from "../ir/prims.ts";
import { numel } from "../ir/dim.ts";
import { eliminateDeadCode } from "../dsl/dce.ts";

/**
 * Remat (activation checkpointing) as a graph rewrite. A policy is a predicate over the forward
 * equations of a joint forward+backward graph, as in JAX's checkpoint policies: a forward value the
 * backward pass reads is either saved (kept alive from forward to backward) or recomputed in backward,
 * from saved values and graph inputs, right before its first backward use and only once. The rewrite
 * changes what lives across the forward/backward boundary, never what is computed, so gradients are
 * bit-identical under every policy that only recomputes. A policy may instead recover a value its own
 * way (`recover`): CR-Net's inversion, equal to float rounding rather than bit for bit.
 */
export interface RematPolicy {
  readonly name: string;
  /** Should the value this forward equation computes be kept for backward? */
  save(eqn: Eqn): boolean;
  /**
   * A policy that gets some unsaved values back other than by re-running their forward equation (CR-Net
   * inverts its recurrence from the layer above): given the joint graph (read once, before the rewrite),
   * how to recover a value; values it does not recover (undefined) are recomputed as usual.
   */
  recover?(g: Graph): Recover;
}

/** Builds backward's copy of an unsaved forward value v through `ctx`, or undefined to recompute v. */
export type Recover = (v: Var, ctx: RematContext) => Var | undefined;

/** What a policy's `recover` builds with while `applyRemat` rewrites the graph. */
export interface RematContext {
  /** The forward equation computing v (undefined for graph inputs and backward values). */
  def(v: Var): Eqn | undefined;
  /** The variable backward reads for forward value v: v itself if saved, else its recovered or recomputed copy (made once). */
  materialize(v: Var): Var;
  /** Appends the backward equation `prim[params](...inputs)` and returns its output. */
  emit<P extends Prim>(prim: P, inputs: readonly Var[], params: PrimParams[P], abs: AbsVal, name?: string): Var;
}

/** Saves every forward value backward reads: no recompute, the highest peak (the default). */
export const saveAll: RematPolicy = { name: "saveAll", save: () => true };

/** Names models give their values with checkpointName. */
export const BLOCK_INPUT = "block_input";
export const COLA_ACT = "cola_act";
/** The LM head's logits: the last forward value, which the loss's backward reads first. */
export const HEAD_LOGITS = "head_logits";

/** Saves only values the model named with one of `names` (checkpointName). */
export const saveNames = (...names: string[]): RematPolicy => ({
  name: `saveNames(${names.join(",")})`,
  save: (e) => e.meta.name !== undefined && names.includes(e.meta.name),
});

/** Recomputes everything in backward from the block inputs (the residual stream entering each block). */
export const saveNothing: RematPolicy = { ...saveNames(BLOCK_INPUT), name: "saveNothing" };

/** A cheap op whose recompute never pays to save (movement and constants): always recomputed. */
const FREE = new Set(["reshape", "literal"]);

export function applyRemat(g: Graph, policy: RematPolicy): Graph {
  if (policy === saveAll) return g;
  const def = new Map<Var, Eqn>();
  for (const e of g.eqns) if (e.meta.phase === "forward") def.set(e.out, e);
  const keep = (v: Var) => {
    const e = def.get(v);
    return !e || (!FREE.has(e.prim) && policy.save(e)); // graph inputs and backward values stay as they are
  };

  const copies = new Map<Var, Var>();
  let nextId = Math.max(...g.inputs.map((v) => v.id), ...g.eqns.map((e) => e.out.id)) + 1;
  const out: Eqn[] = [];
  const emit = <P extends Prim>(
    prim: P,
    inputs: readonly Var[],
    params: PrimParams[P],
    abs: AbsVal,
    name?: string,
  ): Var => {
    const v = new Var(nextId++, abs);
    out.push({ prim, inputs, params, out: v, meta: { phase: "backward", name } } as Eqn);
    return v;
  };
  const recomputed = (v: Var): Var => {
    const e = def.get(v)!;
    const inputs = e.inputs.map(materialize);
    return emit(e.prim, inputs, e.params, v.abs, e.meta.name && `${e.meta.name} (recomputed)`);
  };
  const ctx: RematContext = { def: (v) => def.get(v), materialize, emit };
  const recover = policy.recover?.(g);
  /** The variable backward should read for forward value v: itself if kept, else a recovered or recomputed copy. */
  function materialize(v: Var): Var {
    if (keep(v)) return v;
    const hit = copies.get(v);
    if (hit) return hit;
    const copy = recover?.(v, ctx) ?? recomputed(v);
    copies.set(v, copy);
    return copy;
  }

  for (const e of g.eqns) {
    if (e.meta.phase !== "backward") {
      out.push(e);
      continue;
    }
    const inputs = e.inputs.map(materialize);
    out.push(inputs.every((v, i) => v === e.inputs[i]) ? e : { ...e, inputs });
  }
  // graph outputs that are forward values (the loss) keep their forward definition
  return new Graph(g.inputs, out, g.outputs);
}

/** The rewritten joint graph with what no longer feeds an output removed. */
export const rematGraph = (g: Graph, policy: RematPolicy): Graph => eliminateDeadCode(applyRemat(g, policy));

/** A value kept from forward to backward: what a policy costs in memory. */
export interface SavedResidual {
  readonly name: string;
  readonly prim: string;
  readonly shape: readonly number[];
  readonly bytes: number;
}

/**
 * The forward values a (rewritten) joint graph keeps alive for its backward pass, excluding graph inputs
 * (params and data, which live anyway): JAX's saved_residuals.
 */
export function savedResiduals(g: Graph<Node>, bytesPerValue = 4): SavedResidual[] {
  const fwd = new Map<Var, Eqn>();
  // a fused forward node's saved outputs are named after the body equation that makes them
  for (const e of g.eqns)
    if (e.meta.phase === "forward") for (const b of isFused(e) ? e.body.eqns : [e]) fwd.set(b.out, b);
  const seen = new Set<Var>();
  const res: SavedResidual[] = [];
  for (const e of g.eqns) {
    if (e.meta.phase !== "backward") continue;
    for (const v of e.inputs) {
      const d = fwd.get(v);
      if (!d || seen.has(v)) continue;
      seen.add(v);
      res.push({
        name: d.meta.name ?? `${d.prim} ${v}`,
        prim: d.prim,
        shape: v.shape,
        bytes: numel(v.abs.dims) * bytesPerValue,
      });
    }
  }
  return res;
}
