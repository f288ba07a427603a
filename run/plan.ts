import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import type { BackendCaps } from "../ir/backend.ts";
import type { RankfuseError } from "../ir/errors.ts";
import type { TensorsOf } from "../dsl/spec.ts";
import { trace, type Traced } from "../dsl/traceFunction.ts";
import type { Plan } from "../passes/plan.ts";
import type { RematPolicy } from "../passes/remat.ts";
import { planWithRemat } from "../passes/rematPlan.ts";
import { chainCapsOf } from "../passes/targetCaps.ts";

/** How to plan a function: the target's caps, the remat policy, sizes of unbound dims. */
export interface PlanOptions<A> {
  readonly args: A;
  readonly dims?: Readonly<Record<string, number>>;
  /**
   * What the target can run (a backend's `caps`). The planner fuses what the caps allow and sizes
   * buffers by their precision; without caps it plans float32 with no fused kernels.
   */
  readonly caps?: BackendCaps;
  /** The target's name, for messages (compile passes the backend's). */
  readonly target?: string;
  /** What the backward pass recomputes instead of storing (default: store everything). */
  readonly remat?: RematPolicy;
  /** Fuse low-rank chains where the caps have fused kernels (default true); false plans every primitive alone. */
  readonly fusion?: boolean;
}

/** A traced function and its plan: what `compile` binds to a backend. */
export interface Planned {
  readonly traced: Traced;
  readonly plan: Plan;
}

/**
 * Traces `fn`, checks the caps cover every primitive, applies the remat policy, fuses and plans: the
 * whole of compilation that needs no backend (`rankfuse inspect`, memory predictions, tests).
 */
export function plan<const A extends readonly unknown[]>(
  fn: (...args: TensorsOf<A>) => unknown,
  opts: PlanOptions<A>,
): E.Either<RankfuseError, Planned> {
  const { caps, target = "target" } = opts;
  return pipe(
    trace(fn, opts.args, opts.dims),
    E.flatMap((traced) => {
      const missing = caps && traced.graph.eqns.find((e) => !caps.prims.has(e.prim));
      return missing
        ? E.left<RankfuseError>({
            tag: "UnsupportedOp",
            op: missing.prim,
            backend: target,
            message: `op ${missing.prim} has no kernel on the ${target} backend`,
          })
        : E.right(traced);
    }),
    E.flatMap((traced) => {
      const fusion = caps ? chainCapsOf(caps, opts.fusion ?? true) : undefined;
      return E.map((p: Plan) => ({ traced, plan: p }))(
        planWithRemat(traced.graph, opts.remat, caps?.float64 ? 8 : 4, fusion),
      );
    }),
  );
}
