import * as E from "fp-ts/lib/Either.js";
import { renderError } from "../ir/errors.ts";
import { resolveConfig, type ModelConfig } from "../models/config.ts";
import { type LanguageModel } from "../models/model.ts";
import { loadCheckpoint, readCheckpointConfig, checkpointPath } from "../train/checkpoint.ts";
import { importWeights, type ImportedWeights } from "../methods/exportWeights.ts";
import { importTorchWeights, isTorchPackage } from "../export/torch/package.ts";
import type { MethodSource } from "../methods/fromFile.ts";
import { methodFileChanged } from "../methods/fromFile.ts";
import { isMethodSource, rebuildModel } from "../methods/resolve.ts";
import { trainError, type TrainError } from "../train/errors.ts";
import fs from "node:fs";

/** Trained weights and what they need: the model, its params, its tokenizer, and where the method came from. */
export interface LoadedWeights {
  readonly model: LanguageModel;
  readonly params: Float32Array[];
  readonly tokenizer: string;
  readonly step?: number;
  /** The file the model's method came from (a run of a method from a file). */
  readonly source?: MethodSource;
  /** Said of an export read unverified (it has no checksums.json). */
  readonly note?: string;
}

/** What a run's checkpoint records of itself (cli/session.ts writes it). */
type RunFingerprint = { method: string; methodFile?: unknown; config: ModelConfig; tokenizer: string };

/**
 * Weights from a training run's checkpoint (--run DIR) or from an export (--weights DIR): a weights export,
 * or a PyTorch package (`export --torch`) or what its train.py wrote (weights.safetensors under rankfuse's
 * param names), verified against its checksums.json (refused on a mismatch; read with a `note` where it
 * has none). A run of a method from a file imports that file again, refused when it is missing or has changed since.
 */
export async function loadWeights(opts: {
  run?: string;
  weights?: string;
}): Promise<E.Either<TrainError, LoadedWeights>> {
  if (opts.weights) {
    const w = await (isTorchPackage(opts.weights) ? importTorchWeights : importWeights)(opts.weights);
    return E.map((x: ImportedWeights) => ({
      ...x,
      tokenizer: tokenizerOfVocab(x.model.config),
    }))(w);
  }
  const run = opts.run;
  if (!run)
    return E.left(
      trainError("CheckpointError", "give --run DIR (a training run with a checkpoint) or --weights DIR (an export)"),
    );
  const ck = loadCheckpoint(run);
  if (E.isLeft(ck)) return ck;
  const fp = JSON.parse(ck.right.config) as RunFingerprint;
  const source = isMethodSource(fp.methodFile) ? fp.methodFile : undefined;
  const cfg = resolveConfig(fp.config.name, fp.config);
  const model = E.isRight(cfg) ? await rebuildModel({ method: fp.method, methodFile: source }, cfg.right, run) : cfg;
  if (E.isLeft(model))
    // a method file's refusals name the run already
    return E.left(trainError("CheckpointError", `${source ? "" : `checkpoint in ${run}: `}${model.left.message}`));
  return E.right({
    model: model.right,
    params: ck.right.params.values,
    tokenizer: fp.tokenizer,
    step: ck.right.step,
    source,
  });
}

/**
 * Before `train --resume` with a method from a file: refuses (one line naming the file) when the run in
 * `outDir` was trained with that file and its contents have changed since. Other differences are the
 * loop's to report, with the rest of the fingerprint.
 */
export function checkResumable(outDir: string, source: MethodSource): E.Either<string, void> {
  if (!fs.existsSync(checkpointPath(outDir))) return E.right(undefined);
  const config = readCheckpointConfig(outDir);
  if (E.isLeft(config)) return E.right(undefined); // the loop's full load reports a damaged checkpoint
  let recorded: unknown;
  try {
    recorded = (JSON.parse(config.right) as { methodFile?: unknown }).methodFile;
  } catch {
    return E.right(undefined);
  }
  return isMethodSource(recorded) && recorded.path === source.path && recorded.sha256 !== source.sha256
    ? E.left(renderError(methodFileChanged(recorded, source, outDir)))
    : E.right(undefined);
}

/** Exports carry no tokenizer name; the vocabulary size tells bytes (256) from the 32k tokenizer. */
const tokenizerOfVocab = (c: ModelConfig) => (c.vocab === 256 ? "bytes" : "llama2");
