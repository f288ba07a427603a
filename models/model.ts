import { dim, type Dim } from "../ir/dim.ts";
import type { Tensor } from "../dsl/trace.ts";
import { colaLinear, linear } from "./layers.ts";
import type { ModelConfig } from "./config.ts";
import { decoderLogits, decoderLoss, type DecoderOptions, type DecoderParams } from "./transformer.ts";
import type { ColaWeights, DenseWeights, Projection, WeightKind } from "./projection.ts";
import { withRank } from "../dsl/ops.ts";
import type { RematPolicy } from "../passes/remat.ts";
import { initParams, layoutOf, normal, ONES, param, type ParamDecl, type ParamLayout } from "./params.ts";

/** Parameter counts of a model. */
export interface ParamCounts {
  /** Input embedding and LM head (2·V·d). */
  readonly embedding: number;
  readonly nonEmbedding: number;
  readonly total: number;
}

/** A language model: declared params, a pure loss over them, and its analytic size and cost. */
export interface LanguageModel {
  /** The method's name (`full`, `cola`, ...): a label for logs, checkpoints and exports. */
  readonly method: string;
  readonly config: ModelConfig;
  readonly layout: ParamLayout;
  init(seed: number): Float32Array[];
  /** Mean next-token loss of ids [b, t] against targets [b, t]. */
  loss(params: unknown, ids: Tensor, targets: Tensor): Tensor<readonly []>;
  logits(params: unknown, ids: Tensor): Tensor;
  readonly counts: ParamCounts;
  /** Forward FLOPs per token at sequence length cfg.seq (matmuls and attention); training is about 3×. */
  readonly forwardFlopsPerToken: number;
  /** What its training step recomputes in backward (CoLA-M); none means everything is stored. */
  readonly remat?: RematPolicy;
  /** Params (layout order) that never train: the step computes no gradient for them (ReLoRA's W, a guide's α). */
  readonly frozen?: readonly boolean[];
  /**
   * The shared LLaMA decoder's options (the projection and the SwiGLU switch) for a param tree, where
   * the model is that decoder with its own projections; absent where the decoder is the method's own
   * (CR-Net's recurrence). `export --merge` reads it to write each projection as a dense weight.
   */
  readonly decoder?: (params: unknown) => DecoderOptions<WeightKind>;
}

/** Params the optimizer may train: all but the model's frozen ones. */
export const trainableParams = (m: LanguageModel): number =>
  m.layout.shapes.reduce((s, sh, i) => s + (m.frozen?.[i] ? 0 : sh.reduce((a, b) => a * b, 1)), 0);

/** The parts of a model a method file supplies; `assembleModel` derives the rest. */
export interface ModelParts {
  readonly remat?: RematPolicy;
  readonly frozen?: (layout: ParamLayout) => readonly boolean[];
  /** Replaces the default init (e.g. SVD-based inits that derive some params from others). */
  readonly init?: (layout: ParamLayout, seed: number) => Float32Array[];
  /** Overrides the default forward FLOPs per token (2 per weight read by a matmul, plus attention). */
  readonly forwardFlopsPerToken?: number;
}

const STD = 0.02; // LLaMA / GaLore init for dense weights and embeddings

/** CoLA's init: A and B entries ~ N(0,1)·r^(-1/4)·(d_in+d_out)^(-1/4), so A·B has a Xavier-like scale. */
export const colaStd = (r: number, dIn: number, dOut: number) => Math.pow(r, -0.25) * Math.pow(dIn + dOut, -0.25);

/** Declares one projection's weights (of type W) from d_in to d_out. */
export type Decl<W> = (i: Dim, o: Dim) => W;
/** A dense projection's weight W [d_in, d_out], N(0, 0.02²). */
export const dense: Decl<ParamDecl> = (i, o) => param([i, o], normal(STD));
/** A CoLA projection's factors A [d_in, r] and B [r, d_out], with CoLA's init (colaStd). */
export const cola =
  (r: Dim): Decl<{ A: ParamDecl; B: ParamDecl }> =>
  (i, o) => {
    const std = colaStd(r.size, i.size, o.size);
    return { A: param([i, r], normal(std)), B: param([r, o], normal(std)) };
  };

/**
 * The decoder's param tree for a config: embedding, blocks, final norm, head. Block `layer`'s attention
 * projections (q, k, v, o) are declared by `attn(layer)` and its MLP maps (gate, up, down) by `mlp(layer)`;
 * the tree's order is the param layout's order.
 */
export function declareDecoder<A, M>(
  cfg: ModelConfig,
  attn: (layer: number) => Decl<A>,
  mlp: (layer: number) => Decl<M>,
) {
  const [V, D, F] = [dim("vocab", cfg.vocab), dim("d", cfg.d), dim("ff", cfg.dFF)];
  const block = (layer: number) => {
    const [a, m] = [attn(layer), mlp(layer)];
    return {
      attnNorm: param([D], ONES),
      q: a(D, D),
      k: a(D, D),
      v: a(D, D),
      o: a(D, D),
      mlpNorm: param([D], ONES),
      gate: m(D, F),
      up: m(D, F),
      down: m(F, D),
    };
  };
  return {
    embed: param([V, D], normal(STD)),
    blocks: Array.from({ length: cfg.layers }, (_, layer) => block(layer)),
    finalNorm: param([D], ONES),
    head: param([D, V], normal(STD)),
  };
}

/** The decoder's param tree for a config, every projection declared by `w`. */
export const declare = <W>(cfg: ModelConfig, w: Decl<W>) =>
  declareDecoder(
    cfg,
    () => w,
    () => w,
  );

/** The dense projection x·W. */
export const denseProj: Projection<DenseWeights> = { apply: (x, w) => linear(x, w) };
/** The CoLA projection σ(x·A)·B. */
export const colaProj: Projection<ColaWeights> = { apply: (x, w) => colaLinear(x, w) };

/**
 * A LanguageModel from a declared param tree and a decoder: counts and FLOPs from the layout, the loss and
 * logits from the shared decoder. Method folders (methods/<name>/) call it with their own projection, or
 * with a function of the params (P, the decoder's params and any of the method's own) that makes it.
 */
export function assembleModel<K extends WeightKind, P extends DecoderParams<K> = DecoderParams<K>>(
  method: string,
  cfg: ModelConfig,
  tree: unknown,
  opts: DecoderOptions<K> | ((params: P) => DecoderOptions<K>),
  parts: ModelParts = {},
): LanguageModel {
  const layout = layoutOf(tree);
  const sizes = layout.shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const embedding = layout.names.reduce((s, n, i) => s + (n === "embed" || n === "head" ? sizes[i]! : 0), 0);
  const total = sizes.reduce((a, b) => a + b, 0);
  // every 2-D weight except the embedding table is read once per token by a matmul
  const matmulWeights = layout.names.reduce(
    (s, n, i) => s + (layout.shapes[i]!.length === 2 && n !== "embed" ? sizes[i]! : 0),
    0,
  );
  const attentionFlops = cfg.layers * 4 * cfg.seq * cfg.d;
  const optionsFor = (params: P) => (typeof opts === "function" ? opts(params) : opts);
  return {
    method,
    config: cfg,
    layout,
    init: (seed) => (parts.init ? parts.init(layout, seed) : initParams(layout, seed)),
    loss: (params, ids, targets) =>
      decoderLoss(cfg, params as P, withRank(ids, 2), withRank(targets, 2), optionsFor(params as P)),
    logits: (params, ids) => decoderLogits(cfg, params as P, withRank(ids, 2), optionsFor(params as P)),
    counts: { embedding, nonEmbedding: total - embedding, total },
    forwardFlopsPerToken: parts.forwardFlopsPerToken ?? 2 * matmulWeights + attentionFlops,
    remat: parts.remat,
    frozen: parts.frozen?.(layout),
    decoder: (params) => optionsFor(params as P) as DecoderOptions<WeightKind>,
  };
}
