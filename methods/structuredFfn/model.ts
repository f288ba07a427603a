import * as E from "fp-ts/lib/Either.js";
import { anon, dim, type Dim } from "../../ir/dim.ts";
import type { RankfuseError } from "../../ir/errors.ts";
import { isTensor, type Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import type { ModelConfig } from "../../models/config.ts";
import { assembleModel, declareDecoder, dense, type LanguageModel } from "../../models/model.ts";
import { initParams, ONES, normal, param, type ParamLayout } from "../../models/params.ts";
import { Rng } from "../../util/rng.ts";
import type { DecoderParams } from "../../models/transformer.ts";
import type { Projection, WeightKind } from "../../models/projection.ts";
import {
  applyStructured,
  declareStructured,
  DEFAULT_BLOCKS,
  type StructuredKind,
  type StructuredParams,
} from "./layers.ts";
import { truncatedSvd } from "../../util/linalg/jacobiSvd.ts";
import { GUIDE_ALPHA, selfGuidedScheme } from "./selfGuided.ts";

/**
 * Low-rank and structured FFNs (Wei et al.): attention stays dense; the MLP's gate, up and down maps are
 * structured (methods/structuredFfn/layers.ts) and trained self-guided: each runs beside a dense guide,
 * out = α·x·G + (1−α)·structured(x), α one frozen [1] param the scheme (methods/structuredFfn/selfGuided.ts) decays
 * 1 → 0 over the first half of the run. Init: every guide G ~ N(0, 0.02²) (LLaMA's dense init), and
 * LowRank's factors come from G's SVD, U = Ũ_r·√S_r, V = √S_r·Ṽ_rᵀ (the best rank-r approximation of G),
 * so at the start the structured map is as close to its guide as its rank allows; the block maps start
 * from N(0, ·) factors whose product has G's scale. Counts include the guide (it is stored and trained
 * in the first half) and the step always computes it (a static graph): its FLOPs are in forwardFlopsPerToken.
 */
export interface StructuredFfnOptions {
  readonly blocks?: number;
  /**
   * Self-guided training (default true). Without it the MLP maps are the structured ones alone, LowRank
   * initialized from the top-r SVD of a random dense init (the paper's init), and the step costs only
   * what the structured network costs: the row a speed comparison needs.
   */
  readonly guided?: boolean;
}

/** A structured map I → O beside its dense guide G [i, o]. */
type GuidedMap<I extends Dim, O extends Dim> = StructuredParams<I, O> & { readonly guide: Tensor<readonly [I, O]> };
/** Dense attention maps; guided structured MLP maps. */
interface GuidedWeights extends WeightKind {
  readonly weights: Tensor<readonly [this["in"], this["out"]]> | GuidedMap<this["in"], this["out"]>;
}
/** Dense attention maps; structured MLP maps alone. */
interface UnguidedWeights extends WeightKind {
  readonly weights: Tensor<readonly [this["in"], this["out"]]> | StructuredParams<this["in"], this["out"]>;
}
/** The guided model's params: the decoder's and the guide's weight α. */
type Params = DecoderParams<GuidedWeights> & { readonly guideAlpha: Tensor<readonly [Dim<"_">]> };

export function declareStructuredFfn(cfg: ModelConfig, kind: StructuredKind, blocks = DEFAULT_BLOCKS, guided = true) {
  const mlpMap = (i: Dim, o: Dim) =>
    guided
      ? { guide: dense(i, o), ...declareStructured(kind, i, o, cfg.rank, blocks) }
      : declareStructured(kind, i, o, cfg.rank, blocks);
  return {
    ...declareDecoder(
      cfg,
      () => dense,
      () => mlpMap,
    ),
    ...(guided ? { [GUIDE_ALPHA]: param([anon(1)], ONES) } : {}),
  };
}

/** Dense for attention; for the MLP maps α·x·G + (1−α)·structured(x). */
const guidedProjection = (alpha: Tensor<readonly [Dim<"_">]>): Projection<GuidedWeights> => ({
  apply: (x, w) => {
    if (isTensor(w)) return op.matmul(x, w);
    const guided = op.mul(op.matmul(x, w.guide), alpha);
    return op.add(guided, op.mul(applyStructured(x, w), op.rsub(1, alpha)));
  },
});

/**
 * The default init, with each LowRank pair replaced by the top-r SVD of its guide, or (unguided) of a
 * fresh N(0, 0.02²) dense matrix drawn from the U param's own stream.
 */
function svdInit(layout: ParamLayout, seed: number, rank: number): Float32Array[] {
  const params = initParams(layout, seed);
  layout.names.forEach((name, ui) => {
    const m = /^(blocks\.\d+\.\w+)\.U$/.exec(name);
    const [gi, vi] = [layout.names.indexOf(`${m?.[1]}.guide`), layout.names.indexOf(`${m?.[1]}.V`)];
    if (!m || vi < 0) return;
    const [rows, cols] = [layout.shapes[ui]![0]!, layout.shapes[vi]![1]!];
    const rng = Rng.fromSeed(seed, 1_000_003 + ui);
    const denseInit =
      gi >= 0 ? Float64Array.from(params[gi]!) : Float64Array.from({ length: rows * cols }, () => 0.02 * rng.normal());
    const s = truncatedSvd(denseInit, rows, cols, rank, seed + (gi >= 0 ? gi : ui));
    const root = Array.from(s.S, Math.sqrt);
    params[ui] = Float32Array.from({ length: rows * s.k }, (_, k) => s.U[k]! * root[k % s.k]!);
    params[vi] = Float32Array.from(
      { length: s.k * cols },
      (_, k) => root[Math.floor(k / cols)]! * s.V[(k % cols) * s.k + Math.floor(k / cols)]!,
    );
  });
  return params;
}

const METHOD_OF: Record<StructuredKind, string> = {
  lowRank: "lowrankFfn",
  blockShuffle: "blockShuffleFfn",
  blockDense: "blockDenseFfn",
};

/** The unguided model: dense attention, structured MLP maps alone. */
function makeUnguided(cfg: ModelConfig, kind: StructuredKind, method: string, blocks?: number): LanguageModel {
  const proj: Projection<UnguidedWeights> = {
    apply: (x, w) => (isTensor(w) ? op.matmul(x, w) : applyStructured(x, w)),
  };
  const base = assembleModel(
    method,
    cfg,
    declareStructuredFfn(cfg, kind, blocks, false),
    { proj, gateSilu: true },
    { init: (layout, seed) => svdInit(layout, seed, cfg.rank) },
  );
  return { ...base, forwardFlopsPerToken: matmulFlops(base, cfg) };
}

/** Every weight a matmul reads (block factors are 3-D) counts 2 FLOPs a token; plus attention. */
const matmulFlops = (m: LanguageModel, cfg: ModelConfig) =>
  2 *
    m.layout.names.reduce(
      (s, n, i) =>
        s + (m.layout.shapes[i]!.length >= 2 && n !== "embed" ? m.layout.shapes[i]!.reduce((a, b) => a * b, 1) : 0),
      0,
    ) +
  cfg.layers * 4 * cfg.seq * cfg.d;

/** Structured FFNs (Wei et al.): the MLP's maps LowRank, BlockShuffle or BlockDense, optionally self-guided. */
export function makeStructuredFfn(
  cfg: ModelConfig,
  kind: StructuredKind,
  opts: StructuredFfnOptions = {},
): E.Either<RankfuseError, TrainableModel> {
  if (opts.guided === false) return E.right(makeUnguided(cfg, kind, METHOD_OF[kind], opts.blocks));
  const base = assembleModel<GuidedWeights, Params>(
    `${METHOD_OF[kind]}Guided`,
    cfg,
    declareStructuredFfn(cfg, kind, opts.blocks),
    // α is a param, so the projection is made from the params of each call
    (p) => ({ proj: guidedProjection(p.guideAlpha), gateSilu: true }),
    {
      frozen: (layout) => layout.names.map((n) => n === GUIDE_ALPHA),
      init: (layout, seed) => svdInit(layout, seed, cfg.rank),
    },
  );
  return E.right({
    ...base,
    forwardFlopsPerToken: matmulFlops(base, cfg),
    scheme: (o) => selfGuidedScheme(o),
  });
}
