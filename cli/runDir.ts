import * as E from "fp-ts/lib/Either.js";
import { resolveConfig, type ModelConfig } from "../models/config.ts";
import { type LanguageModel } from "../models/model.ts";
import { makeModel } from "../methods/index.ts";
import { loadCheckpoint } from "../train/checkpoint.ts";
import { importWeights } from "../methods/exportWeights.ts";
import { trainError, type TrainError } from "../train/errors.ts";

export interface LoadedWeights {
  readonly model: LanguageModel;
  readonly params: Float32Array[];
  readonly tokenizer: string;
  readonly step?: number;
}

/** Weights from a training run's checkpoint (--run DIR) or from an export (--weights DIR). */
export function loadWeights(opts: { run?: string; weights?: string }): E.Either<TrainError, LoadedWeights> {
  if (opts.weights)
    return E.map((w: { model: LanguageModel; params: Float32Array[] }) => ({
      ...w,
      tokenizer: tokenizerOfVocab(w.model.config),
    }))(importWeights(opts.weights));
  if (!opts.run)
    return E.left(
      trainError("CheckpointError", "give --run DIR (a training run with a checkpoint) or --weights DIR (an export)"),
    );
  return E.flatMap(loadCheckpoint(opts.run), (ck) => {
    const fp = JSON.parse(ck.config) as { method: string; config: ModelConfig; tokenizer: string };
    const cfg = resolveConfig(fp.config.name, fp.config);
    const model = E.isRight(cfg) ? makeModel(fp.method, cfg.right) : cfg;
    if (E.isLeft(model))
      return E.left(trainError("CheckpointError", `checkpoint in ${opts.run}: ${model.left.message}`));
    return E.right({ model: model.right, params: ck.params.values, tokenizer: fp.tokenizer, step: ck.step });
  });
}

/** Exports carry no tokenizer name; the vocabulary size tells bytes (256) from the 32k tokenizer. */
const tokenizerOfVocab = (c: ModelConfig) => (c.vocab === 256 ? "bytes" : "llama2");
