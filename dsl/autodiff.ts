import type { Var } from "../ir/graph.ts";
import type { Prim } from "../ir/prims.ts";
import { flatten, unflatten } from "../ir/tree.ts";
import { bind, currentTrace, isTensor, Tensor, withTrace } from "./trace.ts";
import { vjpRules, type VjpRule } from "./rules/vjpRules.ts";
import * as op from "./ops.ts";
import { RankfuseException } from "../ir/errors.ts";

/**
 * Reverse mode as a graph transform. `valueAndGrad(f)` is itself a traceable function: it traces `f`
 * into a nested graph, replays its equations into the enclosing trace, then appends one vjp rule per
 * equation in reverse order. The result is one joint forward+backward graph, which the planner sees
 * whole (so fusion and remat apply to the backward pass too), and which can be differentiated again.
 */
export function valueAndGrad<P, A extends unknown[]>(
  f: (params: P, ...rest: A) => Tensor<readonly []>,
): (params: P, ...rest: A) => [Tensor<readonly []>, P] {
  return (params: P, ...rest: A) => {
    const { leaves, def } = flatten(params, isTensor);
    const inner = withTrace((t) => {
      const ins = leaves.map((l) => t.addInput(l.v.abs));
      const out = f(unflatten(def, ins) as P, ...rest);
      if (!isTensor(out) || out.rank !== 0 || out.dtype !== "float32") {
        throw new RankfuseException({
          tag: "ShapeError",
          op: "grad",
          message: `grad: the function must return a float32 scalar, got ${isTensor(out) ? `shape [${out.shape}] ${out.dtype}` : typeof out}`,
        });
      }
      return t.finish([out]);
    });

    // replay the forward equations here
    const env = new Map<Var, Tensor>();
    inner.graph.inputs.forEach((v, i) =>
      env.set(v, i < leaves.length ? leaves[i]! : inner.captured[i - leaves.length]!),
    );
    const outer = currentTrace();
    const saved = outer.phase;
    outer.phase = saved ?? "forward";
    for (const e of inner.graph.eqns)
      env.set(
        e.out,
        bind(
          e.prim,
          e.inputs.map((v) => env.get(v)!),
          e.params as never,
          { name: e.meta.name },
        ),
      );
    outer.phase = saved ?? "backward";
    const outVar = inner.graph.outputs[0]!;
    const value = env.get(outVar)!;

    // walk back, accumulating cotangents
    const ct = new Map<Var, Tensor>([[outVar, op.full([], 1)]]);
    for (let i = inner.graph.eqns.length - 1; i >= 0; i--) {
      const e = inner.graph.eqns[i]!;
      const g = ct.get(e.out);
      if (!g) continue;
      const rule = vjpRules[e.prim] as VjpRule<Prim>;
      const cts = rule({ inputs: e.inputs.map((v) => env.get(v)!), out: env.get(e.out)!, params: e.params, g });
      e.inputs.forEach((v, j) => {
        const c = cts[j];
        if (!c || v.abs.dtype !== "float32") return;
        const prev = ct.get(v);
        ct.set(v, prev ? op.add(prev, c) : c);
      });
    }
    const grads = inner.graph.inputs.slice(0, leaves.length).map((v, i) => ct.get(v) ?? op.zerosLike(leaves[i]!));
    outer.phase = saved;
    return [value as Tensor<readonly []>, unflatten(def, grads) as P];
  };
}

/** The gradient of a scalar function with respect to its first argument (a pytree of tensors). */
export function grad<P, A extends unknown[]>(
  f: (params: P, ...rest: A) => Tensor<readonly []>,
): (params: P, ...rest: A) => P {
  const vg = valueAndGrad(f);
  return (params, ...rest) => vg(params, ...rest)[1];
}

export { Tensor };
