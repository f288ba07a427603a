import type { TrainResult } from "../train/loop.ts";
import type { ResultSpread } from "./sweepGrid.ts";

/** One method's row in a comparison: its size and cost, and what its training run measured. */
export interface CompareRow {
  readonly method: string;
  readonly params: number;
  readonly nonEmbedding: number;
  /** Params the optimizer trains (all but the model's frozen ones). */
  readonly trainable: number;
  /** Training FLOPs per token: 3× the forward pass (forward + backward). */
  readonly trainFlopsPerToken: number;
  readonly tokensPerStep: number;
  readonly result: TrainResult;
  /** With several seeds: `result` holds their means and this their spread (report/sweepGrid.ts's foldSeeds). */
  readonly spread?: ResultSpread;
}
