import * as E from "fp-ts/lib/Either.js";
import { dim, type Dim } from "../../ir/dim.ts";
import type { RankfuseError } from "../../ir/errors.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { Rng } from "../../util/rng.ts";
import { sstScheme, type SstOptions } from "./scheme.ts";
import { decomposeInto, sstGroups } from "./ops.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import type { ModelConfig } from "../../models/config.ts";
import { assembleModel, declare, type LanguageModel } from "../../models/model.ts";
import { initParams, normal, ONES, param, type ParamLayout } from "../../models/params.ts";
import type { Projection, WeightKind } from "../../models/projection.ts";

/**
 * SST (Sparse Spectral Training): every projection is W = U·diag(Σ)·Vᵀ with U [d_in, k], Σ [k],
 * V [d_out, k], applied as ((x·U) ⊙ Σ)·Vᵀ. Following the paper, the spectrum is full (k = min(d_in,
 * d_out)): SST trains a full-rank W whose optimizer touches only cfg.rank sampled singular vectors per
 * round (methods/sst/scheme.ts), so "rank" means sampled vectors, as in the paper's tables. `spectrum` < full
 * truncates the factors instead. Init: the SVD of the dense LLaMA init N(0, 0.02²), truncated to k, so
 * at full spectrum the model starts as exactly the `full` model with that W.
 * Costs: 2·k·(d_in + d_out) FLOPs per token per projection where dense has 2·d_in·d_out.
 */
export interface SstSettings extends Partial<Pick<SstOptions, "roundSteps" | "resvdRounds">> {
  /** Singular triplets kept per projection (default: all, min(d_in, d_out)). */
  readonly spectrum?: number;
}

/** One SST projection I → O: U [d_in, k], Σ [k], V [d_out, k] (k named per size, `sv<k>`). */
export interface SstParams<I extends Dim = Dim, O extends Dim = Dim> {
  readonly U: Tensor<readonly [I, Dim]>;
  readonly S: Tensor<readonly [Dim]>;
  readonly V: Tensor<readonly [O, Dim]>;
}
/** SST weights for every map of the decoder. */
export interface SstWeights extends WeightKind {
  readonly weights: SstParams<this["in"], this["out"]>;
}

/** ((x·U) ⊙ Σ)·Vᵀ. */
export const sstProj: Projection<SstWeights> = {
  apply: (x, w) => op.matmulNT(op.mul(op.matmul(x, w.U), w.S), w.V),
};

const DENSE_STD = 0.02;

/** SST: each projection as U·diag(Σ)·Vᵀ from the SVD of the dense init, with SST's training scheme. */
export function makeSst(cfg: ModelConfig, settings: SstSettings = {}): E.Either<RankfuseError, TrainableModel> {
  const spectrum = settings.spectrum;
  if (spectrum !== undefined && !(Number.isInteger(spectrum) && spectrum >= 1)) {
    return E.left({ tag: "ConfigError", message: `SST spectrum must be a positive integer, got ${spectrum}` });
  }
  const decl = (i: Dim, o: Dim) => {
    const k = Math.min(spectrum ?? Infinity, i.size, o.size);
    const K = dim(`sv${k}`, k);
    // placeholders: the init below replaces U, Σ and V by the SVD of a dense init
    return { U: param([i, K], normal(DENSE_STD)), S: param([K], ONES), V: param([o, K], normal(DENSE_STD)) };
  };
  return E.right({
    ...assembleModel("sst", cfg, declare(cfg, decl), { proj: sstProj, gateSilu: true }, { init: sstInit }),
    scheme: (o) =>
      sstScheme({ ...settings, layout: o.layout, sampled: cfg.rank, seed: o.seed, totalSteps: o.totalSteps }),
  });
}

/** The dense W each projection starts from: N(0, 0.02²) from the RNG stream of its U. */
export function sstDenseInit(layout: ParamLayout, seed: number, u: number): Float32Array {
  const [dIn] = layout.shapes[u]!;
  const v = layout.names.indexOf(layout.names[u]!.replace(/\.U$/, ".V"));
  const dOut = layout.shapes[v]![0]!;
  const rng = Rng.fromSeed(seed, u + 1);
  return Float32Array.from({ length: dIn! * dOut }, () => rng.normal() * DENSE_STD);
}

function sstInit(layout: ParamLayout, seed: number): Float32Array[] {
  const params = initParams(layout, seed);
  for (const g of sstGroups(layout))
    decomposeInto(g, sstDenseInit(layout, seed, g.u), params[g.u]!, params[g.s]!, params[g.v]!);
  return params;
}
