import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import { isBound, showShape, type Dim } from "../ir/dim.ts";
import { Graph, type Node, type Var } from "../ir/graph.ts";
import { flatten, unflatten, type TreeDef } from "../ir/tree.ts";
import { isTensor, withTrace, type Tensor } from "../dsl/trace.ts";
import { isSpec, type HostData, type HostOf, type OutputsOf, type TensorSpec, type TensorsOf } from "../dsl/spec.ts";
import { RankfuseException, type RankfuseError } from "../ir/errors.ts";
import type { Backend } from "../ir/backend.ts";
import { Executor, type RunStats } from "./executor.ts";
import type { Plan } from "../passes/plan.ts";
import { eliminateDeadCode } from "../dsl/dce.ts";
import type { RematPolicy } from "../passes/remat.ts";
import { planWithRemat } from "../passes/rematPlan.ts";
import { chainCapsOf } from "../passes/targetCaps.ts";
import { debugCompiled } from "./debug.ts";

/** A traced function: its graph, and how its inputs and outputs flatten to and from pytrees. */
export interface Traced {
  readonly graph: Graph;
  readonly inDef: TreeDef;
  readonly inSpecs: readonly TensorSpec[];
  readonly outDef: TreeDef;
}

/**
 * Traces `fn` on abstract inputs (specs whose unbound dims take their sizes from `dims`) into a Graph.
 * User errors raised while tracing come back as a Left; internal errors still throw.
 */
export function trace<const A extends readonly unknown[]>(fn: (...args: TensorsOf<A>) => unknown, args: A, dims: Readonly<Record<string, number>> = {}): E.Either<RankfuseError, Traced> {
  const { leaves, def: inDef } = flatten(args, isSpec);
  return pipe(
    bindDims(leaves, dims),
    E.flatMap((specs) =>
      E.tryCatch(
        () =>
          withTrace((t) => {
            const ins = specs.map((s) => t.addInput({ dims: s.dims, dtype: s.dtype }));
            const out = fn(...(unflatten(inDef, ins) as TensorsOf<A>));
            const { leaves: outs, def: outDef } = flatten(out, isTensor);
            const { graph, captured } = t.finish(outs);
            if (captured.length) throw new Error("trace: a top-level trace cannot capture tensors");
            return { graph: eliminateDeadCode(graph), inDef, inSpecs: specs, outDef };
          }),
        (e) => {
          if (e instanceof RankfuseException) return e.error;
          throw e;
        },
      ),
    ),
  );
}

function bindDims(specs: readonly TensorSpec[], dims: Readonly<Record<string, number>>): E.Either<RankfuseError, TensorSpec[]> {
  const seen = new Map<string, number>();
  const out: TensorSpec[] = [];
  for (const s of specs) {
    const bound: Dim[] = [];
    for (const d of s.dims) {
      const size = isBound(d) ? d.size : dims[d.name];
      if (size === undefined || !Number.isInteger(size)) {
        return E.left({ tag: "UnboundDim", dim: d.name, message: `dim "${d.name}" of input ${showShape(s.dims)} has no size: pass it as compile(..., { dims: { ${d.name}: <size> } })` });
      }
      const prev = seen.get(d.name);
      if (prev !== undefined && prev !== size && d.name !== "_") {
        return E.left({ tag: "ShapeError", op: "input", message: `input: dim "${d.name}" is ${prev} in one input and ${size} in another` });
      }
      seen.set(d.name, size);
      bound.push({ name: d.name, size });
    }
    out.push({ dims: bound, dtype: s.dtype } as TensorSpec);
  }
  return E.right(out);
}

/** What `compile` needs besides the function: input specs, a backend, and optionally dim sizes, remat and fusion. */
export interface CompileOptions<A> {
  readonly args: A;
  readonly backend: Backend<any>;
  readonly dims?: Readonly<Record<string, number>>;
  /** What the backward pass recomputes instead of storing (default: store everything). */
  readonly remat?: RematPolicy;
  /** Fuse low-rank chains where the backend's caps have fused kernels (default true); false plans every primitive alone. */
  readonly fusion?: boolean;
}

/** A compiled function: its planned graph, the plan, and `run` on host arrays. */
export interface Compiled<A, O> {
  /** The planned graph: after remat and fusion (fused nodes print with their bodies). */
  readonly graph: Graph<Node>;
  readonly plan: Plan;
  readonly backend: Backend<any>;
  /** Runs on host data (one flat typed array per input leaf); input shape and dtype errors are a Left. */
  run(...args: HostOf<A> extends readonly unknown[] ? HostOf<A> : never): Promise<E.Either<RankfuseError, { out: OutputsOf<O>; stats: RunStats }>>;
}

/** Traces, checks the backend can run every op, plans, and prepares the kernels. */
export function compile<const A extends readonly unknown[], O>(fn: (...args: TensorsOf<A>) => O, opts: CompileOptions<A>): E.Either<RankfuseError, Compiled<A, O>> {
  return pipe(
    trace(fn, opts.args, opts.dims),
    E.flatMap((t) => {
      const missing = t.graph.eqns.find((e) => !opts.backend.caps.prims.has(e.prim));
      return missing
        ? E.left<RankfuseError>({ tag: "UnsupportedOp", op: missing.prim, backend: opts.backend.name, message: `op ${missing.prim} has no kernel on the ${opts.backend.name} backend` })
        : E.right(t);
    }),
    E.flatMap((t) => {
      const planned = planWithRemat(t.graph, opts.remat, opts.backend.caps.float64 ? 8 : 4, chainCapsOf(opts.backend.caps, opts.fusion ?? true));
      if (E.isLeft(planned)) return planned;
      const plan = planned.right;
      debugCompiled(t.graph, plan, opts.backend);
      const graph = plan.graph;
      const exec = new Executor(plan, opts.backend);
      return E.right({
        graph,
        plan,
        backend: opts.backend,
        run: async (...args: unknown[]) =>
          pipe(
            checkInputs(t, args),
            E.map((host) => exec.run(host)),
            E.match(
              async (e) => E.left(e),
              async (p) => {
                const { outputs, stats } = await p;
                return E.right({ out: unflatten(t.outDef, outputs) as OutputsOf<O>, stats });
              },
            ),
          ),
      } as Compiled<A, O>);
    }),
  );
}

function checkInputs(t: Traced, args: readonly unknown[]) {
  const isData = (x: unknown): x is HostData => x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array;
  let leaves: HostData[];
  try {
    leaves = flatten(args, isData).leaves;
  } catch (e) {
    return E.left<RankfuseError>({ tag: "InputError", message: `run: ${(e as Error).message}` });
  }
  if (leaves.length !== t.inSpecs.length) {
    return E.left<RankfuseError>({ tag: "InputError", message: `run: expected ${t.inSpecs.length} input arrays, got ${leaves.length}` });
  }
  const host = [];
  for (const [i, data] of leaves.entries()) {
    const s = t.inSpecs[i]!;
    const n = s.dims.reduce((p, d) => p * d.size, 1);
    if (data.length !== n) return E.left<RankfuseError>({ tag: "InputError", message: `run: input ${i} ${showShape(s.dims)} needs ${n} values, got ${data.length}` });
    if ((s.dtype === "int32") !== data instanceof Int32Array) {
      return E.left<RankfuseError>({ tag: "InputError", message: `run: input ${i} ${showShape(s.dims)} is ${s.dtype}, got a ${data.constructor.name}` });
    }
    host.push({ shape: s.dims.map((d) => d.size), dtype: s.dtype, data });
  }
  return E.right(host);
}
