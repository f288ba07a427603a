/**
 * Deterministic, resumable batches of (input, next-token target) windows.
 *
 * Sampling scheme: each epoch cuts the token stream into non-overlapping
 * windows of `seqLen + 1` tokens (consecutive windows share one boundary
 * token, so every token is a target exactly once per epoch), starting at a
 * random offset in [0, seqLen) so window boundaries move between epochs,
 * and visits them in a shuffled order. The order of epoch `e` is a pure
 * function of (seed, e), so the whole sampler state is just
 * (epoch, cursor) — tiny, JSON-serializable, and exact on resume.
 *
 * Tokens come from a TokenSource (an array in memory or a token file read
 * window by window), so memory is flat in the corpus size: up to
 * SHUFFLE_MAX_WINDOWS windows an epoch's order is an explicit Fisher–Yates
 * shuffle; above that it is a keyed Feistel permutation computed per index,
 * equally a pure function of (seed, epoch) but with no array.
 */
import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import { trainError, type TrainError } from "./errors.ts";
import { Rng } from "../util/rng.ts";
import { asTokenSource, type TokenData, type TokenSource } from "./tokenSource.ts";

/** Epochs with more windows than this use a Feistel permutation instead of a shuffled index array (64 MiB). */
export const SHUFFLE_MAX_WINDOWS = 1 << 24;

/** Window length, batch size and seed of a BatchSampler. */
export type SamplerOptions = { seqLen: number; batch: number; seed: number };
/** One batch: input ids and next-token targets, [batch, seqLen] each. */
export type Batch = { inputs: Int32Array; targets: Int32Array };

/**
 * `cursor` counts windows consumed in `epoch`, not batches, so a run may
 * resume with a different batch size. The other fields pin the data and
 * order the state belongs to.
 */
export type SamplerState = {
  version: 1;
  seed: number;
  seqLen: number;
  tokenCount: number;
  epoch: number;
  cursor: number;
};

const dataError = (message: string) => E.left(trainError("DataError", message));

const isPositiveInt = (x: number) => Number.isSafeInteger(x) && x > 0;

const checkOptions = (tokens: { length: number }, o: SamplerOptions): E.Either<TrainError, SamplerOptions> => {
  if (!isPositiveInt(o.seqLen) || !isPositiveInt(o.batch))
    return dataError(`seqLen and batch must be positive integers, got ${o.seqLen} and ${o.batch}`);
  if (!Number.isSafeInteger(o.seed)) return dataError(`seed must be an integer, got ${o.seed}`);
  if (tokens.length < o.seqLen + 1)
    return dataError(`only ${tokens.length} tokens; need at least seqLen + 1 = ${o.seqLen + 1} for one window`);
  return E.right(o);
};

/** Copy the window starting at `start` into row `row` of a batch. */
const fillRow = (tokens: TokenSource, start: number, seqLen: number, out: Batch, row: number): void => {
  tokens.read(start, seqLen, out.inputs, row * seqLen);
  tokens.read(start + 1, seqLen, out.targets, row * seqLen);
};

/** 32-bit mixer (murmur3's finalizer) for the Feistel round function. */
const mix32 = (x: number): number => {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
};

/**
 * A bijection of [0, n) keyed by `rng`: a 4-round balanced Feistel network on
 * the smallest even bit width covering n, cycle-walking values that land
 * outside (fewer than 4 steps on average). Halves stay under 2^27 bits, so
 * every product is exact in a double.
 */
const feistelPermutation = (n: number, rng: Rng): ((i: number) => number) => {
  let half = 1;
  while (2 ** (2 * half) < n) half++;
  if (half > 26) throw new RangeError(`too many windows to permute: ${n}`);
  const size = 2 ** half;
  const mask = size - 1;
  const keys = [rng.nextU32(), rng.nextU32(), rng.nextU32(), rng.nextU32()];
  const once = (x: number): number => {
    let l = Math.floor(x / size);
    let r = x % size;
    for (const k of keys) {
      const t = (l ^ (mix32(r ^ k) & mask)) >>> 0;
      l = r;
      r = t;
    }
    return l * size + r;
  };
  return (i) => {
    let x = once(i);
    while (x >= n) x = once(x);
    return x;
  };
};

const emptyBatch = (batch: number, seqLen: number): Batch => ({
  inputs: new Int32Array(batch * seqLen),
  targets: new Int32Array(batch * seqLen),
});

/** Random windows of a token stream, batch by batch, in a seeded order that resumes exactly. */
export class BatchSampler {
  private epoch = 0;
  private cursor = 0;
  private offset = 0;
  private windows = 0;
  private order: (i: number) => number = (i) => i;
  private readonly tokens: TokenSource;

  /** Throws on invalid options or too few tokens; use `create` when those come from the user. */
  constructor(
    tokens: TokenData,
    private readonly opts: SamplerOptions,
  ) {
    this.tokens = asTokenSource(tokens);
    const ok = checkOptions(this.tokens, opts);
    if (E.isLeft(ok)) throw new RangeError(ok.left.message);
    this.startEpoch(0);
  }

  static create(tokens: TokenData, opts: SamplerOptions): E.Either<TrainError, BatchSampler> {
    return pipe(
      checkOptions(tokens, opts),
      E.map(() => new BatchSampler(tokens, opts)),
    );
  }

  /**
   * Continue exactly where `state` left off. Refuses a state taken with a
   * different seed, seqLen or token count: resuming on changed data would
   * silently train on a different stream.
   */
  static restore(tokens: TokenData, opts: SamplerOptions, state: SamplerState): E.Either<TrainError, BatchSampler> {
    return E.flatMap(BatchSampler.create(tokens, opts), (s) => {
      if (state?.version !== 1) return dataError("sampler state has an unknown version");
      const mismatch = (["seed", "seqLen"] as const).find((k) => state[k] !== opts[k]);
      if (mismatch)
        return dataError(
          `sampler state was taken with ${mismatch}=${state[mismatch]}, but this run uses ${opts[mismatch]}`,
        );
      if (state.tokenCount !== s.tokens.length)
        return dataError(
          `sampler state was taken on ${state.tokenCount} tokens, but the data now has ${s.tokens.length}`,
        );
      if (!Number.isSafeInteger(state.epoch) || state.epoch < 0)
        return dataError(`sampler state has invalid epoch ${state.epoch}`);
      s.startEpoch(state.epoch);
      if (!Number.isSafeInteger(state.cursor) || state.cursor < 0 || state.cursor > s.windows) {
        return dataError(`sampler state has invalid cursor ${state.cursor} (epoch has ${s.windows} windows)`);
      }
      s.cursor = state.cursor;
      return E.right(s);
    });
  }

  state(): SamplerState {
    const { seed, seqLen } = this.opts;
    return { version: 1, seed, seqLen, tokenCount: this.tokens.length, epoch: this.epoch, cursor: this.cursor };
  }

  /** Completed epochs plus the fraction of the current one; for logging. */
  epochProgress(): number {
    return this.epoch + this.cursor / this.windows;
  }

  next(): Batch {
    const { seqLen, batch } = this.opts;
    const out = emptyBatch(batch, seqLen);
    for (let row = 0; row < batch; row++) {
      if (this.cursor === this.windows) this.startEpoch(this.epoch + 1);
      fillRow(this.tokens, this.offset + this.order(this.cursor++) * seqLen, seqLen, out, row);
    }
    return out;
  }

  /** Offset and window order of `epoch`, derived only from (seed, epoch). */
  private startEpoch(epoch: number): void {
    const { seqLen, seed } = this.opts;
    const rng = Rng.fromSeed(seed, epoch);
    // Cap the offset so at least one whole window always fits.
    this.offset = rng.nextInt(Math.min(seqLen, this.tokens.length - seqLen));
    const windows = Math.floor((this.tokens.length - 1 - this.offset) / seqLen);
    if (windows <= SHUFFLE_MAX_WINDOWS) {
      const order = rng.shuffle(Uint32Array.from({ length: windows }, (_, i) => i));
      this.order = (i) => order[i];
    } else this.order = feistelPermutation(windows, rng);
    this.windows = windows;
    this.epoch = epoch;
    this.cursor = 0;
  }
}

/**
 * A fixed list of validation batches: up to `maxBatches` full batches of
 * windows spread evenly over the whole token stream (not just its start),
 * identical on every call so losses are comparable across steps and runs.
 */
export const evalWindows = (
  data: TokenData,
  seqLen: number,
  batch: number,
  maxBatches: number,
): E.Either<TrainError, Batch[]> => {
  const tokens = asTokenSource(data);
  return E.flatMap(checkOptions(tokens, { seqLen, batch, seed: 0 }), () => {
    if (!isPositiveInt(maxBatches)) return dataError(`maxBatches must be a positive integer, got ${maxBatches}`);
    const windows = Math.floor((tokens.length - 1) / seqLen);
    const count = Math.min(windows - (windows % batch), batch * maxBatches);
    if (count === 0) {
      return dataError(
        `validation split has ${tokens.length} tokens; need at least batch * seqLen + 1 = ${batch * seqLen + 1}`,
      );
    }
    const batches: Batch[] = [];
    for (let w = 0; w < count; w++) {
      if (w % batch === 0) batches.push(emptyBatch(batch, seqLen));
      fillRow(tokens, Math.floor((w * windows) / count) * seqLen, seqLen, batches[batches.length - 1], w % batch);
    }
    return E.right(batches);
  });
};
