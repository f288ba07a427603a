import * as E from "fp-ts/lib/Either.js";
import { dim, type Dim } from "../../ir/dim.ts";
import type { RankfuseError } from "../../ir/errors.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import type { ModelConfig } from "../../models/config.ts";
import { linear } from "../../models/layers.ts";
import { assembleModel, declare, dense, type LanguageModel } from "../../models/model.ts";
import { initParams, param, normal, type ParamDecl, type ParamLayout } from "../../models/params.ts";
import type { Projection, WeightKind } from "../../models/projection.ts";
import { Rng } from "../../util/rng.ts";
import { kaimingUniformA, loraSlots } from "./ops.ts";
import { reloraScheme, type ReloraOptions, checkReloraOptions } from "./scheme.ts";

/** ReLoRA's adapter scale numerator (PAPERS.md): the adapter's output is multiplied by α/r. */
export const LORA_ALPHA = 32;

/** One LoRA projection I → O: a dense W [d_in, d_out] plus the adapter A [d_in, r], B [r, d_out]. */
export interface LoraParams<I extends Dim = Dim, O extends Dim = Dim> {
  readonly W: Tensor<readonly [I, O]>;
  readonly A: Tensor<readonly [I, Dim<"r">]>;
  readonly B: Tensor<readonly [Dim<"r">, O]>;
}
/** LoRA weights for every map of the decoder. */
export interface LoraWeights extends WeightKind {
  readonly weights: LoraParams<this["in"], this["out"]>;
}

/**
 * Declares W like a dense weight; A and B are placeholders here, drawn by `loraInit` (A kaiming-uniform,
 * B exactly zero, which a normal init cannot express).
 */
export const lora =
  (r: Dim) =>
  (i: Dim, o: Dim): { W: ParamDecl; A: ParamDecl; B: ParamDecl } => ({
    W: dense(i, o),
    A: param([i, r], normal(0)),
    B: param([r, o], normal(0)),
  });

/**
 * `y = x·W + (α/r)·(x·A)·B` (row-vector form of `Wx + (α/r)·B·A·x`). The scale multiplies the rank-r
 * middle, the cheapest place, and keeps x·A·B a matmul-elementwise-matmul chain the planner fuses.
 */
export const loraProj = (scale: number): Projection<LoraWeights> => ({
  apply: (x, w) => op.add(linear(x, w.W), linear(op.mul(linear(x, w.A), scale), w.B)),
});

/** The usual init for W, embeddings and norms; each A kaiming-uniform from its own stream; B = 0, so the adapted model starts as the dense one. */
export function loraInit(layout: ParamLayout, seed: number): Float32Array[] {
  const params = initParams(layout, seed);
  for (const s of loraSlots(layout)) {
    kaimingUniformA(params[s.A]!, s.fanIn, Rng.fromSeed(seed, s.A + 1));
    params[s.B]!.fill(0);
  }
  return params;
}

/**
 * ReLoRA (Lialin et al.): every projection is a frozen W plus a trainable `(α/r)·B·A` with α = 32 and
 * r = cfg.rank; embeddings, norms and the head train normally. The scheme (methods/relora/scheme.ts) merges
 * the adapter into W every cycle, restarts it, prunes its optimizer state and re-warms the lr. With
 * `warmStart` > 0, W is not statically frozen (so its gradient is computed every step, full-rank cost)
 * and the scheme trains W alone for the first `warmStart` steps, then only the adapters.
 */
export function makeRelora(cfg: ModelConfig, opts: ReloraOptions = {}): E.Either<RankfuseError, TrainableModel> {
  const bad = checkReloraOptions(opts);
  if (bad) return E.left({ tag: "ConfigError", message: `relora: ${bad}` });
  const scale = LORA_ALPHA / cfg.rank;
  const isW = (layout: ParamLayout) => {
    const ws = new Set(loraSlots(layout).map((s) => s.W));
    return layout.names.map((_, i) => ws.has(i));
  };
  const warm = (opts.warmStart ?? 0) > 0;
  return E.right({
    ...assembleModel(
      "relora",
      cfg,
      declare(cfg, lora(dim("r", cfg.rank))),
      { proj: loraProj(scale), gateSilu: true },
      { frozen: warm ? undefined : isW, init: loraInit },
    ),
    scheme: (o) => reloraScheme(o, scale, opts),
  });
}
