import * as E from "fp-ts/lib/Either.js";
import type { Batch } from "./batches.ts";
import type { RunError } from "./errors.ts";

/** Validation figures: mean loss in nats per token, perplexity, and bits per byte of raw text. */
export interface EvalResult {
  readonly loss: number;
  readonly ppl: number;
  readonly bitsPerByte: number;
}

/** Mean loss over fixed validation batches (`lossOf` runs one, e.g. `TrainState.evalLoss`). `bytesPerToken` converts to bits per byte (1 for the byte tokenizer). */
export async function evaluate(
  lossOf: (ids: Int32Array, targets: Int32Array) => Promise<E.Either<RunError, number>>,
  batches: readonly Batch[],
  bytesPerToken: number,
): Promise<E.Either<RunError, EvalResult>> {
  let total = 0;
  for (const b of batches) {
    const r = await lossOf(b.inputs, b.targets);
    if (E.isLeft(r)) return r;
    total += r.right;
  }
  const loss = total / batches.length;
  return E.right({ loss, ppl: Math.exp(loss), bitsPerByte: loss / Math.LN2 / bytesPerToken });
}
