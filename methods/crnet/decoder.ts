import type { Dim, Shape } from "../../ir/dim.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { checkpointName } from "../../dsl/trace.ts";
import { BLOCK_INPUT } from "../../passes/remat.ts";
import { CRNET_X, CRNET_XA, crnetY } from "./remat.ts";
import type { ModelConfig } from "../../models/config.ts";
import type { DenseWeights, Projection, WeightKind, Weights } from "../../models/projection.ts";
import { attention, mlp, type BlockParams, type DecoderParams, type Vocab } from "../../models/transformer.ts";

/**
 * CR-Net's decoder (PAPERS.md): the shared pre-norm LLaMA block, but every projection P of layer ℓ ≥ 2
 * adds a low-rank term to the previous layer's output of the same projection,
 *   Y₁ = X₁·W₁,   Y_ℓ = s(β_ℓ)·Y_{ℓ−1} + X_ℓ·A_ℓ·B_ℓ,   s(β) = sign(β)·(|β| + 1e-6).
 * The attention and MLP wiring is transformer.ts's; a projection that remembers each P's last Y
 * threads the recurrence through the layers.
 */

export const PROJECTIONS = ["q", "k", "v", "o", "gate", "up", "down"] as const;
export type ProjName = (typeof PROJECTIONS)[number];

/** Layer ℓ ≥ 2's params of one projection I → O: the rank-r factors and the [1]-shaped β. */
export interface CrnetLowRank<I extends Dim = Dim, O extends Dim = Dim> {
  readonly A: Tensor<readonly [I, Dim<"r">]>;
  readonly B: Tensor<readonly [Dim<"r">, O]>;
  readonly beta: Tensor<readonly [Dim<"_">]>;
}
/** The low-rank residual weights of every map of a layer ℓ ≥ 2. */
export interface CrnetLowRankWeights extends WeightKind {
  readonly weights: CrnetLowRank<this["in"], this["out"]>;
}
/** Layer 1 is dense; later layers are low-rank residuals. */
export type CrnetBlock = BlockParams<DenseWeights> | BlockParams<CrnetLowRankWeights>;
/** The decoder's params with CR-Net's blocks. */
export interface CrnetParams extends Omit<DecoderParams<DenseWeights>, "blocks"> {
  readonly blocks: readonly CrnetBlock[];
}

/** The ε that keeps s(β) away from 0 (so the recurrence stays invertible). */
export const CRNET_EPS = 1e-6;

/**
 * s(β) = sign(β)·(|β| + ε) = β + ε·sign(β), with sign(0) taken as +1 (so s(0) = ε, not 0: invertible).
 * sign is built from `equal`, which has no gradient, so ds/dβ = 1 as in the paper's autograd.
 */
export function crnetScale<S extends Shape>(beta: Tensor<S>): Tensor<S> {
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

/** One map's weights, dense or low-rank, tagged with which projection P they are. */
interface Tagged<I extends Dim, O extends Dim> {
  readonly proj: ProjName;
  readonly w: Tensor<readonly [I, O]> | CrnetLowRank<I, O>;
}
interface TaggedWeights extends WeightKind {
  readonly weights: Tagged<this["in"], this["out"]>;
}
const tagged = <I extends Dim, O extends Dim>(proj: ProjName, w: Tagged<I, O>["w"]): Tagged<I, O> => ({ proj, w });

/** One block's projections, tagged with which P they are, for the recurrent projection below. */
const tag = (p: CrnetBlock): BlockParams<TaggedWeights> => ({
  attnNorm: p.attnNorm,
  mlpNorm: p.mlpNorm,
  q: tagged("q", p.q),
  k: tagged("k", p.k),
  v: tagged("v", p.v),
  o: tagged("o", p.o),
  gate: tagged("gate", p.gate),
  up: tagged("up", p.up),
  down: tagged("down", p.down),
});

/** A projection that computes Y_ℓ from x and the remembered Y_{ℓ−1} of the same P, and remembers Y_ℓ. */
function recurrentProjection(layer: () => number): Projection<TaggedWeights> {
  const prev = new Map<ProjName, Tensor>();
  return {
    apply: <B extends Shape, N extends Dim, I extends Dim, O extends Dim>(
      x: Tensor<readonly [...B, N, I]>,
      { proj, w }: Weights<TaggedWeights, I, O>,
    ): Tensor<readonly [...B, N, O]> => {
      nameInput(x);
      // Y_{ℓ−1} of the same P: the decoder applies P to the same rows in every layer, so it has this call's
      // leading dims and output width (a value kept in a map is beyond what the types follow)
      const before = prev.get(proj) as Tensor<readonly [...B, N, O]> | undefined;
      let y: Tensor<readonly [...B, N, O]>;
      if (!("A" in w)) {
        if (before) throw new Error(`crnet: a dense projection ${proj} after layer 1`);
        y = op.matmul(x, w);
      } else {
        if (!before) throw new Error(`crnet: layer 1's ${proj} must be dense`);
        const xa = checkpointName(op.matmul(x, w.A), CRNET_XA);
        y = op.add(op.mul(before, crnetScale(w.beta)), op.matmul(xa, w.B));
      }
      y = checkpointName(y, crnetY(layer()));
      prev.set(proj, y);
      return y;
    },
  };
}

/** Token ids [b, t] -> logits [b, t, vocab]. */
export function crnetLogits<B extends Dim, T extends Dim>(
  cfg: ModelConfig,
  params: CrnetParams,
  ids: Tensor<readonly [B, T]>,
): Tensor<readonly [B, T, Vocab]> {
  let layer = 0;
  const proj = recurrentProjection(() => layer);
  const opts = { proj, gateSilu: true };
  let x = op.gather(params.embed, ids);
  for (const block of params.blocks) {
    layer++;
    const p = tag(block);
    x = checkpointName(x, BLOCK_INPUT);
    x = op.add(x, attention(cfg, op.rmsnorm(x, p.attnNorm, cfg.normEps), p, proj));
    x = checkpointName(x, BLOCK_INPUT);
    x = op.add(x, mlp(op.rmsnorm(x, p.mlpNorm, cfg.normEps), p, opts));
  }
  x = checkpointName(x, BLOCK_INPUT);
  return op.matmul(op.rmsnorm(x, params.finalNorm, cfg.normEps), params.head);
}

/** Mean next-token cross-entropy of ids [b, t] against targets [b, t]. */
export function crnetLoss<B extends Dim, T extends Dim>(
  cfg: ModelConfig,
  params: CrnetParams,
  ids: Tensor<readonly [B, T]>,
  targets: Tensor<readonly [B, T]>,
): Tensor<readonly []> {
  return op.mean(op.crossEntropy(crnetLogits(cfg, params, ids), targets));
}
