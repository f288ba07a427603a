import { anon, dim, type Dim } from "../ir/dim.ts";
import type { Tensor } from "../dsl/trace.ts";
import * as op from "../dsl/ops.ts";
import { checkpointName } from "../dsl/trace.ts";
import { BLOCK_INPUT, HEAD_LOGITS } from "../passes/remat.ts";
import type { ModelConfig } from "./config.ts";
import type { Projection, WeightKind, Weights } from "./projection.ts";

export type { Projection, WeightKind, Weights } from "./projection.ts";

/**
 * The pre-norm decoder shared by every method: RMSNorm → causal multi-head attention with RoPE →
 * residual; RMSNorm → gated MLP → residual; final RMSNorm; untied LM head; no biases. A method only
 * says how a projection maps x (dense, CoLA, ...; a `Projection` over its `WeightKind` K) and whether
 * the MLP gate gets a SiLU. Activations are [b, t, d] for any batch and sequence dims B and T.
 */

/** The decoder's model width, as `declare` names it. */
export type DModel = Dim<"d">;
/** The decoder's MLP width. */
export type DFF = Dim<"ff">;
/** The vocabulary axis of the embedding table and the logits. */
export type Vocab = Dim<"vocab">;

/** One decoder block's params: norms and the seven projections' weights (of kind K). */
export interface BlockParams<K extends WeightKind> {
  readonly attnNorm: Tensor<readonly [DModel]>;
  readonly q: Weights<K, DModel, DModel>;
  readonly k: Weights<K, DModel, DModel>;
  readonly v: Weights<K, DModel, DModel>;
  readonly o: Weights<K, DModel, DModel>;
  readonly mlpNorm: Tensor<readonly [DModel]>;
  readonly gate: Weights<K, DModel, DFF>;
  readonly up: Weights<K, DModel, DFF>;
  readonly down: Weights<K, DFF, DModel>;
}

/** The decoder's params: embedding, blocks, final norm and LM head. */
export interface DecoderParams<K extends WeightKind> {
  readonly embed: Tensor<readonly [Vocab, DModel]>;
  readonly blocks: readonly BlockParams<K>[];
  readonly finalNorm: Tensor<readonly [DModel]>;
  readonly head: Tensor<readonly [DModel, Vocab]>;
}

/** How a method's decoder differs: its projection, and the MLP gate's SiLU. */
export interface DecoderOptions<K extends WeightKind> {
  readonly proj: Projection<K>;
  /** Whether the MLP applies SiLU to the gate (SwiGLU); CoLA's only_lr_act turns it off. */
  readonly gateSilu: boolean;
}

/** Hidden states [b, t, d]. */
type Hidden<B extends Dim, T extends Dim> = Tensor<readonly [B, T, DModel]>;

/** Causal multi-head self-attention with RoPE over x [b, t, d], through the method's projections. */
export function attention<K extends WeightKind, B extends Dim, T extends Dim>(
  cfg: ModelConfig,
  x: Hidden<B, T>,
  p: BlockParams<K>,
  proj: Projection<K>,
): Hidden<B, T> {
  const [b, t] = x.dims;
  const h = dim("h", cfg.heads),
    dh = dim("dh", cfg.d / cfg.heads);
  const heads = (y: Hidden<B, T>) => op.transpose(op.reshape(y, [b, t, h, dh]), [0, 2, 1, 3]); // [b, h, t, dh]
  // 1/sqrt(dh) scales q ([b, h, t, dh]) rather than the scores ([b, h, t, t]): the same product, fewer multiplies
  const q = op.mul(op.rope(heads(proj.apply(x, p.q)), cfg.ropeBase), 1 / Math.sqrt(dh.size));
  const k = op.rope(heads(proj.apply(x, p.k)), cfg.ropeBase);
  const v = heads(proj.apply(x, p.v));
  const scores = op.matmulNT(q, k); // [b, h, t, t]
  const att = op.matmul(op.softmax(scores, true), v); // [b, h, t, dh]
  const merged = op.reshape(op.transpose(att, [0, 2, 1, 3]), [b, t, dim("d", cfg.d)]);
  return proj.apply(merged, p.o);
}

/** The gated MLP down(act(gate(x)) · up(x)) through the method's projections. */
export function mlp<K extends WeightKind, B extends Dim, T extends Dim>(
  x: Hidden<B, T>,
  p: BlockParams<K>,
  opts: DecoderOptions<K>,
): Hidden<B, T> {
  const g = opts.proj.apply(x, p.gate);
  return opts.proj.apply(op.mul(opts.gateSilu ? op.silu(g) : g, opts.proj.apply(x, p.up)), p.down);
}

/** Token ids [b, t] -> logits [b, t, vocab]. */
export function decoderLogits<K extends WeightKind, B extends Dim, T extends Dim>(
  cfg: ModelConfig,
  params: DecoderParams<K>,
  ids: Tensor<readonly [B, T]>,
  opts: DecoderOptions<K>,
): Tensor<readonly [B, T, Vocab]> {
  let x = op.gather(params.embed, ids);
  // the residual stream entering each half-block (and the head) is what remat policies keep
  for (const p of params.blocks) {
    x = checkpointName(x, BLOCK_INPUT);
    x = op.add(x, attention(cfg, op.rmsnorm(x, p.attnNorm, cfg.normEps), p, opts.proj));
    x = checkpointName(x, BLOCK_INPUT);
    x = op.add(x, mlp(op.rmsnorm(x, p.mlpNorm, cfg.normEps), p, opts));
  }
  x = checkpointName(x, BLOCK_INPUT);
  return checkpointName(op.matmul(op.rmsnorm(x, params.finalNorm, cfg.normEps), params.head), HEAD_LOGITS);
}

/** Mean next-token cross-entropy (nats per token) of ids [b, t] against targets [b, t]. */
export function decoderLoss<K extends WeightKind, B extends Dim, T extends Dim>(
  cfg: ModelConfig,
  params: DecoderParams<K>,
  ids: Tensor<readonly [B, T]>,
  targets: Tensor<readonly [B, T]>,
  opts: DecoderOptions<K>,
): Tensor<readonly []> {
  return op.mean(op.crossEntropy(decoderLogits(cfg, params, ids, opts), targets));
}

export { anon };
