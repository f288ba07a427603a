import { Graph, Var, type AbsVal, type Eqn, type EqnMeta } from "../ir/graph.ts";
import type { Shape } from "../ir/dim.ts";
import type { Prim, PrimParams } from "../ir/prims.ts";
import { RankfuseException } from "../ir/errors.ts";
import { shapeRules, type AnyShapeRule } from "./rules/shapeRules.ts";

/**
 * A symbolic tensor: a handle on a variable of the graph being traced. Its type records the shape
 * as a tuple of Dims. Nothing is computed: ops append equations to the current trace.
 */
export class Tensor<S extends Shape = Shape> {
  /** @internal */
  constructor(
    readonly v: Var,
    readonly trace: Trace,
  ) {}
  get dims(): S {
    return this.v.abs.dims as unknown as S;
  }
  get dtype() {
    return this.v.abs.dtype;
  }
  get shape(): number[] {
    return this.v.shape;
  }
  get rank(): number {
    return this.v.abs.dims.length;
  }
  toString(): string {
    return `Tensor${this.v}`;
  }
}

export const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;

/** A trace under construction. Nested traces (for `grad`) capture tensors of enclosing ones as extra inputs. */
export class Trace {
  readonly inputs: Var[] = [];
  /** The equations traced so far, in order; only `emit` appends (it keeps `producer` in step). */
  readonly eqns: Eqn[] = [];
  /** The equation that computed each variable, so `checkpointName` finds it without a scan. */
  private readonly producers = new Map<Var, Eqn>();
  /** Tensors of the enclosing trace used here, and the input variable each became. */
  readonly captures = new Map<Tensor, Var>();
  private nextId = 0;
  /** Stamped on every equation emitted while set (valueAndGrad marks its forward and backward parts). */
  phase: EqnMeta["phase"];

  constructor(readonly parent: Trace | null) {}

  /** The equation of this trace that computed `v`; undefined for inputs and captured tensors. */
  producer(v: Var): Eqn | undefined {
    return this.producers.get(v);
  }

  newVar(abs: AbsVal): Var {
    return new Var(this.nextId++, abs);
  }

  addInput(abs: AbsVal): Tensor {
    const v = this.newVar(abs);
    this.inputs.push(v);
    return new Tensor(v, this);
  }

  /** Makes `t` usable here: as itself if it is ours, or as a captured input if an enclosing trace owns it. */
  lift(t: Tensor): Var {
    if (t.trace === this) return t.v;
    if (!this.parent) throw new Error(`${t} was used outside the trace that made it (a tensor escaped its function)`);
    let v = this.captures.get(t);
    if (!v) {
      this.parent.lift(t);
      v = this.newVar(t.v.abs);
      this.captures.set(t, v);
    }
    return v;
  }

  emit<P extends Prim>(prim: P, inputs: readonly Tensor[], params: PrimParams[P], meta: EqnMeta = {}): Tensor {
    const vars = inputs.map((t) => this.lift(t));
    const rule = shapeRules[prim] as AnyShapeRule;
    const abs = rule(
      vars.map((v) => v.abs),
      params,
    );
    if (abs._tag === "Left") throw new RankfuseException(abs.left);
    const out = this.newVar(abs.right);
    const eqn = { prim, inputs: vars, params, out, meta: { ...meta, phase: this.phase ?? meta.phase } } as Eqn;
    this.eqns.push(eqn);
    this.producers.set(out, eqn);
    return new Tensor(out, this);
  }

  /** The finished graph; captured tensors become inputs after the declared ones. */
  finish(outputs: readonly Tensor[]): { graph: Graph; captured: Tensor[] } {
    const outs = outputs.map((t) => this.lift(t));
    const captured = [...this.captures.keys()];
    const graph = new Graph([...this.inputs, ...this.captures.values()], [...this.eqns], outs);
    return { graph, captured };
  }
}

const stack: Trace[] = [];

export function currentTrace(): Trace {
  const t = stack[stack.length - 1];
  if (!t) throw new Error("rankfuse ops build a graph: call them inside a function given to trace() or compile()");
  return t;
}

/** Runs `body` with a fresh trace (nested in the current one, if any) on top of the stack. */
export function withTrace<T>(body: (t: Trace) => T): T {
  const t = new Trace(stack[stack.length - 1] ?? null);
  stack.push(t);
  try {
    return body(t);
  } finally {
    stack.pop();
  }
}

/** Applies a primitive in the current trace. */
export function bind<P extends Prim>(
  prim: P,
  inputs: readonly Tensor[],
  params: PrimParams[P],
  meta?: EqnMeta,
): Tensor {
  return currentTrace().emit(prim, inputs, params, meta);
}

/**
 * Names the value `t` for remat policies (`saveNames`, `colaM`), like JAX's checkpoint_name. It adds
 * no equation: the name goes on the equation that computed `t`.
 */
export function checkpointName<T extends Tensor>(t: T, name: string): T {
  const eqn = t.trace.producer(t.v);
  if (eqn) eqn.meta = { ...eqn.meta, name };
  return t;
}
