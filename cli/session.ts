import * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../ir/backend.ts";
import type { TrainableModel } from "../train/scheme.ts";
import { nativeHostKernels } from "../backends/native/hostKernels.ts";
import type { LoadedData } from "../train/data.ts";
import { train, type TrainResult } from "../train/loop.ts";
import { createProgress } from "../train/progress.ts";
import type { RunError } from "../train/errors.ts";
import type { OptionWording } from "../train/wording.ts";
import { methodRecord } from "../methods/resolve.ts";
import type { MethodSource } from "../methods/fromFile.ts";
import type { RunSettings } from "./trainFlags.ts";

/** The loop's suggestions in flag terms. */
const CLI_WORDING: OptionWording = {
  resume: "pass --resume",
  outDir: "--out",
  lr: "--lr",
  clip: "--clip",
  skipNonFinite: "--skip-nonfinite",
};

/**
 * One training run as the CLI does it: progress on stderr, Ctrl-C checkpoints and stops. The checkpoint's
 * fingerprint records the method (and, for a method from a file, the file's path and content hash).
 */
export async function runTraining(
  model: TrainableModel,
  backend: Backend<any>,
  data: LoadedData,
  s: RunSettings,
  opts: { outDir?: string; resume: boolean; label: string; source?: MethodSource },
): Promise<E.Either<RunError, TrainResult>> {
  const stop = new AbortController();
  const onSigint = () => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write(
      `\n${opts.label}: stopping after this step${opts.outDir ? " and writing a checkpoint" : ""} (Ctrl-C again to quit at once)\n`,
    );
    stop.abort();
  };
  // SIGTERM (a scheduler's preemption, `kill`) stops the same way: nothing trained is lost
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  try {
    // the native engine's optimizer loops, where its addon loads, whatever the backend (bit-identical to JavaScript)
    const host = nativeHostKernels();
    return await train(model, backend, data, {
      ...s,
      hostKernels: E.isRight(host) ? host.right : undefined,
      outDir: opts.outDir,
      resume: opts.resume,
      signal: stop.signal,
      wording: CLI_WORDING,
      progress: createProgress({ total: s.steps, label: opts.label }),
      fingerprint: {
        ...methodRecord(model, opts.source),
        config: model.config,
        backend: backend.name,
        corpus: data.fingerprint,
        tokenizer: data.tokenizer.name,
        batch: s.batch,
        seq: s.seq,
        steps: s.steps,
        lr: s.lr,
        warmupSteps: s.warmupSteps,
        minLrRatio: s.minLrRatio,
        weightDecay: s.weightDecay,
        clip: s.clip,
        seed: s.seed,
      },
    });
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
}
