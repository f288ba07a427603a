/**
 * One whole training step as a pure function of the training state, traced into one graph so the
 * planner fuses and schedules the optimizer with the rest (JAX's `jit` of the update):
 *
 *   (trainable, frozen, m, v, decay, stepSize, sqrtBc2, ids, targets)
 *     → [loss, gradNorm, p′ (updated), m′ (updated), v′ (updated), g (clipped, of the params a scheme updates
 *        on the host), check]
 *
 * The update is AdamW with decoupled weight decay, in PyTorch's order, after global-norm clipping:
 *   g ← g·min(1, clip/(‖g‖ + 1e-6))               (when clip > 0)
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p·decay − stepSize·m / (√v / sqrtBc2 + ε)   (decay = 1 − lr·wd on params of rank ≥ 2, else 1)
 * where stepSize = lr/(1−β1ᵗ) and sqrtBc2 = √(1−β2ᵗ) come from the host each step (three float32
 * scalars: the warmup + cosine schedule and the bias corrections are functions of the step alone).
 * It runs in float32 on every backend, as `torch.optim.AdamW` does on float32 params.
 * `check` is the sum of every updated param: finite when they all are (and far from float32's range,
 * as trained params are), ±∞ or NaN when one is not, so the host can refuse an update that overflowed the
 * params though the loss and the norm were finite. A reduction of outputs the step writes anyway: no
 * temporary the size of a param.
 */
import { spec, type TensorSpec } from "../dsl/spec.ts";
import type { Tensor } from "../dsl/trace.ts";
import * as op from "../dsl/ops.ts";
import { valueAndGrad } from "../dsl/autodiff.ts";
import { unflatten } from "../ir/tree.ts";
import { specLeaves } from "../models/params.ts";
import type { LanguageModel } from "../models/model.ts";
import { dim } from "../ir/dim.ts";
import * as E from "fp-ts/lib/Either.js";
import { plan } from "../run/plan.ts";
import type { Plan } from "../passes/plan.ts";
import type { BackendCaps } from "../ir/backend.ts";
import type { RankfuseError } from "../ir/errors.ts";

/** AdamW's constants: betas and ε (as torch's defaults) and the clip threshold (0: no clipping). */
export interface AdamConstants {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly clip: number;
}

/** torch.optim.AdamW's betas and ε. */
export const ADAM_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

/**
 * Which params a step updates. Per param (layout order): `frozen` (the model's: no gradient at all),
 * `skip` (AdamW leaves it and its moments alone at this step: a scheme owns or freezes it), `hostGrad`
 * (its clipped gradient goes to the host, for a scheme's own update).
 */
export interface StepRoles {
  readonly frozen: readonly boolean[];
  readonly skip: readonly boolean[];
  readonly hostGrad: readonly boolean[];
}

/** Whether AdamW decays a param: rank ≥ 2 (matrices, embeddings, factors), not norm gains or biases. */
export const decays = (shape: readonly number[]): boolean => shape.length >= 2;

/** The input specs of the step function, in its argument order. */
export function updateStepSpecs(model: LanguageModel, roles: StepRoles, batch: number, seq: number) {
  const leaves = specLeaves(model.layout) as TensorSpec[];
  const trainable = leaves.filter((_, i) => !roles.frozen[i]);
  const scalar = spec([]);
  const [b, t] = [dim("b", batch), dim("t", seq)];
  return [
    trainable,
    leaves.filter((_, i) => roles.frozen[i]),
    trainable,
    trainable,
    scalar,
    scalar,
    scalar,
    spec([b, t], "int32"),
    spec([b, t], "int32"),
  ] as const;
}

/**
 * A name for each tensor input of the step function, in updateStepSpecs' order: params by their layout
 * path (`blocks.0.q.A`), AdamW's moments as `m.<path>` and `v.<path>`, then the three scalars and the batch.
 */
export function updateStepInputNames(model: LanguageModel, roles: Pick<StepRoles, "frozen">): string[] {
  const names = model.layout.names;
  const trainable = names.filter((_, i) => !roles.frozen[i]);
  return [
    ...trainable,
    ...names.filter((_, i) => roles.frozen[i]),
    ...trainable.map((n) => `m.${n}`),
    ...trainable.map((n) => `v.${n}`),
    "decay",
    "stepSize",
    "sqrtBc2",
    "ids",
    "targets",
  ];
}

/** min(1, x) from the primitives (max(−1, −x) negated). */
const atMostOne = (x: Tensor): Tensor => op.neg(op.maximum(op.neg(x), -1));

/**
 * The step function for `roles`: the loss and gradients of the trainable params, the global norm and
 * clipping, and AdamW on every trainable param that `skip` does not exclude.
 */
export function updateStep(model: LanguageModel, roles: StepRoles, c: AdamConstants) {
  const shapes = model.layout.shapes;
  const trainableIdx = shapes.flatMap((_, i) => (roles.frozen[i] ? [] : [i]));
  return (
    tr: Tensor[],
    fr: Tensor[],
    m: Tensor[],
    v: Tensor[],
    decay: Tensor,
    stepSize: Tensor,
    sqrtBc2: Tensor,
    ids: Tensor,
    targets: Tensor,
  ) => {
    const [loss, grads] = valueAndGrad((t: Tensor[]) => {
      let [i, j] = [0, 0];
      const all = roles.frozen.map((f) => (f ? fr[j++]! : t[i++]!));
      return model.loss(unflatten(model.layout.def, all), ids, targets);
    })(tr);
    // one whole-tensor sum per gradient: native's reduction keeps the norm within 1e-7 of a float64 sum
    // (summing rows first in float32 was 1e-6 off, enough to move Fira's norm-growth limiter)
    const squares = grads.map((g) => op.sum(op.mul(g, g)));
    const norm = op.sqrt(squares.reduce((a, b) => op.add(a, b)));
    const scale = c.clip > 0 ? atMostOne(op.rdiv(c.clip, op.add(norm, 1e-6))) : undefined;
    const clipped = grads.map((g) => (scale ? op.mul(g, scale) : g));
    const next = { p: [] as Tensor[], m: [] as Tensor[], v: [] as Tensor[], hostGrads: [] as Tensor[] };
    trainableIdx.forEach((pi, k) => {
      const g = clipped[k]!;
      if (roles.hostGrad[pi]) next.hostGrads.push(g);
      if (roles.skip[pi]) return;
      const m1 = op.add(op.mul(m[k]!, c.beta1), op.mul(g, 1 - c.beta1));
      const v1 = op.add(op.mul(v[k]!, c.beta2), op.mul(op.mul(g, g), 1 - c.beta2));
      const denom = op.add(op.div(op.sqrt(v1), sqrtBc2), c.eps);
      const p = decays(shapes[pi]!) ? op.mul(tr[k]!, decay) : tr[k]!;
      next.p.push(op.sub(p, op.div(op.mul(m1, stepSize), denom)));
      next.m.push(m1);
      next.v.push(v1);
    });
    // last, so the other outputs keep their places; a scalar 0 when no param is updated
    const checks = next.p.map((p) => op.sum(p));
    const check = checks.length ? checks.reduce((a, b) => op.add(a, b)) : op.mul(norm, 0);
    return [loss, norm, next.p, next.m, next.v, next.hostGrads, check] as const;
  };
}

/**
 * The plan of the whole training step (loss, gradients, clipping and AdamW, every trainable param
 * updated) without a backend, for `rankfuse inspect`: float32 and unfused unless `caps` says otherwise,
 * under the model's remat policy.
 */
export function planUpdateStep(
  model: LanguageModel,
  batch: number,
  seq: number,
  o: { readonly caps?: BackendCaps; readonly clip?: number } = {},
): E.Either<RankfuseError, Plan> {
  const frozen = model.frozen ?? model.layout.names.map(() => false);
  const roles: StepRoles = { frozen, skip: frozen, hostGrad: frozen.map(() => false) };
  return E.map((p: { plan: Plan }) => p.plan)(
    plan(updateStep(model, roles, { ...ADAM_DEFAULTS, clip: o.clip ?? 0.5 }), {
      args: updateStepSpecs(model, roles, batch, seq),
      remat: model.remat,
      caps: o.caps,
    }),
  );
}
