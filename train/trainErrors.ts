import { renderError, type RankfuseError } from "../ir/errors.ts";
import { renderTrainError, type TrainError } from "./errors.ts";

/** Errors of a training run: from compiling and running (RankfuseError) or from data and files (TrainError). */
export type RunError = RankfuseError | TrainError;

const trainTags = new Set(["DataError", "CheckpointError", "TokenizerError", "SafetensorsError"]);
/** One readable line for a RunError. */
export const renderRunError = (e: RunError): string => (trainTags.has(e.tag) ? renderTrainError(e as TrainError) : renderError(e as RankfuseError));
