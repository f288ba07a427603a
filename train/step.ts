import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import { dim } from "../dsl/dim.ts";
import { spec } from "../dsl/spec.ts";
import { compile, trace } from "../dsl/compile.ts";
import type { Plan } from "../fusion/plan.ts";
import { planWithRemat } from "../fusion/rematPlan.ts";
import { valueAndGrad } from "../dsl/autodiff.ts";
import { flatten, unflatten } from "../dsl/tree.ts";
import type { RankfuseError } from "../dsl/errors.ts";
import type { Tensor } from "../dsl/trace.ts";
import type { Backend } from "../backends/backend.ts";
import type { RunStats } from "../backends/executor.ts";
import type { LanguageModel } from "../models/model.ts";

/** A compiled training step: flat params and a batch in, loss and flat gradients out. */
export interface TrainStep {
  readonly plan: Plan;
  run(params: readonly Float32Array[], ids: Int32Array, targets: Int32Array): Promise<E.Either<RankfuseError, { loss: number; grads: Float32Array[]; stats: RunStats }>>;
}

/** A compiled evaluation: the mean loss of a batch. */
export interface EvalStep {
  readonly plan: Plan;
  run(params: readonly Float32Array[], ids: Int32Array, targets: Int32Array): Promise<E.Either<RankfuseError, number>>;
}

const batchSpecs = (batch: number, seq: number) => {
  const [b, t] = [dim("b", batch), dim("t", seq)];
  return [spec([b, t], "int32"), spec([b, t], "int32")] as const;
};

const asTree = (model: LanguageModel, params: readonly Float32Array[]) => unflatten(model.layout.def, params);
const toF32 = (a: Float32Array | Float64Array) => (a instanceof Float32Array ? a : Float32Array.from(a));

/** The function a training step computes: (params, ids, targets) -> [loss, grads]. */
const lossAndGrad = (model: LanguageModel) => (p: unknown, x: Tensor, y: Tensor) => valueAndGrad((q: unknown) => model.loss(q, x, y))(p);

/** The plan of one training step at float32, without a backend (for `rankfuse inspect`). */
export function planTrainStep(model: LanguageModel, batch: number, seq: number): E.Either<RankfuseError, Plan> {
  return pipe(
    trace(lossAndGrad(model), [model.layout.specs, ...batchSpecs(batch, seq)] as const),
    E.flatMap((t) => planWithRemat(t.graph, model.remat, 4)),
  );
}

export function compileTrainStep(model: LanguageModel, backend: Backend<any>, batch: number, seq: number): E.Either<RankfuseError, TrainStep> {
  const [ids, targets] = batchSpecs(batch, seq);
  return pipe(
    compile(lossAndGrad(model), { args: [model.layout.specs, ids, targets] as const, backend, remat: model.remat }),
    E.map((c) => ({
      plan: c.plan,
      run: async (params, x, y) =>
        pipe(
          await c.run(asTree(model, params) as never, x, y),
          E.map(({ out, stats }) => {
            const [loss, grads] = out as unknown as [Float32Array, unknown];
            return { loss: loss[0]!, grads: flatten(grads, (g): g is Float32Array => ArrayBuffer.isView(g)).leaves.map(toF32), stats };
          }),
        ),
    })),
  );
}

export function compileEvalStep(model: LanguageModel, backend: Backend<any>, batch: number, seq: number): E.Either<RankfuseError, EvalStep> {
  const [ids, targets] = batchSpecs(batch, seq);
  return pipe(
    compile((p: unknown, x: Tensor, y: Tensor) => model.loss(p, x, y), { args: [model.layout.specs, ids, targets] as const, backend }),
    E.map((c) => ({
      plan: c.plan,
      run: async (params, x, y) => pipe(await c.run(asTree(model, params) as never, x, y), E.map(({ out }) => (out as unknown as Float32Array)[0]!)),
    })),
  );
}
