import * as E from "fp-ts/lib/Either.js";
import { showShape } from "../ir/dim.ts";
import type { Graph, Node } from "../ir/graph.ts";
import { flatten, unflatten } from "../ir/tree.ts";
import type { RankfuseError } from "../ir/errors.ts";
import type { Backend } from "../ir/backend.ts";
import type { HostData, HostOf, OutputsOf, TensorsOf } from "../dsl/spec.ts";
import type { Traced } from "../dsl/traceFunction.ts";
import type { Plan } from "../passes/plan.ts";
import { Executor, type RunStats } from "./executor.ts";
import { plan, type PlanOptions } from "./plan.ts";
import { debugCompiled } from "./debug.ts";

/** `plan`'s options plus the backend to bind to (its caps replace `caps`). */
export interface CompileOptions<A> extends Omit<PlanOptions<A>, "caps" | "target"> {
  readonly backend: Backend<any>;
}

/** A planned function bound to a backend, ready to run on host data. */
export interface Compiled<A, O> {
  /** The planned graph: after remat and fusion (fused nodes print with their bodies). */
  readonly graph: Graph<Node>;
  readonly plan: Plan;
  readonly backend: Backend<any>;
  /**
   * The plan's executor, for callers that keep buffers on the backend between runs (training state):
   * flat inputs in the graph's input order, host or resident (`Executor.runOn`).
   */
  readonly executor: Executor<any>;
  /** Runs on host data (one flat typed array per input leaf); input shape and dtype errors are a Left. */
  run(
    ...args: HostOf<A> extends readonly unknown[] ? HostOf<A> : never
  ): Promise<E.Either<RankfuseError, { out: OutputsOf<O>; stats: RunStats }>>;
}

/** `plan` for the backend's caps, then bind: prepares every kernel on the backend. */
export function compile<const A extends readonly unknown[], O>(
  fn: (...args: TensorsOf<A>) => O,
  opts: CompileOptions<A>,
): E.Either<RankfuseError, Compiled<A, O>> {
  const { backend } = opts;
  return E.map(({ traced, plan: p }: { traced: Traced; plan: Plan }) => bind<A, O>(traced, p, backend))(
    plan(fn, { ...opts, caps: backend.caps, target: backend.name }),
  );
}

function bind<A, O>(traced: Traced, p: Plan, backend: Backend<any>): Compiled<A, O> {
  debugCompiled(traced.graph, p, backend);
  const exec = new Executor(p, backend);
  const run = async (...args: unknown[]): Promise<E.Either<RankfuseError, { out: OutputsOf<O>; stats: RunStats }>> => {
    const host = checkInputs(traced, args);
    if (E.isLeft(host)) return host;
    const { outputs, stats } = await exec.run(host.right);
    return E.right({ out: unflatten(traced.outDef, outputs) as OutputsOf<O>, stats });
  };
  return { graph: p.graph, plan: p, backend, executor: exec, run } as Compiled<A, O>;
}

function checkInputs(t: Traced, args: readonly unknown[]) {
  const isData = (x: unknown): x is HostData =>
    x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array;
  let leaves: HostData[];
  try {
    leaves = flatten(args, isData).leaves;
  } catch (e) {
    return E.left<RankfuseError>({ tag: "InputError", message: `run: ${(e as Error).message}` });
  }
  if (leaves.length !== t.inSpecs.length) {
    return E.left<RankfuseError>({
      tag: "InputError",
      message: `run: expected ${t.inSpecs.length} input arrays, got ${leaves.length}`,
    });
  }
  const host = [];
  for (const [i, data] of leaves.entries()) {
    const s = t.inSpecs[i]!;
    const n = s.dims.reduce((p, d) => p * d.size, 1);
    if (data.length !== n)
      return E.left<RankfuseError>({
        tag: "InputError",
        message: `run: input ${i} ${showShape(s.dims)} needs ${n} values, got ${data.length}`,
      });
    if ((s.dtype === "int32") !== data instanceof Int32Array) {
      return E.left<RankfuseError>({
        tag: "InputError",
        message: `run: input ${i} ${showShape(s.dims)} is ${s.dtype}, got a ${data.constructor.name}`,
      });
    }
    host.push({ shape: s.dims.map((d) => d.size), dtype: s.dtype, data });
  }
  return E.right(host);
}
