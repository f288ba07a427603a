/**
 * "rankfuse/models": configs, parameter declarations, layers and the decoder, as pure functions over
 * the DSL with no training concepts. The per-method models are "rankfuse/methods".
 */
export { CONFIGS, resolveConfig, type ModelConfig, type ConfigOverrides } from "./models/config.ts";
export { linear, colaLinear, type Activation, type ColaParams } from "./models/layers.ts";
export {
  param,
  normal,
  ONES,
  ParamDecl,
  layoutOf,
  initParams,
  specLeaves,
  type Init,
  type ParamLayout,
} from "./models/params.ts";
export {
  attention,
  mlp,
  decoderLogits,
  decoderLoss,
  type BlockParams,
  type DecoderParams,
  type DecoderOptions,
  type DModel,
  type DFF,
  type Vocab,
} from "./models/transformer.ts";
export {
  type Projection,
  type WeightKind,
  type Weights,
  type DenseWeights,
  type ColaWeights,
} from "./models/projection.ts";
export {
  assembleModel,
  declare,
  declareDecoder,
  dense,
  cola,
  denseProj,
  colaProj,
  colaStd,
  trainableParams,
  type LanguageModel,
  type ModelParts,
  type ParamCounts,
  type Decl,
} from "./models/model.ts";
