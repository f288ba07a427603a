import { anon, dim, type Dim } from "../ir/dim.ts";
import type { Tensor } from "../dsl/trace.ts";
import * as op from "../dsl/ops.ts";
import { checkpointName } from "../dsl/trace.ts";
import { BLOCK_INPUT, HEAD_LOGITS } from "../passes/remat.ts";
import type { ModelConfig } from "./config.ts";

/**
 * The pre-norm decoder shared by every method: RMSNorm → causal multi-head attention with RoPE →
 * residual; RMSNorm → gated MLP → residual; final RMSNorm; untied LM head; no biases. A method only
 * says how a projection maps x (dense, CoLA, ...) and whether the MLP gate gets a SiLU.
 */
export interface Projection<W> {
  apply(x: Tensor, w: W): Tensor;
}

/** One decoder block's params: norms and the seven projections (W is the projection's weight type). */
export interface BlockParams<W> {
  readonly attnNorm: Tensor;
  readonly q: W;
  readonly k: W;
  readonly v: W;
  readonly o: W;
  readonly mlpNorm: Tensor;
  readonly gate: W;
  readonly up: W;
  readonly down: W;
}

/** The decoder's params: embedding, blocks, final norm and LM head. */
export interface DecoderParams<W> {
  readonly embed: Tensor;
  readonly blocks: readonly BlockParams<W>[];
  readonly finalNorm: Tensor;
  readonly head: Tensor;
}

/** How a method's decoder differs: its projection, and the MLP gate's SiLU. */
export interface DecoderOptions<W> {
  readonly proj: Projection<W>;
  /** Whether the MLP applies SiLU to the gate (SwiGLU); CoLA's only_lr_act turns it off. */
  readonly gateSilu: boolean;
}

/** Causal multi-head self-attention with RoPE over x [b, t, d], through the method's projections. */
export function attention<W>(cfg: ModelConfig, x: Tensor, p: BlockParams<W>, proj: Projection<W>): Tensor {
  const [b, t] = x.dims as readonly Dim[];
  const h = dim("h", cfg.heads),
    dh = dim("dh", cfg.d / cfg.heads);
  const heads = (y: Tensor) => op.transpose(op.reshape(y, [b!, t!, h, dh]), [0, 2, 1, 3]); // [b, h, t, dh]
  // 1/sqrt(dh) scales q ([b, h, t, dh]) rather than the scores ([b, h, t, t]): the same product, fewer multiplies
  const q = op.mul(op.rope(heads(proj.apply(x, p.q)), cfg.ropeBase), 1 / Math.sqrt(dh.size));
  const k = op.rope(heads(proj.apply(x, p.k)), cfg.ropeBase);
  const v = heads(proj.apply(x, p.v));
  const scores = op.matmulNT(q, k);
  const att = op.matmul(op.softmax(scores, true), v as never); // [b, h, t, dh]
  const merged = op.reshape(op.transpose(att, [0, 2, 1, 3]), [b!, t!, dim("d", cfg.d)]);
  return proj.apply(merged, p.o);
}

/** The gated MLP down(act(gate(x)) · up(x)) through the method's projections. */
export function mlp<W>(x: Tensor, p: BlockParams<W>, opts: DecoderOptions<W>): Tensor {
  const g = opts.proj.apply(x, p.gate);
  return opts.proj.apply(op.mul(opts.gateSilu ? op.silu(g) : g, opts.proj.apply(x, p.up)), p.down);
}

/** Token ids [b, t] -> logits [b, t, vocab]. */
export function decoderLogits<W>(
  cfg: ModelConfig,
  params: DecoderParams<W>,
  ids: Tensor,
  opts: DecoderOptions<W>,
): Tensor {
  let x: Tensor = op.gather(params.embed as never, ids);
  // the residual stream entering each half-block (and the head) is what remat policies keep
  for (const p of params.blocks) {
    x = checkpointName(x, BLOCK_INPUT);
    x = op.add(x, attention(cfg, op.rmsnorm(x, p.attnNorm as never, cfg.normEps), p, opts.proj));
    x = checkpointName(x, BLOCK_INPUT);
    x = op.add(x, mlp(op.rmsnorm(x, p.mlpNorm as never, cfg.normEps), p, opts));
  }
  x = checkpointName(x, BLOCK_INPUT);
  return checkpointName(
    op.matmul(op.rmsnorm(x, params.finalNorm as never, cfg.normEps), params.head as never),
    HEAD_LOGITS,
  );
}

/** Mean next-token cross-entropy (nats per token). */
export function decoderLoss<W>(
  cfg: ModelConfig,
  params: DecoderParams<W>,
  ids: Tensor,
  targets: Tensor,
  opts: DecoderOptions<W>,
): Tensor<readonly []> {
  return op.mean(op.crossEntropy(decoderLogits(cfg, params, ids, opts) as never, targets)) as Tensor<readonly []>;
}

export { anon };
