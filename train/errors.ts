/**
 * The error values returned (never thrown) by the training-data and
 * checkpoint modules. A tagged record keeps `Either` results cheap to build
 * and easy to match on, and `renderTrainError` turns one into a CLI line.
 */
export type TrainErrorTag = "DataError" | "CheckpointError" | "TokenizerError" | "SafetensorsError";

/** An error of data, tokenizers, checkpoints or safetensors. */
export type TrainError = { tag: TrainErrorTag; message: string };

export const trainError = (tag: TrainErrorTag, message: string): TrainError => ({ tag, message });

/** One readable line: multi-line messages are folded so logs stay greppable. */
export const renderTrainError = (e: TrainError): string =>
  `${e.tag}: ${e.message.replace(/\s*\n\s*/g, " ")}`;

/** The message of anything caught, for wrapping Node I/O failures into a TrainError. */
export const causeMessage = (cause: unknown): string =>
  cause instanceof Error ? cause.message : String(cause);
