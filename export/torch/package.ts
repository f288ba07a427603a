/**
 * A self-contained PyTorch package of a model (`rankfuse export --torch DIR`):
 *
 *   DIR/modeling.py            the traced loss as an nn.Module (modeling.ts)
 *   DIR/train.py               rankfuse's training loop for torchrun (trainScript.ts)
 *   DIR/config.json            {"rankfuse": method, config, version; "train": batch shape and optimizer}
 *   DIR/weights.safetensors    the starting weights under rankfuse's param names (`blocks.0.q.A`, ...)
 *   DIR/data/train_batches.bin one global batch per step: ids then targets, int32 [batch, seq] each
 *   DIR/data/eval_batches.bin  the validation batches `rankfuse eval` averages, same layout
 *   DIR/checksums.json         the sha256 of each file above (train/exportFiles.ts)
 *
 * and the way back: `importTorchWeights` reads what train.py writes (OUT/weights.safetensors,
 * OUT/config.json and OUT/checksums.json) as rankfuse params.
 */
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderError } from "../../ir/errors.ts";

import type { LanguageModel } from "../../models/model.ts";
import type { Batch } from "../../train/batches.ts";
import { causeMessage, trainError, type TrainError } from "../../train/errors.ts";
import { decodeSafetensors, encodeSafetensors, type TensorInput } from "../../train/safetensors.ts";
import type { UpdateOptions } from "../../train/update.ts";
import type { MethodSource } from "../../methods/fromFile.ts";
import { methodRecord } from "../../methods/resolve.ts";
import { readModelFolder, type ImportedWeights } from "../../methods/exportWeights.ts";
import { CHECKSUMS, checkExportTarget, checksumsFile } from "../../train/exportFiles.ts";
import { modelingSource } from "./modeling.ts";
import { trainScriptSource } from "./trainScript.ts";

/** The weights file of a package, and of what its train.py writes. */
export const TORCH_WEIGHTS = "weights.safetensors";

/** rankfuse's version, from the nearest package.json above this file (sources or dist/): generated files say which version made them. */
export const RANKFUSE_VERSION: string = (() => {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "rankfuse" && pkg.version) return pkg.version;
    } catch {
      // no package.json here: look further up
    }
    if (path.dirname(dir) === dir) return "unknown";
  }
})();

/** The run a package's train.py repeats: its batch shape, length and optimizer. */
export interface TorchTrainSettings extends UpdateOptions {
  readonly steps: number;
  readonly batch: number;
  readonly seq: number;
  readonly seed: number;
}

/** Everything a package is written from. */
export interface TorchPackageInput {
  readonly model: LanguageModel;
  readonly params: readonly Float32Array[];
  /** The file the method came from, for a method of a user's own. */
  readonly source?: MethodSource;
  readonly settings: TorchTrainSettings;
  /** `settings.steps` batches of `settings.batch` × `settings.seq`, in training order. */
  readonly batches: readonly Batch[];
  readonly evalBatches: readonly Batch[];
  /** Write into a folder that already holds files of the package's names (they are replaced). */
  readonly force?: boolean;
}

const fail = (message: string) => E.left(trainError("CheckpointError", message));

/** The bytes of batches as the package stores them: for each, ids then targets, int32 little-endian. */
function batchBytes(batches: readonly Batch[]): Uint8Array {
  const n = batches.reduce((s, b) => s + b.inputs.length + b.targets.length, 0);
  const out = new Int32Array(n);
  let at = 0;
  for (const b of batches) {
    out.set(b.inputs, at);
    out.set(b.targets, at + b.inputs.length);
    at += b.inputs.length + b.targets.length;
  }
  return new Uint8Array(out.buffer);
}

/** The package's config.json. */
function packageConfig(i: TorchPackageInput): Record<string, unknown> {
  const { steps, batch, seq, seed, lr, warmupSteps, minLrRatio, weightDecay, clip } = i.settings;
  return {
    rankfuse: { version: RANKFUSE_VERSION, ...methodRecord(i.model, i.source), config: i.model.config },
    train: { steps, batch, seq, seed, lr, warmupSteps, minLrRatio, weightDecay, clip, betas: [0.9, 0.999], eps: 1e-8 },
    frozen: i.model.layout.names.filter((_, k) => i.model.frozen?.[k]),
  };
}

/** The files a package writes, relative to its folder. */
export const TORCH_FILES = [
  "modeling.py",
  "train.py",
  "config.json",
  TORCH_WEIGHTS,
  "data/train_batches.bin",
  "data/eval_batches.bin",
  CHECKSUMS,
] as const;

/**
 * Refuses a folder that cannot be written, or one that already holds files of the package's names
 * (naming them) unless `force`; creates it (empty) where it does not exist. `writeTorchPackage` checks
 * too; a command calls this first to fail before it loads data.
 */
export function checkTorchTarget(dir: string, force: boolean): E.Either<TrainError, void> {
  const ok = checkExportTarget(dir, TORCH_FILES, force);
  if (E.isLeft(ok)) return fail(ok.left);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    return fail(`cannot write to ${dir}: ${causeMessage(e)}`);
  }
  return E.right(undefined);
}

/** Writes the package into `dir`; gives the paths written. */
export function writeTorchPackage(dir: string, i: TorchPackageInput): E.Either<TrainError, string[]> {
  const { settings: s } = i;
  if (i.batches.length !== s.steps)
    throw new Error(`writeTorchPackage: ${i.batches.length} batches for ${s.steps} steps`);
  const provenance = { version: RANKFUSE_VERSION, method: i.source?.path ?? i.model.method };
  const modeling = modelingSource(i.model, provenance, { batch: s.batch, seq: s.seq });
  if (E.isLeft(modeling)) return fail(`cannot write ${i.model.method} as PyTorch: ${renderError(modeling.left)}`);
  const ok = checkTorchTarget(dir, !!i.force);
  if (E.isLeft(ok)) return ok;
  const tensors: Record<string, TensorInput> = {};
  i.model.layout.names.forEach((n, k) => {
    tensors[n] = { dtype: "F32", shape: [...i.model.layout.shapes[k]!], data: i.params[k]! };
  });
  const files: [(typeof TORCH_FILES)[number], string | Uint8Array][] = [
    ["modeling.py", modeling.right],
    ["train.py", trainScriptSource(provenance)],
    ["config.json", JSON.stringify(packageConfig(i), null, 2) + "\n"],
    [TORCH_WEIGHTS, encodeSafetensors(tensors, { format: "pt", producer: `rankfuse ${RANKFUSE_VERSION}` })],
    ["data/train_batches.bin", batchBytes(i.batches)],
    ["data/eval_batches.bin", batchBytes(i.evalBatches)],
  ];
  files.push([CHECKSUMS, checksumsFile(Object.fromEntries(files))]);
  try {
    fs.mkdirSync(path.join(dir, "data"), { recursive: true });
    for (const [name, body] of files) fs.writeFileSync(path.join(dir, name), body);
  } catch (e) {
    return fail(`cannot write to ${dir}: ${causeMessage(e)}`);
  }
  return E.right(files.map(([name]) => path.join(dir, name)));
}

/** Is `dir` a package, or the output of its train.py (a config.json with "rankfuse" and "train", and weights)? */
export const isTorchPackage = (dir: string): boolean =>
  fs.existsSync(path.join(dir, TORCH_WEIGHTS)) && fs.existsSync(path.join(dir, "config.json"));

/**
 * The model and params of a package or of its train.py's output: config.json's "rankfuse" section
 * rebuilds the model (a method from a file is imported again, refused where it changed), and the
 * weights are read by rankfuse's param names. Both files are verified against checksums.json (which
 * export and train.py write); a folder without one is read with a note.
 */
export async function importTorchWeights(dir: string): Promise<E.Either<TrainError, ImportedWeights>> {
  const bad = (m: string) => E.left(trainError("SafetensorsError", m));
  const folder = await readModelFolder(dir, TORCH_WEIGHTS, "PyTorch weights");
  if (E.isLeft(folder)) return folder;
  const { bytes } = folder.right;
  const st = decodeSafetensors(bytes);
  if (E.isLeft(st)) return st;
  const params: Float32Array[] = [];
  for (const [k, name] of folder.right.model.layout.names.entries()) {
    const t = st.right.tensors[name];
    const shape = folder.right.model.layout.shapes[k]!;
    if (!t) return bad(`${dir}/${TORCH_WEIGHTS} has no tensor ${name}`);
    if (t.dtype !== "F32" || t.shape.join(",") !== shape.join(","))
      return bad(`${dir}/${TORCH_WEIGHTS}: ${name} is ${t.dtype}[${t.shape}], expected F32[${shape}]`);
    params.push(t.data as Float32Array);
  }
  const { note } = folder.right;
  return E.right({ model: folder.right.model, params, ...(note && { note }) });
}
