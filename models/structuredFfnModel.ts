import * as E from "fp-ts/lib/Either.js";
import { anon, dim, type Dim } from "../dsl/dim.ts";
import type { RankfuseError } from "../dsl/errors.ts";
import { isTensor, type Tensor } from "../dsl/trace.ts";
import * as op from "../dsl/ops.ts";
import type { ModelConfig } from "./config.ts";
import { assembleModel, dense, type LanguageModel } from "./model.ts";
import { initParams, ONES, normal, param, type ParamLayout } from "./params.ts";
import { decoderLogits, decoderLoss, type DecoderParams, type Projection } from "./transformer.ts";
import { applyStructured, declareStructured, DEFAULT_BLOCKS, type StructuredKind, type StructuredParams } from "./structuredFfn.ts";
import { truncatedSvd } from "./svd.ts";
import { GUIDE_ALPHA, selfGuidedScheme } from "../train/selfGuided.ts";

/**
 * Low-rank and structured FFNs (Wei et al.): attention stays dense; the MLP's gate, up and down maps are
 * structured (models/structuredFfn.ts) and trained self-guided: each runs beside a dense guide,
 * out = α·x·G + (1−α)·structured(x), α one frozen [1] param the scheme (train/selfGuided.ts) decays
 * 1 → 0 over the first half of the run. Init: every guide G ~ N(0, 0.02²) (LLaMA's dense init), and
 * LowRank's factors come from G's SVD, U = Ũ_r·√S_r, V = √S_r·Ṽ_rᵀ (the best rank-r approximation of G),
 * so at the start the structured map is as close to its guide as its rank allows; the block maps start
 * from N(0, ·) factors whose product has G's scale. Counts include the guide (it is stored and trained
 * in the first half) and the step always computes it (a static graph): its FLOPs are in forwardFlopsPerToken.
 */
export interface StructuredFfnOptions {
  readonly blocks?: number;
}

type GuidedMap = StructuredParams & { readonly guide: Tensor };
type Params = DecoderParams<Tensor | GuidedMap> & { readonly guideAlpha: Tensor };

export function declareStructuredFfn(cfg: ModelConfig, kind: StructuredKind, blocks = DEFAULT_BLOCKS) {
  const [V, D, F] = [dim("vocab", cfg.vocab), dim("d", cfg.d), dim("ff", cfg.dFF)];
  const mlpMap = (i: Dim, o: Dim) => ({ guide: dense(i, o), ...declareStructured(kind, i, o, cfg.rank, blocks) });
  const block = () => ({
    attnNorm: param([D], ONES), q: dense(D, D), k: dense(D, D), v: dense(D, D), o: dense(D, D),
    mlpNorm: param([D], ONES), gate: mlpMap(D, F), up: mlpMap(D, F), down: mlpMap(F, D),
  });
  return {
    embed: param([V, D], normal(0.02)), blocks: Array.from({ length: cfg.layers }, block), finalNorm: param([D], ONES), head: param([D, V], normal(0.02)),
    [GUIDE_ALPHA]: param([anon(1)], ONES),
  };
}

/** Dense for attention; for the MLP maps α·x·G + (1−α)·structured(x). */
const guidedProjection = (alpha: Tensor): Projection<Tensor | GuidedMap> => ({
  apply: (x, w) => {
    if (isTensor(w)) return op.matmul(x, w as never);
    const guided = op.mul(op.matmul(x, w.guide as never), alpha as never);
    return op.add(guided, op.mul(applyStructured(x, w), op.rsub(1, alpha) as never) as never);
  },
});

/** The default init, with each LowRank pair replaced by the top-r SVD of its guide. */
function svdInit(layout: ParamLayout, seed: number, rank: number): Float32Array[] {
  const params = initParams(layout, seed);
  layout.names.forEach((name, gi) => {
    const m = /^(blocks\.\d+\.\w+)\.guide$/.exec(name);
    const [ui, vi] = [layout.names.indexOf(`${m?.[1]}.U`), layout.names.indexOf(`${m?.[1]}.V`)];
    if (!m || ui < 0) return;
    const [rows, cols] = layout.shapes[gi] as [number, number];
    const s = truncatedSvd(Float64Array.from(params[gi]!), rows, cols, rank, seed + gi);
    const root = Array.from(s.S, Math.sqrt);
    params[ui] = Float32Array.from({ length: rows * s.k }, (_, k) => s.U[k]! * root[k % s.k]!);
    params[vi] = Float32Array.from({ length: s.k * cols }, (_, k) => root[Math.floor(k / cols)]! * s.V[(k % cols) * s.k + Math.floor(k / cols)]!);
  });
  return params;
}

const METHOD_OF: Record<StructuredKind, string> = { lowRank: "lowrankFfn", blockShuffle: "blockShuffleFfn", blockDense: "blockDenseFfn" };

export function makeStructuredFfn(cfg: ModelConfig, kind: StructuredKind, opts: StructuredFfnOptions = {}): E.Either<RankfuseError, LanguageModel> {
  const tree = declareStructuredFfn(cfg, kind, opts.blocks);
  const loss = (p: Params, ids: Tensor, targets: Tensor) => decoderLoss(cfg, p, ids, targets, { proj: guidedProjection(p.guideAlpha), gateSilu: true });
  const logits = (p: Params, ids: Tensor) => decoderLogits(cfg, p, ids, { proj: guidedProjection(p.guideAlpha), gateSilu: true });
  // assembleModel's own loss/logits are replaced below (they need α from the params), so its decoder options go unused
  const base = assembleModel(METHOD_OF[kind], cfg, tree, { proj: guidedProjection(null as never), gateSilu: true }, {
    frozen: (layout) => layout.names.map((n) => n === GUIDE_ALPHA),
    scheme: (o) => selfGuidedScheme(o),
    init: (layout, seed) => svdInit(layout, seed, cfg.rank),
  });
  // every weight a matmul reads (block factors are 3-D) counts 2 FLOPs a token; plus attention
  const matmulWeights = base.layout.names.reduce((s, n, i) => s + (base.layout.shapes[i]!.length >= 2 && n !== "embed" ? base.layout.shapes[i]!.reduce((a, b) => a * b, 1) : 0), 0);
  return E.right({
    ...base,
    loss: (p, ids, targets) => loss(p as Params, ids, targets),
    logits: (p, ids) => logits(p as Params, ids),
    forwardFlopsPerToken: 2 * matmulWeights + cfg.layers * 4 * cfg.seq * cfg.d,
  });
}
