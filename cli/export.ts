import * as E from "fp-ts/lib/Either.js";
import { renderError } from "../ir/errors.ts";
import { EXPORT_FILES, exportWeights } from "../methods/exportWeights.ts";
import { checkExportTarget } from "../train/exportFiles.ts";
import { mergeDense } from "../methods/mergeDense.ts";
import { METHODS } from "../methods/index.ts";
import { resolveModel } from "../methods/resolve.ts";
import { checkTorchTarget, writeTorchPackage } from "../export/torch/package.ts";
import { BatchSampler, evalWindows, type Batch } from "../train/batches.ts";
import { loadData } from "../train/data.ts";
import { renderRunError } from "../train/errors.ts";
import { aliasedFlag, intFlag, parseFlags, UsageError, type Options } from "./args.ts";
import { loadWeights, type LoadedWeights } from "./runDir.ts";
import { checkOutDir, tokenizerFor } from "./preflight.ts";
import { describeNonFinite, nonFiniteWeights } from "../train/divergence.ts";
import { MODEL_FLAGS, MODEL_HELP, modelConfigFrom, RUN_FLAGS, runSettingsFrom } from "./trainFlags.ts";

const HELP = `rankfuse export: write a run's weights as model.safetensors + config.json (Hugging Face LLaMA names;
see the README for the layout), or a model as a PyTorch package for torchrun

  --run DIR            a training run folder (its checkpoint.safetensors)
  --to DIR             where to write the weights export
  --merge              with --to: the model as a dense LlamaForCausalLM (each projection multiplied
                       out: W + (α/r)·A·B, U·diag(Σ)·Vᵀ, ...); refused for a method whose function is
                       not a dense LLaMA (CoLA's SiLU between its factors, CR-Net's recurrence)

  --torch DIR          write a PyTorch package instead: modeling.py (the traced model, one torch op per
                       rankfuse primitive), train.py (DDP over torchrun, or --fsdp; rankfuse's AdamW,
                       clipping, warmup + cosine and data order), config.json, weights.safetensors and
                       the batches of --steps steps (data/). Starts from --run DIR's weights, or from a
                       fresh --method NAME initialised with --seed
  --method NAME        ${METHODS.join(" | ")}, or ./my-method.ts (with --torch, instead of --run)
  --force              overwrite files of the export's names (model.safetensors, config.json,
                       checksums.json; a package's files) already in the target folder, which is
                       refused without it. Every export writes checksums.json (the sha256 of each
                       file), which eval --weights verifies
  --allow-nonfinite    write weights that are NaN or infinite somewhere (refused otherwise)
${MODEL_HELP}
the run train.py repeats (as \`rankfuse train\` with the same flags):
  --data PATH --tokenizer NAME   the text (default: the shipped Gutenberg books, bytes)
  --batch B --seq T    global batch (split over the ranks) and sequence length (default from the config)
  --steps N            steps (default 200), or --tokens N
  --lr X --warmup N --min-lr-ratio X --weight-decay X --clip X --seed N   as rankfuse train
  --eval-batches N     validation batches train.py averages at the end (default 8)`;

/** The train flags `export --torch` takes for the run train.py repeats. */
export const TRAIN_KEYS = [
  "data",
  "tokenizer",
  "batch",
  "seq",
  "steps",
  "tokens",
  "lr",
  "warmup",
  "min-lr-ratio",
  "weight-decay",
  "clip",
  "seed",
  "eval-batches",
] as const;
const FLAGS = {
  ...MODEL_FLAGS,
  ...Object.fromEntries(TRAIN_KEYS.map((k) => [k, RUN_FLAGS[k]])),
  run: { type: "string" },
  to: { type: "string" },
  torch: { type: "string" },
  method: { type: "string" },
  model: { type: "string" },
  force: { type: "boolean" },
  merge: { type: "boolean" },
  "allow-nonfinite": { type: "boolean" },
} as const satisfies Options;

/** One line refusing a run's non-finite weights, unless --allow-nonfinite; undefined when they may be written. */
function refuseNonFinite(values: Record<string, unknown>, w: LoadedWeights): string | undefined {
  const bad = values["allow-nonfinite"] ? undefined : nonFiniteWeights(w.model.layout.names, w.params);
  return (
    bad &&
    `the weights are not finite: ${describeNonFinite(bad)} (the run diverged); --allow-nonfinite writes them anyway`
  );
}

/** `rankfuse export`: a run's weights in Hugging Face naming (--to), or a PyTorch package (--torch). */
export async function exportCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS as typeof FLAGS & Record<(typeof TRAIN_KEYS)[number], { type: "string" }>);
  if (values.help) return (console.log(HELP), 0);
  if (values.torch !== undefined) return torchExport(values);
  if (!values.to) throw new UsageError("--to DIR (a weights export) or --torch DIR (a PyTorch package) is required");
  checkOutDir(values.to, "to");
  // before anything is loaded or merged; exportWeights checks again as it writes
  const target = checkExportTarget(values.to, EXPORT_FILES, !!values.force);
  if (E.isLeft(target)) throw new UsageError(target.left);
  const w = await loadWeights({ run: values.run });
  if (E.isLeft(w)) throw new UsageError(renderRunError(w.left));
  const refused = refuseNonFinite(values, w.right);
  if (refused) return (console.error(`rankfuse export: ${refused}`), 1);
  const { model, params, source, step } = w.right;
  let what = `${model.method} ${model.config.name}`;
  let out = { model, params, source };
  if (values.merge) {
    const merged = await mergeDense(model, params);
    if (E.isLeft(merged)) return (console.error(`rankfuse export --merge: ${merged.left}`), 1);
    out = { ...merged.right, source: undefined };
    what = `${model.method} ${model.config.name} merged into a dense LLaMA`;
  }
  const r = exportWeights(values.to, out.model, out.params, out.source, { force: !!values.force });
  if (E.isLeft(r)) return (console.error(`rankfuse export: ${renderRunError(r.left)}`), 1);
  console.log(`wrote ${r.right}, config.json and checksums.json (${what}, step ${step})`);
  return 0;
}

type Values = Record<string, string | boolean | undefined>;

async function torchExport(values: Values): Promise<number> {
  const dir = values.torch as string;
  if (!dir) throw new UsageError("--torch needs a folder");
  checkOutDir(dir, "torch");
  if (values.merge) throw new UsageError("--merge applies to --to (a weights export), not --torch");
  if (values.to) throw new UsageError("give --to DIR (weights) or --torch DIR (a PyTorch package), not both");
  const method = aliasedFlag(values, "method", "model");
  if (values.run && method) throw new UsageError("give --run DIR or --method NAME, not both");
  if (!values.run && !method) throw new UsageError("--torch needs --run DIR (trained weights) or --method NAME");
  let w: LoadedWeights;
  if (values.run) {
    const modelFlags = Object.keys(MODEL_FLAGS).filter((k) => values[k] !== undefined);
    if (modelFlags.length)
      throw new UsageError(`--${modelFlags[0]} does not apply to --run (the run's checkpoint has its model)`);
    const loaded = await loadWeights({ run: values.run as string });
    if (E.isLeft(loaded)) throw new UsageError(renderRunError(loaded.left));
    const refused = refuseNonFinite(values, loaded.right);
    if (refused) return (console.error(`rankfuse export: ${refused}`), 1);
    w = loaded.right;
  } else {
    const cfg = modelConfigFrom(values);
    const m = await resolveModel(method!, cfg);
    if (E.isLeft(m)) throw new UsageError(renderError(m.left));
    const seed = intFlag(values.seed as string | undefined, "seed", 0, 0);
    w = { model: m.right.model, params: m.right.model.init(seed), tokenizer: "bytes", source: m.right.source };
  }
  const { model } = w;
  const settings = runSettingsFrom(values, model.config);
  const target = checkTorchTarget(dir, !!values.force);
  if (E.isLeft(target)) throw new UsageError(target.left.message);
  const tokenizer = (await tokenizerFor((values.tokenizer as string | undefined) ?? w.tokenizer, model)).name;
  const data = await loadData({
    data: values.data as string | undefined,
    tokenizer,
    textField: values["text-field"] as string | undefined,
  });
  if (E.isLeft(data)) throw new UsageError(renderRunError(data.left));
  const sampler = BatchSampler.create(data.right.train, {
    seqLen: settings.seq,
    batch: settings.batch,
    seed: settings.seed,
  });
  if (E.isLeft(sampler)) throw new UsageError(renderRunError(sampler.left));
  const batches: Batch[] = Array.from({ length: settings.steps }, () => sampler.right.next());
  const evals = evalWindows(data.right.val, settings.seq, settings.batch, settings.evalBatches);
  if (E.isLeft(evals)) throw new UsageError(renderRunError(evals.left));
  const r = writeTorchPackage(dir, {
    model,
    params: w.params,
    source: w.source,
    settings,
    batches,
    evalBatches: evals.right,
    force: !!values.force,
  });
  if (E.isLeft(r)) throw new UsageError(r.left.message);
  const scheme = (model as { scheme?: unknown }).scheme;
  if (scheme)
    console.error(
      `note: ${model.method}'s training scheme runs around AdamW in rankfuse and is not part of train.py, which trains every param that is not frozen with plain AdamW (see the README's "Scaling out")`,
    );
  console.log(
    `wrote a PyTorch package of ${model.method} ${model.config.name} to ${dir}: ${settings.steps} steps of ${settings.batch}x${settings.seq} tokens on ${data.right.corpus}; run it with: torchrun --nproc_per_node=N ${dir}/train.py`,
  );
  return 0;
}
