/**
 * The setting the TrainState suites run every method in: a tiny config (2 blocks of width 16, vocabulary
 * 32, batch 2 × 8 tokens), each method's model with its scheme's intervals shortened so that its
 * boundaries (merges, switches, projection refreshes, rounds, re-SVDs, the guide's end) fall inside a
 * run of a dozen steps, fixed random batches, and the measures the suites compare runs with.
 */
import type * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../../ir/errors.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import { makeModel, METHODS } from "../../methods/index.ts";
import { makeRelora } from "../../methods/relora/model.ts";
import { makeDynamic } from "../../methods/dynamic/model.ts";
import { makeFira } from "../../methods/fira/model.ts";
import { makeSst } from "../../methods/sst/model.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import type { TrainStateOptions } from "../../train/trainState.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";

/** The tiny preset shrunk: d 16 (2 heads of 8), 2 blocks, dFF 24, rank 4, vocabulary 32, batch 2 × 8. */
export const TINY: ModelConfig = unwrap(
  resolveConfig("tiny", { d: 16, heads: 2, layers: 2, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }),
);

/** Steps of a run: relora merges at 4, 8, 12; dynamic switches every 3; sst re-SVDs at 4, 8, 12. */
export const STEPS = 12;

/**
 * Each method's model with its scheme's intervals shortened. ReLoRA: cycle 4 (merges after steps 4,
 * 8, 12), re-warmup 2. Dynamic: interval 3 (switches after 3, 6, 9, 12). Fira: projection refresh every
 * 3 updates (t = 1, 4, 7, 10). SST: a round of 2 steps, a re-SVD every 2 rounds (after 4, 8, 12). The
 * self-guided methods keep their default: α decays over the first half (6 steps), then the guide freezes.
 * The other methods have no scheme.
 */
const SHORTENED: Record<string, (cfg: ModelConfig) => E.Either<RankfuseError, TrainableModel>> = {
  relora: (cfg) => makeRelora(cfg, { cycle: 4, rewarmup: 2 }),
  dynamic: (cfg) => makeDynamic(cfg, { interval: 3 }),
  fira: (cfg) => makeFira(cfg, { gap: 3 }),
  sst: (cfg) => makeSst(cfg, { roundSteps: 2, resvdRounds: 2 }),
};

/** Every method of the list, in its order. */
export const ALL_METHODS: readonly string[] = METHODS;

/** The model of `method` (with its shortened scheme) for the tiny config. */
export const tinyModel = (method: string, cfg: ModelConfig = TINY): TrainableModel =>
  unwrap((SHORTENED[method] ?? ((c: ModelConfig) => makeModel(method, c)))(cfg));

/** A state's options for a run of `steps` (warmup 2, cosine to 0.1·lr, clipping at 0.5 so it clips). */
export const stateOptions = (steps: number = STEPS, cfg: ModelConfig = TINY): TrainStateOptions => ({
  lr: 1e-2,
  warmupSteps: 2,
  minLrRatio: 0.1,
  weightDecay: 0.01,
  clip: 0.5,
  batch: cfg.batch,
  seq: cfg.seq,
  totalSteps: steps,
  seed: 3,
});

/** `steps` fixed random batches (ids uniform, targets a fixed map of the ids, so the loss falls). */
export function batches(steps: number, cfg: ModelConfig = TINY): { ids: Int32Array; targets: Int32Array }[] {
  const rng = Rng.fromSeed(7);
  const n = cfg.batch * cfg.seq;
  return Array.from({ length: steps }, () => {
    const ids = Int32Array.from({ length: n }, () => rng.nextInt(cfg.vocab));
    return { ids, targets: ids.map((t) => (3 * t + 1) % cfg.vocab) };
  });
}

/** |a − b| / |b| (0 when both are 0). */
export const relDiff = (a: number, b: number): number => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));

/** The largest |a − b| over two lists of arrays, and the largest per-tensor max|a − b| / max|b|. */
export function tensorDiff(
  a: readonly ArrayLike<number>[],
  b: readonly ArrayLike<number>[],
  include: (i: number) => boolean = () => true,
): { abs: number; rel: number } {
  let [abs, rel] = [0, 0];
  a.forEach((x, i) => {
    if (!include(i)) return;
    const y = b[i]!;
    let [d, scale] = [0, 0];
    for (let j = 0; j < x.length; j++) {
      d = Math.max(d, Math.abs(x[j]! - y[j]!));
      scale = Math.max(scale, Math.abs(y[j]!));
    }
    abs = Math.max(abs, d);
    if (d > 0) rel = Math.max(rel, scale > 0 ? d / scale : Infinity);
  });
  return { abs, rel };
}

/** A float32's position on the number line in units in the last place (−0 and +0 both 0). */
const ordinal = (x: number): number => {
  const u = new Uint32Array(Float32Array.of(x).buffer)[0]!;
  return u & 0x80000000 ? -(u & 0x7fffffff) : u;
};

/** The largest distance in float32 ulps between corresponding elements (0: bit for bit). */
export function ulpDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let worst = 0;
  a.forEach((x, i) => {
    const y = b[i]!;
    for (let j = 0; j < x.length; j++) worst = Math.max(worst, Math.abs(ordinal(x[j]!) - ordinal(y[j]!)));
  });
  return worst;
}

/** A number for logs: 0 as "0", others in 3 significant digits. */
export const fmt = (x: number): string => (x === 0 ? "0" : x.toExponential(2));
