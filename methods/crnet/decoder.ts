import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { checkpointName } from "../../dsl/trace.ts";
import { BLOCK_INPUT } from "../../passes/remat.ts";
import { CRNET_X, CRNET_XA, crnetY } from "./remat.ts";
import type { ModelConfig } from "../../models/config.ts";
import { attention, mlp, type BlockParams, type Projection } from "../../models/transformer.ts";

/**
 * CR-Net's decoder (PAPERS.md): the shared pre-norm LLaMA block, but every projection P of layer ℓ ≥ 2
 * adds a low-rank term to the previous layer's output of the same projection,
 *   Y₁ = X₁·W₁,   Y_ℓ = s(β_ℓ)·Y_{ℓ−1} + X_ℓ·A_ℓ·B_ℓ,   s(β) = sign(β)·(|β| + 1e-6).
 * The attention and MLP wiring is transformer.ts's; a projection that remembers each P's last Y
 * threads the recurrence through the layers.
 */

export const PROJECTIONS = ["q", "k", "v", "o", "gate", "up", "down"] as const;
export type ProjName = (typeof PROJECTIONS)[number];

/** Layer ℓ ≥ 2's params of one projection: the rank-r factors and the [1]-shaped β. */
export interface CrnetLowRank {
  readonly A: Tensor;
  readonly B: Tensor;
  readonly beta: Tensor;
}
/** Layer 1 is dense; later layers are low-rank residuals. */
export type CrnetBlock = BlockParams<Tensor> | BlockParams<CrnetLowRank>;
export interface CrnetParams {
  readonly embed: Tensor;
  readonly blocks: readonly CrnetBlock[];
  readonly finalNorm: Tensor;
  readonly head: Tensor;
}

/** The ε that keeps s(β) away from 0 (so the recurrence stays invertible). */
export const CRNET_EPS = 1e-6;

/**
 * s(β) = sign(β)·(|β| + ε) = β + ε·sign(β), with sign(0) taken as +1 (so s(0) = ε, not 0: invertible).
 * sign is built from `equal`, which has no gradient, so ds/dβ = 1 as in the paper's autograd.
 */
export function crnetScale(beta: Tensor): Tensor {
  const positive = op.equal(op.maximum(beta, 0), beta); // 1 where β ≥ 0, else 0
  return op.add(beta, op.sub(op.mul(positive, 2 * CRNET_EPS), CRNET_EPS));
}
/** The same s(β) on a host number (tests, the inversion on host data). */
export const crnetScaleHost = (beta: number): number => (beta >= 0 ? beta + CRNET_EPS : beta - CRNET_EPS);

/** Names x's value for the CR-Net policy; a reshape is always recomputed, so the name goes on what it reshapes. */
function nameInput(x: Tensor): Tensor {
  let v = x.v;
  for (;;) {
    const e = x.trace.producer(v);
    if (!e) return x; // a graph input: lives anyway
    if (e.prim !== "reshape") {
      if (e.meta.name === undefined) e.meta = { ...e.meta, name: CRNET_X };
      return x;
    }
    v = e.inputs[0]!;
  }
}

type Tagged = { readonly proj: ProjName; readonly w: Tensor | CrnetLowRank };

/** One block's projections, tagged with which P they are, for the recurrent projection below. */
const tag = (p: CrnetBlock): BlockParams<Tagged> => {
  const t = (k: ProjName): Tagged => ({ proj: k, w: p[k] as Tensor | CrnetLowRank });
  return {
    attnNorm: p.attnNorm,
    mlpNorm: p.mlpNorm,
    q: t("q"),
    k: t("k"),
    v: t("v"),
    o: t("o"),
    gate: t("gate"),
    up: t("up"),
    down: t("down"),
  };
};

/** A projection that computes Y_ℓ from x and the remembered Y_{ℓ−1} of the same P, and remembers Y_ℓ. */
function recurrentProjection(layer: () => number): Projection<Tagged> {
  const prev = new Map<ProjName, Tensor>();
  return {
    apply: (x, { proj, w }) => {
      nameInput(x);
      const before = prev.get(proj);
      let y: Tensor;
      if (!("A" in w)) {
        if (before) throw new Error(`crnet: a dense projection ${proj} after layer 1`);
        y = op.matmul(x, w as never);
      } else {
        if (!before) throw new Error(`crnet: layer 1's ${proj} must be dense`);
        const xa = checkpointName(op.matmul(x, w.A as never), CRNET_XA);
        y = op.add(op.mul(before, crnetScale(w.beta) as never), op.matmul(xa, w.B as never) as never);
      }
      y = checkpointName(y, crnetY(layer()));
      prev.set(proj, y);
      return y;
    },
  };
}

/** Token ids [b, t] -> logits [b, t, vocab]. */
export function crnetLogits(cfg: ModelConfig, params: CrnetParams, ids: Tensor): Tensor {
  let layer = 0;
  const proj = recurrentProjection(() => layer);
  const opts = { proj, gateSilu: true };
  let x: Tensor = op.gather(params.embed as never, ids);
  for (const block of params.blocks) {
    layer++;
    const p = tag(block);
    x = checkpointName(x, BLOCK_INPUT);
    x = op.add(x, attention(cfg, op.rmsnorm(x, p.attnNorm as never, cfg.normEps), p, proj));
    x = checkpointName(x, BLOCK_INPUT);
    x = op.add(x, mlp(op.rmsnorm(x, p.mlpNorm as never, cfg.normEps), p, opts));
  }
  x = checkpointName(x, BLOCK_INPUT);
  return op.matmul(op.rmsnorm(x, params.finalNorm as never, cfg.normEps), params.head as never);
}

export function crnetLoss(cfg: ModelConfig, params: CrnetParams, ids: Tensor, targets: Tensor): Tensor<readonly []> {
  return op.mean(op.crossEntropy(crnetLogits(cfg, params, ids) as never, targets)) as Tensor<readonly []>;
}
