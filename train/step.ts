import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import { dim } from "../ir/dim.ts";
import { spec } from "../dsl/spec.ts";
import { compile } from "../run/compile.ts";
import { plan } from "../run/plan.ts";
import type { Plan } from "../passes/plan.ts";
import type { RematPolicy } from "../passes/remat.ts";
import type { BackendCaps } from "../ir/backend.ts";
import { valueAndGrad } from "../dsl/autodiff.ts";
import { unflatten } from "../ir/tree.ts";
import { specLeaves } from "../models/params.ts";
import type { RankfuseError } from "../ir/errors.ts";
import type { Tensor } from "../dsl/trace.ts";
import type { Backend } from "../ir/backend.ts";
import type { RunStats } from "../run/executor.ts";
import type { LanguageModel } from "../models/model.ts";

/** A compiled training step: flat params and a batch in, loss and flat gradients out. */
export interface TrainStep {
  readonly plan: Plan;
  run(
    params: readonly Float32Array[],
    ids: Int32Array,
    targets: Int32Array,
  ): Promise<E.Either<RankfuseError, { loss: number; grads: Float32Array[]; stats: RunStats }>>;
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

/**
 * The function a training step computes: (trainable, frozen, ids, targets) -> [loss, grads of trainable].
 * Params are split by `model.frozen` so no gradient is ever computed for a frozen one (ReLoRA's W).
 */
const lossAndGrad = (model: LanguageModel) => (tr: Tensor[], fr: Tensor[], x: Tensor, y: Tensor) =>
  valueAndGrad((t: Tensor[]) => model.loss(unflatten(model.layout.def, mergeByMask(frozenMask(model), t, fr)), x, y))(
    tr,
  );

/** The model's frozen mask, all false when it has none. */
export const frozenMask = (model: LanguageModel): readonly boolean[] =>
  model.frozen ?? model.layout.names.map(() => false);

/** Splits a flat list into (trainable, frozen) by mask, keeping order within each. */
export function splitByMask<T>(mask: readonly boolean[], xs: readonly T[]): [T[], T[]] {
  const tr: T[] = [],
    fr: T[] = [];
  xs.forEach((x, i) => (mask[i] ? fr : tr).push(x));
  return [tr, fr];
}

/** The inverse of splitByMask. */
export function mergeByMask<T>(mask: readonly boolean[], tr: readonly T[], fr: readonly T[]): T[] {
  let [i, j] = [0, 0];
  return mask.map((m) => (m ? fr[j++]! : tr[i++]!));
}

const paramSpecs = (model: LanguageModel) => splitByMask(frozenMask(model), specLeaves(model.layout));

/**
 * The plan of one training step without a backend (for `rankfuse inspect`): float32 and unfused unless
 * `caps` says otherwise, under the model's remat policy unless `remat` is given (undefined: store all).
 */
export function planTrainStep(
  model: LanguageModel,
  batch: number,
  seq: number,
  o: { readonly remat?: RematPolicy; readonly caps?: BackendCaps } = {},
): E.Either<RankfuseError, Plan> {
  const remat = "remat" in o ? o.remat : model.remat;
  return E.map((p: { plan: Plan }) => p.plan)(
    plan(lossAndGrad(model), { args: [...paramSpecs(model), ...batchSpecs(batch, seq)] as const, remat, caps: o.caps }),
  );
}

/** The compiled training step of a model: loss and gradients of the trainable params for one batch. */
export function compileTrainStep(
  model: LanguageModel,
  backend: Backend<any>,
  batch: number,
  seq: number,
): E.Either<RankfuseError, TrainStep> {
  const [ids, targets] = batchSpecs(batch, seq);
  const mask = frozenMask(model);
  return pipe(
    compile(lossAndGrad(model), { args: [...paramSpecs(model), ids, targets] as const, backend, remat: model.remat }),
    E.map((c) => ({
      plan: c.plan,
      run: async (params, x, y) =>
        pipe(
          await c.run(...(splitByMask(mask, params) as [never, never]), x, y),
          E.map(({ out, stats }) => {
            const [loss, grads] = out as unknown as [Float32Array, (Float32Array | Float64Array)[]];
            // a frozen param's gradient is never computed: an empty array stands in its place
            return {
              loss: loss[0]!,
              grads: mergeByMask(
                mask,
                grads.map(toF32),
                mask.filter(Boolean).map(() => new Float32Array(0)),
              ),
              stats,
            };
          }),
        ),
    })),
  );
}

/** The compiled evaluation step of a model: the loss of one batch. */
export function compileEvalStep(
  model: LanguageModel,
  backend: Backend<any>,
  batch: number,
  seq: number,
): E.Either<RankfuseError, EvalStep> {
  const [ids, targets] = batchSpecs(batch, seq);
  return pipe(
    compile((p: unknown, x: Tensor, y: Tensor) => model.loss(p, x, y), {
      args: [model.layout.specs, ids, targets] as const,
      backend,
    }),
    E.map((c) => ({
      plan: c.plan,
      run: async (params, x, y) =>
        pipe(
          await c.run(asTree(model, params) as never, x, y),
          E.map(({ out }) => (out as unknown as Float32Array)[0]!),
        ),
    })),
  );
}
