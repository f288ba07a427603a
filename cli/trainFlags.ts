import * as E from "fp-ts/lib/Either.js";
import { renderError } from "../ir/errors.ts";
import { resolveConfig, type ModelConfig } from "../models/config.ts";
import { intFlag, numFlag, UsageError, type Options } from "./args.ts";
import type { TrainOptions } from "../train/loop.ts";
import { defaultWarmupSteps, UPDATE_DEFAULTS } from "../train/update.ts";

/** Flags shared by train, compare and inspect: the model, the data and the optimisation. */
export const MODEL_FLAGS = {
  config: { type: "string" },
  rank: { type: "string" },
  width: { type: "string" },
  layers: { type: "string" },
  heads: { type: "string" },
  ff: { type: "string" },
  vocab: { type: "string" },
  "only-lr-act": { type: "string" },
} as const satisfies Options;

export const RUN_FLAGS = {
  ...MODEL_FLAGS,
  backend: { type: "string" },
  data: { type: "string" },
  tokenizer: { type: "string" },
  "text-field": { type: "string" },
  batch: { type: "string" },
  seq: { type: "string" },
  steps: { type: "string" },
  tokens: { type: "string" },
  lr: { type: "string" },
  warmup: { type: "string" },
  "min-lr-ratio": { type: "string" },
  "weight-decay": { type: "string" },
  clip: { type: "string" },
  seed: { type: "string" },
  "eval-every": { type: "string" },
  "eval-batches": { type: "string" },
  "checkpoint-every": { type: "string" },
  "skip-nonfinite": { type: "string" },
  out: { type: "string" },
  resume: { type: "boolean" },
  "no-memory-check": { type: "boolean" },
} as const satisfies Options;

export const MODEL_HELP = `model:
  --config NAME        tiny | small | 60m | 130m | 350m | 1b | 7b (default tiny)
  --rank R             CoLA rank (default from the config: d/4)
  --width D --layers L --heads H --ff F --vocab V   override the config's sizes
  --only-lr-act BOOL   CoLA MLP without the extra SiLU on the gate (default from the config)`;

/** The help line of a run's single `--lr` (compare replaces it with its list of rates). */
export const LR_HELP = `  --lr X               peak learning rate (default ${UPDATE_DEFAULTS.lr})`;

export const RUN_HELP = `data:
  --data PATH          a .txt/.md, .jsonl(.gz) or .parquet file, a directory of them, or a folder
                       written by \`rankfuse prepare --out\` (default: the shipped Gutenberg books);
                       tokenized once into the cache (see \`rankfuse prepare --help\`)
  --tokenizer NAME     bytes | llama2 (default bytes)
  --text-field F       JSON field or parquet column with the text (default "text")
training:
  --backend NAME       auto | wasm | cpu | reference (default auto; or RANKFUSE_BACKEND)
  --batch B --seq T    sequences per step and their length (default from the config)
  --steps N            optimizer steps, or --tokens N training tokens (default 200 steps)
${LR_HELP}
  --warmup N           warmup steps (default 10% of steps)
  --min-lr-ratio X     cosine floor as a fraction of lr (default ${UPDATE_DEFAULTS.minLrRatio})
  --weight-decay X     AdamW decoupled weight decay (default ${UPDATE_DEFAULTS.weightDecay})
  --clip X             global gradient-norm clip, 0 = off (default ${UPDATE_DEFAULTS.clip})
  --seed N             init and data order (default 0)
  --eval-every N       validate every N steps (default: 5 times a run)
  --eval-batches N     validation batches (default 8)
  --out DIR            write checkpoint.safetensors and metrics.jsonl here
  --checkpoint-every N checkpoint every N steps (default: at the end and on Ctrl-C)
  --resume             continue the checkpoint in --out
  --no-memory-check    train even when the step's predicted peak memory exceeds the free memory
                       (or RANKFUSE_NO_MEMORY_CHECK=1)
  --skip-nonfinite N   skip up to N batches whose loss, gradient norm or update is not finite, then stop
                       (default 0: stop at the first; see the README's "Divergence")`;

type Values = Record<string, string | boolean | undefined>;
const str = (v: Values, k: string) => v[k] as string | undefined;

export function modelConfigFrom(v: Values): ModelConfig {
  const lrAct = str(v, "only-lr-act");
  if (lrAct !== undefined && lrAct !== "true" && lrAct !== "false")
    throw new UsageError(`--only-lr-act must be true or false, got "${lrAct}"`);
  const opt = (k: string, name: string) => (str(v, k) === undefined ? undefined : intFlag(str(v, k), name, 0));
  const cfg = resolveConfig(str(v, "config") ?? "tiny", {
    rank: opt("rank", "rank"),
    d: opt("width", "width"),
    layers: opt("layers", "layers"),
    heads: opt("heads", "heads"),
    dFF: opt("ff", "ff"),
    vocab: opt("vocab", "vocab"),
    onlyLrAct: lrAct === undefined ? undefined : lrAct === "true",
  });
  if (E.isLeft(cfg)) throw new UsageError(renderError(cfg.left));
  return cfg.right;
}

/** The optimisation part of a run's options, as the flags give it. */
export type RunSettings = Pick<
  TrainOptions,
  | "batch"
  | "seq"
  | "steps"
  | "lr"
  | "warmupSteps"
  | "minLrRatio"
  | "weightDecay"
  | "clip"
  | "seed"
  | "evalEvery"
  | "evalBatches"
  | "checkpointEvery"
  | "skipNonFinite"
>;

export function runSettingsFrom(v: Values, cfg: ModelConfig): RunSettings {
  const batch = intFlag(str(v, "batch"), "batch", cfg.batch);
  const seq = intFlag(str(v, "seq"), "seq", cfg.seq);
  if (str(v, "steps") !== undefined && str(v, "tokens") !== undefined)
    throw new UsageError("give --steps or --tokens, not both");
  const tokens = str(v, "tokens") === undefined ? undefined : intFlag(str(v, "tokens"), "tokens", 1);
  const steps =
    tokens !== undefined ? Math.max(1, Math.ceil(tokens / (batch * seq))) : intFlag(str(v, "steps"), "steps", 200);
  const lr = numFlag(str(v, "lr"), "lr", UPDATE_DEFAULTS.lr);
  if (!(lr > 0)) throw new UsageError(`--lr must be positive, got ${lr}`);
  return {
    batch,
    seq,
    steps,
    lr,
    warmupSteps: intFlag(str(v, "warmup"), "warmup", defaultWarmupSteps(steps), 0),
    minLrRatio: numFlag(str(v, "min-lr-ratio"), "min-lr-ratio", UPDATE_DEFAULTS.minLrRatio),
    weightDecay: numFlag(str(v, "weight-decay"), "weight-decay", UPDATE_DEFAULTS.weightDecay),
    clip: numFlag(str(v, "clip"), "clip", UPDATE_DEFAULTS.clip),
    seed: intFlag(str(v, "seed"), "seed", 0, 0),
    evalEvery: intFlag(str(v, "eval-every"), "eval-every", Math.max(1, Math.ceil(steps / 5)), 0),
    evalBatches: intFlag(str(v, "eval-batches"), "eval-batches", 8),
    checkpointEvery: intFlag(str(v, "checkpoint-every"), "checkpoint-every", 0, 0),
    skipNonFinite: intFlag(str(v, "skip-nonfinite"), "skip-nonfinite", 0, 0),
  };
}
