/**
 * The error values returned (never thrown) by the training-data and
 * checkpoint modules. A tagged record keeps `Either` results cheap to build
 * and easy to match on, and `renderTrainError` turns one into a CLI line.
 * `RunError` adds the compile and run errors of ir/errors.ts, for whole training runs.
 */
import { renderError, type RankfuseError } from "../ir/errors.ts";

/** The tags a TrainError can carry. */
const TRAIN_ERROR_TAGS = [
  "DataError",
  "CheckpointError",
  "TokenizerError",
  "SafetensorsError",
  "DivergenceError",
] as const;

/** What went wrong in data, tokenizer, checkpoint or safetensors handling, or a run that diverged. */
export type TrainErrorTag = (typeof TRAIN_ERROR_TAGS)[number];

/** An error from data and files: its tag and a message for the user. */
export type TrainError = { tag: TrainErrorTag; message: string };

/** Builds a TrainError. */
export const trainError = (tag: TrainErrorTag, message: string): TrainError => ({ tag, message });

/** One readable line: multi-line messages are folded so logs stay greppable. */
export const renderTrainError = (e: TrainError): string => `${e.tag}: ${e.message.replace(/\s*\n\s*/g, " ")}`;

/** The message of anything caught, for wrapping Node I/O failures into a TrainError. */
export const causeMessage = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause));

/** Errors of a training run: from compiling and running (RankfuseError) or from data and files (TrainError). */
export type RunError = RankfuseError | TrainError;

const trainTags: ReadonlySet<string> = new Set(TRAIN_ERROR_TAGS);

/** One readable line for either kind of run error. */
export const renderRunError = (e: RunError): string =>
  trainTags.has(e.tag) ? renderTrainError(e as TrainError) : renderError(e as RankfuseError);
