/**
 * One evaluation of a function on a backend, as the equivalence checks compare them: its outputs (a
 * forward compile) and its vjp (Σ⟨out, w⟩ and the gradient of every float input, one joint compile), each
 * leaf named by its path and shaped, with the plans that computed them.
 */
import { sizes } from "../ir/dim.ts";
import type { Backend } from "../ir/backend.ts";
import { flatten } from "../ir/tree.ts";
import type { HostOf, TensorsOf } from "../dsl/spec.ts";
import type { Plan } from "../passes/plan.ts";
import type { RematPolicy } from "../passes/remat.ts";
import { compile } from "../run/compile.ts";
import { inPrecision, isHostData } from "./inputs.ts";
import { defPaths, type Shaped } from "./tree.ts";
import { unwrap } from "./unwrap.ts";
import { cotangents, vjpProgram } from "./vjp.ts";

/** Where and how to evaluate: compile's options, and which halves to compute. */
export interface EvaluateOptions {
  readonly backend: Backend<any>;
  /** Fuse what the backend's caps allow (default true), as compile's `fusion`. */
  readonly fusion?: boolean;
  /** Remat policy of the vjp compile (default: save everything). */
  readonly remat?: RematPolicy;
  /** Sizes of unbound dims, as compile's `dims`. */
  readonly dims?: Readonly<Record<string, number>>;
  /** Compute the outputs (default true). */
  readonly outputs?: boolean;
  /** Compute the vjp: Σ⟨out, w⟩ and every float input's gradient (default true). */
  readonly gradients?: boolean;
  /** Seed of the random cotangents w (default 1). */
  readonly seed?: number;
}

/** What one evaluation computed, keyed by path: `out`, `out[1]`; `vjp` (Σ⟨out, w⟩), `grad args[0].A`. */
export interface Evaluation {
  readonly backend: string;
  readonly outputs: Readonly<Record<string, Shaped>>;
  readonly gradients: Readonly<Record<string, Shaped>>;
  readonly plans: { readonly forward?: Plan; readonly vjp?: Plan };
}

type Runner = { run(...xs: unknown[]): Promise<Parameters<typeof unwrap>[0]> };

/**
 * Compiles and runs `fn` on `opts.backend` at `inputs` (cast to the backend's precision). A compile or
 * run error throws its rendered message: this is for tests, where that is the report.
 */
export async function evaluate<const A extends readonly unknown[]>(
  fn: (...args: TensorsOf<A>) => unknown,
  args: A,
  inputs: HostOf<A>,
  opts: EvaluateOptions,
): Promise<Evaluation> {
  const { backend, fusion = true, remat, dims, seed = 1 } = opts;
  const host = inPrecision(inputs, backend.caps.float64);
  const outputs: Record<string, Shaped> = {},
    gradients: Record<string, Shaped> = {};
  const plans: { forward?: Plan; vjp?: Plan } = {};
  if (opts.outputs ?? true) {
    const c = unwrap(compile(fn, { args, backend, fusion, dims }));
    const { out } = unwrap(await (c as unknown as Runner).run(...(host as unknown[]))) as { out: unknown };
    const paths = defPaths(flatten(out, isHostData).def, "out");
    flatten(out, isHostData).leaves.forEach((data, i) => {
      outputs[paths[i]!] = { data, shape: sizes(c.graph.outputs[i]!.abs.dims) };
    });
    plans.forward = c.plan;
  }
  if (opts.gradients ?? true) {
    const p = unwrap(vjpProgram(fn, args, dims));
    const c = unwrap(compile(p.fn, { args: p.args, backend, fusion, remat, dims }));
    const w = inPrecision(cotangents(p, seed), backend.caps.float64);
    const { out } = unwrap(await (c as unknown as Runner).run(host, w)) as {
      out: [ArrayLike<number>, ArrayLike<number>[]];
    };
    gradients.vjp = { data: [out[0][0]!], shape: [] };
    out[1].forEach((g, i) => (gradients[`grad ${p.gradPaths[i]}`] = { data: g, shape: p.gradShapes[i]! }));
    plans.vjp = c.plan;
  }
  return { backend: backend.name, outputs, gradients, plans };
}
