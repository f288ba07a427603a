/**
 * "rankfuse/train": the training loop and its parts (compiled steps, the training state with its on-backend update, schedule,
 * training schemes), data and tokenizers, evaluation, checkpoints and safetensors.
 */
export { train, type TrainOptions, type TrainData, type TrainResult } from "./train/loop.ts";
export { API_WORDING, type OptionWording } from "./train/wording.ts";
export { compileTrainStep, compileEvalStep, planTrainStep, type TrainStep, type EvalStep } from "./train/step.ts";
export { evaluate, type EvalResult } from "./train/evaluate.ts";
export { AdamMoments, type AdamState } from "./train/adamMoments.ts";
export {
  TrainState,
  type TrainStateOptions,
  type TrainStateStart,
  type StepReport,
  type HostState,
  type Transfers,
} from "./train/trainState.ts";
export { updateStep, ADAM_DEFAULTS, type AdamConstants, type StepRoles } from "./train/updateStep.ts";
export { warmupCosine, type WarmupCosineOptions } from "./train/schedule.ts";
export {
  EMPTY_SCHEME_STATE,
  type TrainingScheme,
  type TrainableModel,
  type SchemeContext,
  type SchemeUpdateContext,
  type HostNeed,
  type SchemeState,
  type SchemeOptions,
} from "./train/scheme.ts";
export { UPDATE_DEFAULTS, defaultWarmupSteps, constantLr, type UpdateOptions } from "./train/update.ts";
export { loadData, type LoadedData } from "./train/data.ts";
export { loadCorpus, type Corpus, type CorpusOptions } from "./train/corpus.ts";
export {
  byteTokenizer,
  tokenizerByName,
  tokenizerNames,
  type Tokenizer,
  type TokenizerName,
} from "./train/tokenizer.ts";
export { BatchSampler, evalWindows, type Batch, type SamplerOptions } from "./train/batches.ts";
export { saveCheckpoint, loadCheckpoint, type Checkpoint } from "./train/checkpoint.ts";
export { encodeSafetensors, decodeSafetensors, type Safetensors, type TensorInput } from "./train/safetensors.ts";
export { renderTrainError, renderRunError, type TrainError, type RunError } from "./train/errors.ts";
