/** The public DSL: dims, specs, ops, tracing, autodiff and compilation. */
export { dim, anon, type Dim, type Shape } from "../ir/dim.ts";
export { spec, TensorSpec, type TensorsOf } from "./spec.ts";
export { Tensor } from "./trace.ts";
export * from "./ops.ts";
export { valueAndGrad, grad } from "./autodiff.ts";
export { compile, trace, type Compiled } from "../run/compile.ts";
export { Graph } from "../ir/graph.ts";
export { renderError, type RankfuseError } from "../ir/errors.ts";
export type { ShapeError } from "../ir/shapeTypes.ts";
export { PRIMS, type Prim } from "../ir/prims.ts";
