/**
 * "rankfuse/methods": every training method by name (`makeModel`, `METHODS`), each method's own
 * constructor with its options, methods from the user's own files, and weight export/import in
 * Hugging Face's layout.
 */
export { makeModel, findMethod, METHODS, METHOD_LIST, type Method } from "./methods/index.ts";
export { buildModel } from "./methods/method.ts";
export { loadMethodFile, isMethodPath, type MethodSource, type FileMethod } from "./methods/fromFile.ts";
export { resolveMethod, type ResolvedMethod } from "./methods/resolve.ts";
export type { TrainableModel } from "./train/scheme.ts";
export { makeCrnet } from "./methods/crnet/model.ts";
export { crnetRemat, crnetInversion } from "./methods/crnet/remat.ts";
export { makeRelora } from "./methods/relora/model.ts";
export type { ReloraOptions } from "./methods/relora/scheme.ts";
export { makeDynamic } from "./methods/dynamic/model.ts";
export type { DynamicOptions } from "./methods/dynamic/scheme.ts";
export { makeFira, type FiraSettings } from "./methods/fira/model.ts";
export { makeSst, type SstSettings } from "./methods/sst/model.ts";
export { makeStructuredFfn, type StructuredFfnOptions } from "./methods/structuredFfn/model.ts";
export type { StructuredKind } from "./methods/structuredFfn/layers.ts";
export { exportWeights, importWeights } from "./methods/exportWeights.ts";
export { mergeDense, nonlinearity, type Merged } from "./methods/mergeDense.ts";
export { LLAMA_EXPORT, DEFAULT_EXPORT, loraExport, type ExportSpec } from "./methods/exportSpec.ts";
