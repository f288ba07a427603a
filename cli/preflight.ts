/**
 * Checks a command makes before any work, each a UsageError (one line, exit code 2): the output folder
 * is writable, the model's vocabulary holds the tokenizer's ids, the text has a window of the batch, and
 * the training step fits in this machine's free memory.
 */
import fs from "node:fs";
import os from "node:os";
import * as E from "fp-ts/lib/Either.js";
import { renderError } from "../ir/errors.ts";
import { trainableParams, type LanguageModel } from "../models/model.ts";
import { BatchSampler, evalWindows } from "../train/batches.ts";
import { renderRunError } from "../train/errors.ts";
import type { TrainData } from "../train/loop.ts";
import { tokenizerByName, type Tokenizer } from "../train/tokenizer.ts";
import { planUpdateStep } from "../train/updateStep.ts";
import { outDirProblem } from "../util/outDir.ts";
import { formatNumber } from "../util/format.ts";
import { UsageError } from "./args.ts";

/** `--out DIR` (or another output flag) names a folder that exists or can be made, and can be written. */
export function checkOutDir(dir: string | undefined, flag = "out"): void {
  if (dir === undefined) return;
  const problem = outDirProblem(dir);
  if (problem) throw new UsageError(`--${flag} ${problem}`);
}

/** The tokenizer by name, refused when the model's vocabulary is smaller than the tokenizer's ids. */
export async function tokenizerFor(name: string | undefined, m: LanguageModel): Promise<Tokenizer> {
  const tok = await tokenizerByName(name ?? "bytes");
  if (E.isLeft(tok)) throw new UsageError(renderRunError(tok.left));
  const { vocab, name: config } = m.config;
  if (vocab < tok.right.vocabSize)
    throw new UsageError(
      `the model's vocabulary (${vocab}, config ${config}) is smaller than the ${tok.right.name} tokenizer's ${tok.right.vocabSize} tokens: give --vocab ${tok.right.vocabSize} or more, or another --tokenizer`,
    );
  return tok.right;
}

/** The text has at least one training window and one validation batch of the run's shape. */
export function checkDataFits(
  data: TrainData,
  s: { batch: number; seq: number; seed: number; evalBatches: number },
): void {
  const train = BatchSampler.create(data.train, { seqLen: s.seq, batch: s.batch, seed: s.seed });
  if (E.isLeft(train))
    throw new UsageError(`the training text is too short for --seq ${s.seq}: ${renderRunError(train.left)}`);
  const val = evalWindows(data.val, s.seq, s.batch, 1);
  if (E.isLeft(val))
    throw new UsageError(
      `the validation text is too short for --batch ${s.batch} --seq ${s.seq}: ${renderRunError(val.left)}`,
    );
}

/** The environment variable that turns the memory check off (as --no-memory-check does). */
export const NO_MEMORY_CHECK_ENV = "RANKFUSE_NO_MEMORY_CHECK";

const readNumber = (file: string): number | undefined => {
  try {
    const n = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
};

/** Bytes this process may still allocate: the OS's available memory, or less under a cgroup's limit. */
export function freeMemoryBytes(): number {
  let free = os.freemem();
  for (const [limit, used] of [
    ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"],
    ["/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"],
  ] as const) {
    const l = readNumber(limit),
      u = readNumber(used);
    if (l !== undefined && u !== undefined && l < 2 ** 60) free = Math.min(free, Math.max(0, l - u));
  }
  return free;
}

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(bytes < 1e10 ? 1 : 0)} GB`;

/**
 * Refuses a run whose training step cannot fit in `freeBytes` (default: this machine's free memory) before
 * anything is allocated. First a lower bound from the parameter count alone (params, gradients and both
 * AdamW moments, 16 bytes per trainable param, and the logits), which refuses a 7B model in
 * milliseconds; then the plan's predicted peak of the whole step (params and moments included) plus the
 * host's copy of the initial params.
 */
export function checkMemory(
  m: LanguageModel,
  batch: number,
  seq: number,
  o: { skip?: boolean; freeBytes?: number } = {},
): void {
  if (o.skip || process.env[NO_MEMORY_CHECK_ENV] === "1") return;
  const free = o.freeBytes ?? freeMemoryBytes();
  const params = m.counts.total,
    trainable = trainableParams(m);
  const refuse = (needs: number, what: string) => {
    throw new UsageError(
      `${m.method} ${m.config.name} (${formatNumber(params)} params, d ${m.config.d}, ${m.config.layers} layers) at batch ${batch} x seq ${seq} needs ${gb(needs)}, this machine has ${gb(free)} free (${what}; --no-memory-check or ${NO_MEMORY_CHECK_ENV}=1 to try anyway)`,
    );
  };
  const logits = 4 * batch * seq * m.config.vocab;
  const lowerBound = 4 * params + 12 * trainable + logits;
  if (lowerBound > free)
    refuse(lowerBound, `at least: params, gradients and two AdamW moments at 4 bytes each, and the logits`);
  const plan = planUpdateStep(m, batch, seq);
  if (E.isLeft(plan)) throw new UsageError(renderError(plan.left));
  const needs = plan.right.predictedPeakBytes + 4 * params;
  if (needs > free) refuse(needs, "the plan's predicted peak of one training step with params and moments");
}
